"""Swedish personal numbers (personnummer, samordningsnummer): validate, derive, forget.

A personal number never reaches the canonical log or any output (imports.md). The
importer validates the `Personnummer` column, derives the child's birth date and gender,
optionally makes a keyed pseudonym (HMAC-SHA256, never a bare hash), and drops the number.
Free text has anything that looks like a personal number replaced by `REDACTED`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

REDACTED = "[personnummer borttaget]"

# Anything that looks like a personal number in free text: 10 or 12 digits, optionally
# with -, + or a space before the last four, with a plausible month and day (day+60 for
# samordningsnummer). The check digit is deliberately NOT required: a mistyped number is
# still a personal number.
_LOOKS_LIKE = re.compile(
    r"(?<!\d)(?:\d{2})?\d{2}(?:0\d|1[0-2])(?:[0-3]\d|[6-9]\d)[-+ ]?\d{4}(?!\d)"
)
_DIGIT_RUN = re.compile(r"\d{6}[-+ ]?\d{4}")  # cheap pre-filter: 10 digits, maybe split
_STRICT = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$")


def redact(text: str) -> str:
    """`text` with every personal-number look-alike replaced by `[personnummer borttaget]`."""
    if not text or _DIGIT_RUN.search(text) is None:  # fast path: nothing number-like
        return text
    return _LOOKS_LIKE.sub(REDACTED, text)


def looks_like_personnummer(text: str) -> bool:
    return bool(text) and _DIGIT_RUN.search(text) is not None and _LOOKS_LIKE.search(text) is not None


def luhn_ok(digits: str) -> bool:
    """Luhn check over the 10-digit form YYMMDDNNNC."""
    total = 0
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(nine: str) -> str:
    """The check digit for the first nine digits YYMMDDNNN (for building test numbers)."""
    for c in "0123456789":
        if luhn_ok(nine + c):
            return c
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Personnummer:
    normalized: str          # 12 digits YYYYMMDDNNNC (samordningsnummer keep day+60)
    birth_date: dt.date
    gender: str              # "male" / "female"
    samordning: bool


def parse_personnummer(value: str, reference: dt.date | None = None) -> Personnummer:
    """Validate a personal or coordination number; raise ValueError with a Swedish reason.

    Accepts `YYMMDD-NNNC`, `YYMMDD+NNNC` (100 years or older), `YYMMDDNNNC`,
    `YYYYMMDD-NNNC`, `YYYYMMDDNNNC`. For 10 digits the century is the one that makes the
    person younger than 100 on `reference` (default: today), or 100 or older with `+`.
    """
    s = value.strip().replace(" ", "")
    m = _STRICT.match(s)
    if m is None:
        raise ValueError("ogiltigt personnummer (10 eller 12 siffror väntas)")
    century, yy, mm, dd, sep, serial, check = m.groups()
    ten = yy + mm + dd + serial + check
    if not luhn_ok(ten):
        raise ValueError("ogiltigt personnummer (fel kontrollsiffra)")
    day = int(dd)
    samordning = day > 60
    if samordning:
        day -= 60
    month = int(mm)
    ref = reference or dt.date.today()
    if century is not None:
        year = int(century + yy)
        if sep == "+":
            raise ValueError("ogiltigt personnummer ('+' används bara i tio siffror)")
    else:
        year = ref.year - (ref.year - int(yy)) % 100
        try:
            if dt.date(year, month, day) > ref:
                year -= 100
        except ValueError:
            pass  # judged below
        if sep == "+":
            year -= 100
    try:
        born = dt.date(year, month, day)
    except ValueError:
        raise ValueError("ogiltigt personnummer (inget giltigt födelsedatum)") from None
    gender = "male" if int(serial[2]) % 2 else "female"
    return Personnummer(f"{year:04d}{mm}{dd}{serial}{check}", born, gender, samordning)


def pseudonym(pnr: Personnummer, key: bytes) -> str:
    """A stable person pseudonym: HMAC-SHA256 of the 12-digit number under `key`."""
    digest = hmac.new(key, pnr.normalized.encode("ascii"), hashlib.sha256).hexdigest()
    return "p-" + digest[:32]
