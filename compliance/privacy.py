"""Privacy: no personal number (personnummer) ever reaches a report.

Case logs concern children. Case ids and free text come from exports and may hold a
personal number where a pseudonym belongs; everything a report or draft shows passes
through `clean_text`, which blanks anything shaped like one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# 10 or 12 digits, optionally with '-' or '+' before the last four (YYMMDD-NNNN,
# YYYYMMDDNNNN, ...). Deliberately wider than valid numbers: a report never needs one.
PERSONAL_NUMBER_RE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")
REDACTED = "[personnummer borttaget]"
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: Any) -> str:
    """Text safe for any report: no XML-illegal characters, no personal numbers."""
    if value is None:
        return ""
    text = _XML_ILLEGAL_RE.sub("", str(value))
    return PERSONAL_NUMBER_RE.sub(REDACTED, text)


_REDACTED_CACHE: dict[str, str] = {}
_SIX_DIGITS_RE = re.compile(r"\d{6}")


def redact(value: Any) -> Any:
    """A template value with anything shaped like a personal number blanked (Jinja's
    `finalize` hook: called for every value a template prints, so kept cheap).

    The same texts recur in draft after draft (rule titles, quotes, unit names), and the
    regular expression costs microseconds per text: results are remembered.
    """
    if value is None:
        return ""
    if type(value) is str and len(value) >= 10:
        done = _REDACTED_CACHE.get(value)
        if done is None:
            if len(_REDACTED_CACHE) >= 100_000:
                _REDACTED_CACHE.clear()
            # Every match holds six digits in a row; looking for those alone is much faster.
            done = _REDACTED_CACHE[value] = (value if _SIX_DIGITS_RE.search(value) is None
                                             else PERSONAL_NUMBER_RE.sub(REDACTED, value))
        return done
    return value


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


def contains_personal_number(text: str | None) -> bool:
    """Whether free text (a review reason, a comment) holds something that is a personal
    number; such text is refused rather than stored."""
    return bool(text) and PERSONAL_NUMBER_RE.search(str(text)) is not None
