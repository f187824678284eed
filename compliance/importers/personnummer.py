"""Swedish personal numbers (personnummer, samordningsnummer): validate, derive, forget.

A personal number never reaches the canonical log or any output (imports.md). The
importer validates the `Personnummer` column, derives the child's birth date and gender,
optionally makes a keyed pseudonym (HMAC-SHA256, never a bare hash), and drops the number.
Finding personal numbers in free text and ids is compliance.privacy's job (one detector).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from ..privacy import PERSONAL_NUMBER_RE, ascii_digits, luhn_ok
from ..privacy import REDACTED, luhn_check_digit, redact  # noqa: F401  (re-exported for the importers' tests)


@dataclass(frozen=True, slots=True)
class Personnummer:
    normalized: str          # 12 digits YYYYMMDDNNNC (samordningsnummer keep day+60)
    birth_date: dt.date
    gender: str              # "male" / "female"
    samordning: bool


def parse_personnummer(value: str, reference: dt.date | None = None) -> Personnummer:
    """Validate a personal or coordination number; raise ValueError with a Swedish reason.

    Accepts `YYMMDD-NNNC`, `YYMMDD+NNNC` (100 years or older), `YYMMDDNNNC`,
    `YYYYMMDD-NNNC`, `YYYYMMDDNNNC`, and the other spellings the detector knows (spaces,
    Unicode dashes, ... between the groups). For 10 digits the century is the one that
    makes the person younger than 100 on `reference` (default: today), or 100 or older
    with `+`.
    """
    m = PERSONAL_NUMBER_RE.fullmatch(value.strip())
    if m is None:
        raise ValueError("ogiltigt personnummer (10 eller 12 siffror väntas)")
    century = ascii_digits(m.group("c")) if m.group("c") else None
    yy, mm, dd = (ascii_digits(m.group(g)) for g in "ymd")
    rest = ascii_digits(m.group("n"))
    serial, check = rest[:3], rest[3]
    sep = "+" if "+" in m.group("sep") or "\uff0b" in m.group("sep") else ""
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
