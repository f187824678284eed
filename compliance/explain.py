"""Deadlines in words: how a finding's due date was computed, for auditors and unit heads.

The engine records, for a deadline it computed, its *basis*: the date it counted from,
the calendar days added or taken away, the raw result and the roll (to the next or the
previous business day) when that day was not a business day. Replay, drafts and the
review app all print it through `deadline_sv`, so they say the same thing:

    2025-03-03 − 21 dagar = 2025-02-10
    2025-04-04 + 30 dagar = 2025-05-04, söndag → måndag 2025-05-05
    2004-05-02 + 30 dagar = 2004-06-01 ... annandag pingst 2004 var helgdag → ...
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import calendar as vardagar
from .dates_sv import WEEKDAYS_SV


def _day(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def day_sv(day: dt.date) -> str:
    """'måndag 2025-05-05'."""
    return f"{WEEKDAYS_SV[day.weekday()]} {day.isoformat()}"


def why_not_business_day(day: dt.date) -> str | None:
    """Why `day` is not a business day, in words that hold for that year; None if it is.

    Holidays that changed are dated: "annandag pingst 2004 var helgdag".
    """
    reason = vardagar.non_business_reason(day)
    if reason is None:
        return None
    reason = reason[0].lower() + reason[1:]
    if reason.startswith(("annandag pingst", "nationaldagen", "sveriges nationaldag")):
        return f"{reason} {day.year} var helgdag"
    return reason


def calendar_note(day: dt.date) -> str | None:
    """A note for a business day that would not be one in another year (an auditor's
    question: Whit Monday was a holiday until 2004, 6 June is one from 2005)."""
    if vardagar.non_business_reason(day) is not None or day.weekday() >= 5:
        return None
    if day.year >= 2005 and day == _whit_monday(day.year):
        return f"annandag pingst var inte helgdag {day.year}"
    if day.year < 2005 and day.month == 6 and day.day == 6:
        return f"6 juni var inte helgdag {day.year}"
    return None


def _whit_monday(year: int) -> dt.date:
    # Anonymous Gregorian computus (Meeus/Jones/Butcher): Easter Sunday, + 50 days.
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1) + dt.timedelta(days=50)


def deadline_sv(basis: dict[str, Any] | None) -> str | None:
    """A deadline's arithmetic in words, or None when it was not computed (the due date
    is the day of an event, e.g. the meeting day)."""
    if not basis:
        return None
    if basis.get("business_days") is not None:
        start, n = _day(basis["from"]), int(basis["business_days"])
        result = vardagar.add_business_days(start, n)
        return f"{start.isoformat()} + {n} vardagar = {day_sv(result)}"
    if basis.get("years") is not None:
        start, n = _day(basis["from"]), int(basis["years"])
        try:
            result = start.replace(year=start.year + n)
        except ValueError:
            result = dt.date(start.year + n, 3, 1)
        return f"{start.isoformat()} + {n} år = {result.isoformat()}"
    start, days = _day(basis["from"]), int(basis["days"])
    raw = start + dt.timedelta(days=days)
    sign = "+" if days >= 0 else "−"
    text = f"{start.isoformat()} {sign} {abs(days)} dagar = {raw.isoformat()}"
    roll = basis.get("roll")
    if roll in ("forward", "back"):
        why = why_not_business_day(raw)
        if why is not None:
            rolled = vardagar.roll_forward(raw) if roll == "forward" else vardagar.roll_back(raw)
            step = dt.timedelta(days=1 if roll == "forward" else -1)
            skipped, day = [why], raw + step
            while day != rolled:      # every day passed over, with its reason
                skipped.append(f"{day.isoformat()} {why_not_business_day(day)}")
                day += step
            text += f", {'; '.join(skipped)} → {day_sv(rolled)}"
            note = calendar_note(rolled)
            return text + (f" ({note})" if note else "")
    note = calendar_note(raw)
    if note:
        text += f" ({note})"
    return text
