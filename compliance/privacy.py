"""Privacy: no personal number (personnummer) ever reaches an output.

Case logs concern children. Ids and free text come from exports and may hold a personal
number where a pseudonym belongs. This module is the one detector every part of the
tool asks: the importers and the event model (an id field holding one rejects the line),
the reports and drafts (`clean_text`, `redact`), the reject files (`redact_raw`) and the
review app (`contains_personal_number`).

A number counts only if it is one: its date part is a real date (or a samordningsnummer,
day + 60) and its Luhn check digit is right, whatever the spelling: with or without the
century, and with `-`, `+`, spaces of any kind, Unicode dashes, `/`, `.` or `_` between
the digit groups, or invisible characters (zero-width space, soft hyphen, ...) anywhere
between the digits. Anything else is left alone, so a case number such as `2025000001`
(month 25) survives.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any, Iterator

REDACTED = "[personnummer borttaget]"

# Characters that show nothing: a number written with them between its digits looks
# like one on screen and must be found. (soft hyphen, combining grapheme joiner, Arabic
# letter mark, Mongolian vowel separator, zero-width space/joiners, direction marks and
# embeddings, word joiner and invisible operators, BOM)
_INVISIBLE_CHARS = frozenset(chr(c) for lo, hi in (
    (0xAD, 0xAD), (0x34F, 0x34F), (0x61C, 0x61C), (0x180E, 0x180E), (0x200B, 0x200F),
    (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF)) for c in range(lo, hi + 1))
_INVISIBLE = "".join(sorted(_INVISIBLE_CHARS))
# What people (and word processors) put between the groups YYMMDD and NNNN, or between
# year, month and day: hyphens and every Unicode dash and minus, plus, slash, dot,
# underscore, and spaces of every kind (no-break, thin, narrow no-break, ...).
_DASHES = "\\-\u2010-\u2015\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"
_SEPARATORS = _DASHES + "+/._\uff0b\uff0e\uff0f\uff3f" + _INVISIBLE
_Z = f"[{_INVISIBLE}]*"                      # between two digits of one group
_S = f"(?:[\\s{_SEPARATORS}]{{0,3}})"        # between two groups
_DIGITS2 = rf"\d{_Z}\d"

# The shape of a personal number, valid or not: [CC]YY MM DD NNNN. Deliberately wider than
# valid numbers; `personal_numbers` then checks the date and the check digit.
PERSONAL_NUMBER_RE = re.compile(
    rf"(?<!\d)(?:(?P<c>{_DIGITS2}){_Z})?(?P<y>{_DIGITS2}){_S}(?P<m>{_DIGITS2}){_S}"
    rf"(?P<d>{_DIGITS2})(?P<sep>{_S})(?P<n>\d{_Z}\d{_Z}\d{_Z}\d)(?!{_Z}\d)")
_TWO_DIGITS_RE = re.compile(_DIGITS2)
_ASCII_DIGITS = b"0123456789"
_OTHER_DIGIT_RE = re.compile(r"(?![0-9])\d")     # a digit of another script (fullwidth, ...)


def _may_hold_number(text: str) -> bool:
    """Whether text has the ten digits a personal number needs: counted in C, so that the
    search proper runs only on the few texts that have them (ids, dates and names do not)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) - len(data.translate(None, _ASCII_DIGITS)) >= 10:
        return True
    return not text.isascii() and _OTHER_DIGIT_RE.search(text) is not None
_DIGIT_BEFORE_RE = re.compile(rf"\d[{_INVISIBLE}]+\Z")
_NOT_DIGIT_RE = re.compile(r"\D")
_ANY_DIGIT_RE = re.compile(r"\d")
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
CENTURIES = (18, 19, 20)


def luhn_ok(ten: str) -> bool:
    """Luhn check over the ten digits YYMMDDNNNC."""
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(nine: str) -> str:
    """The check digit for the nine digits YYMMDDNNN (to build test numbers)."""
    for c in "0123456789":
        if luhn_ok(nine + c):
            return c
    raise AssertionError("unreachable")


def ascii_digits(text: str) -> str:
    """The digits of `text` as ASCII (Unicode digits such as fullwidth ones included)."""
    return "".join(str(int(ch)) for ch in _NOT_DIGIT_RE.sub("", text))


def is_valid(century: str | None, ten: str) -> bool:
    """Whether ten digits YYMMDDNNNC (with the century CC, if written) are a personal or
    coordination number: a real date (day + 60 for a samordningsnummer) and the right
    check digit."""
    month, day = int(ten[2:4]), int(ten[4:6])
    if day > 60:
        day -= 60
    if century is None:
        year = 2000 + int(ten[:2])     # 29 February: a leap year in 2000 + YY whenever in 1900 + YY
    elif int(century) in CENTURIES:
        year = int(century + ten[:2])
    else:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return luhn_ok(ten)


def personal_numbers(text: str) -> Iterator[re.Match]:
    """The personal numbers in `text`, in any spelling, as regex matches (left to right,
    not overlapping)."""
    if not text or not _may_hold_number(text):
        return
    pos = 0
    search = PERSONAL_NUMBER_RE.search
    while True:
        m = search(text, pos)
        if m is None:
            return
        start = m.start()
        if start and text[start - 1] in _INVISIBLE_CHARS and _DIGIT_BEFORE_RE.search(text, max(0, start - 64), start):
            pos = start + 1      # more digits before it, behind invisible characters: no number
            continue
        c = m.group("c")
        ten = ascii_digits(m.group("y") + m.group("m") + m.group("d") + m.group("n"))
        if is_valid(ascii_digits(c) if c is not None else None, ten):
            yield m
            pos = m.end()
        else:
            pos = m.start() + 1      # a shape that is no number may hide one that starts later


def contains_personal_number(text: Any) -> bool:
    """Whether text (an id, a comment, a review reason) holds a personal number. Not
    remembered, unlike `redact`: ids are asked about once each, and the ten digits are
    counted in C first, so that most ids are passed over at once."""
    if not text:
        return False
    text = str(text)
    return len(text) >= 10 and next(personal_numbers(text), None) is not None


def _redact_text(text: str) -> str:
    out, last = [], 0
    for m in personal_numbers(text):
        out.append(text[last:m.start()])
        out.append(REDACTED)
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def clean_text(value: Any) -> str:
    """Text safe for any report: no XML-illegal characters, no personal numbers."""
    if value is None:
        return ""
    return redact(_XML_ILLEGAL_RE.sub("", str(value)))


_REDACTED_CACHE: dict[str, str] = {}


def redact(value: Any) -> Any:
    """A value with every personal number replaced by `[personnummer borttaget]`.

    Also Jinja's `finalize` hook: called for every value a template prints, so kept cheap.
    The same texts recur in draft after draft (rule titles, quotes, unit names), and the
    search costs microseconds per text: results are remembered. Values that are not text
    pass unchanged (None becomes "").
    """
    if value is None:
        return ""
    if type(value) is str and len(value) >= 10:
        done = _REDACTED_CACHE.get(value)
        if done is None:
            if len(_REDACTED_CACHE) >= 100_000:
                _REDACTED_CACHE.clear()
            done = _REDACTED_CACHE[value] = _redact_text(value)
        return done
    return value


# An escape in a raw line can spell a separator or a digit that the text does not show:
# JSON's \u2011 and \/, XML's &#8209; and &#x2011;.
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|\\/|&#([0-9]{1,7});|&#[xX]([0-9a-fA-F]{1,6});")


def _unescape(m: re.Match) -> str:
    json_hex, dec, xml_hex = m.groups()
    if json_hex is None and dec is None and xml_hex is None:
        return "/"
    code = int(json_hex or xml_hex, 16) if dec is None else int(dec)
    return m.group(0) if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else chr(code)


def redact_raw(raw: str | None) -> str:
    """An input line as `rejects.jsonl` may show it: every personal number removed, also
    one spelt with escapes (JSON `\\u2011`, XML `&#8209;`; the line then shows them as
    characters). Used for every reject of every format."""
    if not raw:
        return raw or ""
    if ("\\" in raw or "&#" in raw) and _ESCAPE_RE.search(raw) is not None:
        unescaped = _ESCAPE_RE.sub(_unescape, raw)
        if contains_personal_number(unescaped):
            return _redact_text(unescaped)
    return _redact_text(raw)


def quote(value: Any, limit: int = 60) -> str:
    """A value for a reject reason or an error message, quoted like `repr`: shown as it
    is only where it provably holds no personal number. Anything shaped like one, valid
    or not (a mistyped number is still someone's), has its digits shown as `#`, so that
    the reason still shows the format: `okänt datumformat '########-####'`. Long values
    are cut."""
    text = value if isinstance(value, str) else str(value)
    if _TWO_DIGITS_RE.search(text) is not None:
        text = PERSONAL_NUMBER_RE.sub(lambda m: _ANY_DIGIT_RE.sub("#", m.group(0)), text)
    if len(text) > limit:
        text = text[:limit] + "…"
        if _TWO_DIGITS_RE.search(text[-30:]) is not None:     # a number cut in half
            text = text[:-30] + _ANY_DIGIT_RE.sub("#", text[-30:])
    return repr(text)


def clean(obj: Any) -> Any:
    """:func:`clean_text` applied to every string inside dicts and lists."""
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


_UNSAFE_NAME_RE = re.compile(r"[^\w.-]+")


@lru_cache(maxsize=65536)
def safe_name(text: str | None) -> str:
    """A file-name stem from an id that may come from a hostile export (cached: unit ids
    recur in every draft's file name)."""
    name = _UNSAFE_NAME_RE.sub("_", clean_text(text or "")).strip("._")
    return name[:120] or "utan-id"
