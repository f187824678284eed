"""Dates the Swedish way for reports: '3 mars 2025', 'jan–jun 2025'."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)
WEEKDAYS_SV = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


def to_date(value: date | str | None) -> date | None:
    """An ISO date string (or a date) as a date; None, '' or garbage give None."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def date_sv(value: date | str | None, weekday: bool = False) -> str:
    """'2025-03-03' -> '3 mars 2025' (with weekday: 'måndag 3 mars 2025'); '' when unknown."""
    if type(value) is str and not weekday:
        return _date_sv_text(value)     # the common case, for every date of every draft
    return _date_sv(value, weekday)


@lru_cache(maxsize=16384)
def _date_sv_text(value: str) -> str:
    return _date_sv(value, False)


def _date_sv(value: date | str | None, weekday: bool) -> str:
    d = to_date(value)
    if d is None:
        return ""
    text = f"{d.day} {MONTHS_SV[d.month - 1]} {d.year}"
    return f"{WEEKDAYS_SV[d.weekday()]} {text}" if weekday else text


@lru_cache(maxsize=65536)
def day_texts(ordinal: int) -> tuple[date, str, str]:
    """(date, ISO text, Swedish text) of a day ordinal (`date.toordinal()`); cached, the
    scan's findings name the same days again and again."""
    d = date.fromordinal(ordinal)
    return d, d.isoformat(), date_sv(d)


def half_year(value: date | str | None) -> tuple[int, int] | None:
    """(year, 1) for January–June, (year, 2) for July–December."""
    d = to_date(value)
    if d is None:
        return None
    return (d.year, 1 if d.month <= 6 else 2)


def half_year_sv(key: tuple[int, int]) -> str:
    """(2025, 1) -> 'jan–jun 2025', (2025, 2) -> 'jul–dec 2025'."""
    year, half = key
    return f"{'jan–jun' if half == 1 else 'jul–dec'} {year}"
