"""Ids and text from case-system exports, made safe for where the reports put them.

Case and unit ids come from exports and are treated as hostile: they may hold a slash, a
newline, a pipe, a right-to-left override, a Windows device name or a personal number.

- File names (`draft_stem`, `unit_stem`): distinct ids never share a file name, also on
  a case-insensitive file system (Windows, macOS), and every name is safe on Windows.
  An id that is already a plain file name is written as it is (`K-001__bup-farsta`);
  any other id is written readably but lossily and the name gets `~` and a digest of the
  exact ids (`HYPERLINK-x__skola~3f0c9a1be27d4c55`), so that no two names meet.
- Text (`display_text`): what any report shows: no bidirectional control characters (an
  RTL override makes "fdp.exe" read as "exe.pdf"), no personal number, no character
  XML cannot hold.
- Markdown (`md_text`): `display_text` with the characters that would start a table
  cell, a link, emphasis or HTML escaped, and line breaks as spaces.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

from .privacy import clean_text

# --- text --------------------------------------------------------------------------------

# Bidirectional formatting characters (Unicode's Bidi_Control, plus the marks): LRE, RLE,
# PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_DROP_BIDI = {ord(c): None for c in BIDI_CONTROLS}
# Line and paragraph breaks of any kind become a space: an id is one line.
_BREAKS = {ord(c): " " for c in "\t\n\r\v\f\x85\u2028\u2029"}
_CLEAN_TABLE = {**_DROP_BIDI, **_BREAKS}


class Verbatim(str):
    """Text the tool made itself, printed as it is: a finding id is a hex digest, and a
    run of ten of its digits is no personal number (redacting it would lose the id)."""
    __slots__ = ()


_FINDING_ID = re.compile(r"[0-9a-f]{16}")


def finding_id_text(finding_id: Any) -> str:
    """A finding's id for a report: as it is when it is the digest the scan made, else
    treated like any other text from outside."""
    if type(finding_id) is str and _FINDING_ID.fullmatch(finding_id):
        return Verbatim(finding_id)
    return display_text(finding_id)


# The caches keep the texts that recur in draft after draft (unit names, titles, quotes,
# labels, dates); a few thousand, so a bound of 8192 keeps memory flat however many drafts.
CACHE = 8192


@lru_cache(maxsize=CACHE)
def _display(text: str) -> str:
    return clean_text(text.translate(_CLEAN_TABLE))


def _through(value: Any, cached: Callable[[str], str]) -> str:
    if value is None:
        return ""
    if type(value) is Verbatim:
        return value
    return cached(value if type(value) is str else str(value))


def display_text(value: Any) -> str:
    """Text as a report shows it: one line, no bidi controls, no personal number."""
    return _through(value, _display)


# Escaped with a backslash in Markdown: what could end a table cell (|, and a backslash
# that would escape the cell's own |), start HTML or an autolink (< >), or close a link
# (] before "(", "[" or ":"). Emphasis characters are left alone: at worst a word is
# shown in italics, and the raw draft stays readable ("[personnummer borttaget]").
_MD_SPECIAL = re.compile(r"[\\<>|]|\](?=[(\[:])")


def _backslash(m: re.Match) -> str:
    return "\\" + m.group(0)


@lru_cache(maxsize=CACHE)
def _md(text: str) -> str:
    text = _display(text)
    return _MD_SPECIAL.sub(_backslash, text) if _MD_SPECIAL.search(text) else text


def md_text(value: Any) -> str:
    """Text for a Markdown draft, also inside a table cell: it cannot end the cell, make a
    link or start HTML."""
    return _through(value, _md)


# --- file names ----------------------------------------------------------------------------

# A plain part: ASCII letters, digits, '.' and '-', starting with a letter or digit, not
# ending with '.', at most PART_MAX characters. '_' is left out so that '__' separates parts;
# '~' marks a digest.
_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9-])?")
PART_MAX = 60
_WINDOWS_RESERVED = re.compile(r"(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(?:COM|LPT)[0-9\u00b9\u00b2\u00b3])",
                               re.IGNORECASE)
_NOT_NAME = re.compile(r"[^A-Za-z0-9.-]+")
DIGEST_HEX = 16          # 64 bits, like a finding's id
SEPARATOR = "__"
FROM = "__från__"        # <case>__<B>__från__<A> (deviations.md)


def _is_plain(part: str, upper: bool) -> bool:
    """Whether `part` can be a file-name part as it is.

    On a case-insensitive file system `K-001` and `k-001` are one name, so only one
    spelling per position is plain: case ids without lowercase letters (`K-001`, `P01`),
    unit ids without uppercase letters (`bup-farsta`). Any other spelling gets a digest.
    """
    if len(part) > PART_MAX or not _PLAIN.fullmatch(part):
        return False
    if part != (part.upper() if upper else part.lower()):
        return False
    if _WINDOWS_RESERVED.fullmatch(part.split(".", 1)[0]):
        return False
    return clean_text(part) == part        # nothing shaped like a personal number


def _readable(part: str) -> str:
    """A lossy, safe spelling of an id for a name that carries a digest."""
    text = unicodedata.normalize("NFKD", clean_text(part.translate(_CLEAN_TABLE)))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NOT_NAME.sub("-", text)[:PART_MAX].strip(".-")
    base = text.split(".", 1)[0]
    if _WINDOWS_RESERVED.fullmatch(base):            # CON, NUL.txt: devices on Windows
        text = base + "-" + text[len(base):]
    return text or "id"


def _stem(parts: tuple[tuple[str, bool], ...], joiners: tuple[str, ...]) -> str:
    names, exact = [], True
    for part, upper in parts:
        if _is_plain(part, upper):
            names.append(part)
        else:
            names.append(_readable(part))
            exact = False
    stem = names[0] + "".join(j + n for j, n in zip(joiners, names[1:]))
    if not exact:
        key = orjson.dumps([p for p, _ in parts])        # the exact ids, unambiguously
        stem += "~" + hashlib.sha256(key).hexdigest()[:DIGEST_HEX]
    return stem


@lru_cache(maxsize=CACHE)
def draft_stem(case: str, receiving: str, reporting: str | None = None) -> str:
    """The file name (without suffix) of a deviation draft (deviations.md):
    `<case>__<B>` for an internal draft, `<case>__<B>__från__<A>` for a cooperation one."""
    if reporting is None:
        return _stem(((case or "", True), (receiving or "", False)), (SEPARATOR,))
    return _stem(((case or "", True), (receiving or "", False), (reporting, False)),
                 (SEPARATOR, FROM))


@lru_cache(maxsize=4096)
def unit_stem(unit: str) -> str:
    """The file name (without suffix) of a unit's own list (`units/<unit>.xlsx`)."""
    return _stem(((unit or "", False),), ())
