"""Swedish business days (vardagar) for deadlines.

A business day is a Monday–Friday that is neither

* an allmän helgdag under Lag (1989:253) om allmänna helgdagar, as in force in that year
  (annandag pingst was a helgdag up to and including 2004; Sveriges nationaldag 6 juni is
  one from 2005, SFS 2004:1320), nor
* midsommarafton, julafton or nyårsafton, which 2 § Lag (1930:173) om beräkning av
  lagstadgad tid treats like allmän helgdag.

Other eves (trettondagsafton, skärtorsdagen, valborgsmässoafton, ...) are business days.

The holidays come from the ``holidays`` package (``holidays.SE``) with the categories
PUBLIC (the helgdagar of the 1989 act) and DE_FACTO (the three eves of the 1930 act).
Both the category list and ``language="sv"`` must be given explicitly: the package's
default is PUBLIC only, and without a language it translates the names by the process
locale. Results are cached per year; ``is_business_day`` is one set lookup after the
first call for a year. See docs/calendar.md.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

import holidays
from holidays.constants import DE_FACTO, PUBLIC
from holidays.countries.sweden import Sweden

from .dates_sv import WEEKDAYS_SV

__all__ = [
    "CALENDAR_SOURCE",
    "MIN_YEAR",
    "MAX_YEAR",
    "FIRST_DAY",
    "LAST_DAY",
    "last_as_of",
    "is_business_day",
    "roll_forward",
    "roll_back",
    "add_business_days",
    "business_days_between",
    "non_business_reason",
    "year_facts",
    "day_facts",
]

CALENDAR_SOURCE: str = f"holidays {holidays.__version__} (SE, PUBLIC+DE_FACTO)"

#: The holidays package knows Sweden from 1953 (Act 1952:48) to 2100; outside that range
#: it silently returns no holidays at all, so we refuse instead.
MIN_YEAR = max(1953, Sweden.start_year)
MAX_YEAR = min(2100, Sweden.end_year)
FIRST_DAY = date(MIN_YEAR, 1, 1)
LAST_DAY = date(MAX_YEAR, 12, 31)


_ONE_DAY = timedelta(days=1)


class _Year(NamedTuple):
    non_business: frozenset[int]  # ordinals of every non-business day (weekends included)
    weekday_holidays: tuple[int, ...]  # sorted ordinals of holidays falling Mon–Fri
    names: dict[int, str]  # ordinal -> Swedish holiday name (weekends included)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"business-day calendar supports the years {MIN_YEAR}–{MAX_YEAR} "
            f"(Swedish holidays per Lag (1989:253) / holidays.SE); got year {year}"
        )


@lru_cache(maxsize=None)
def _year(year: int) -> _Year:
    """Build (once) the non-business days of ``year``; it is the hot path's only state."""
    _check_year(year)
    se = Sweden(years=year, categories=(PUBLIC, DE_FACTO), language="sv")
    # Two holidays on one day (e.g. 2008-05-01, Första maj and Kristi himmelsfärdsdag)
    # come back as one name joined with "; "; keep that, it is the honest reason.
    names = {d.toordinal(): name for d, name in se.items() if d.year == year}
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    weekends = {o for o in range(first, last + 1) if (o - 1) % 7 >= 5}  # ordinal 1 is a Monday
    weekday_holidays = tuple(sorted(o for o in names if (o - 1) % 7 < 5))
    return _Year(frozenset(weekends | names.keys()), weekday_holidays, names)


def is_business_day(d: date) -> bool:
    """True iff ``d`` is a vardag: Mon–Fri, not a helgdag, not midsommar-/jul-/nyårsafton.

    This is the predicate every deadline in the spec is measured with, so it is a single
    cached set lookup.
    """
    return d.toordinal() not in _year(d.year).non_business


def roll_forward(d: date) -> date:
    """``d`` if it is a business day, else the next one (a deadline on a holiday moves on)."""
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def roll_back(d: date) -> date:
    """``d`` if it is a business day, else the previous one (the last day to act in time)."""
    while not is_business_day(d):
        d -= _ONE_DAY
    return d


def add_business_days(d: date, n: int) -> date:
    """The ``n``-th business day after ``d`` (before it for negative ``n``); ``d`` for 0.

    For n >= 1 the result is a business day with ``business_days_between(d, result) == n``;
    ``d`` itself never counts, whether or not it is a business day.
    """
    if n == 0:
        return d
    step = _ONE_DAY if n > 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        d += step
        if is_business_day(d):
            remaining -= 1
    return d


def last_as_of(warn_days: int) -> date:
    """The latest as-of date whose warning horizon stays inside the calendar.

    A scan warns of what falls due within ``warn_days`` business days after its as-of
    date, so ``add_business_days(as_of, warn_days)`` must be countable: that holds exactly
    for as-of dates up to the day before the ``warn_days``-th business day counted back
    from the calendar's last business day (with 5: 2100-12-22).
    """
    if warn_days <= 0:
        return LAST_DAY
    return add_business_days(roll_back(LAST_DAY), 1 - warn_days) - _ONE_DAY


def _weekdays_upto(ordinal: int) -> int:
    """Number of Mon–Fri among the ordinals 1..ordinal (ordinal 1 = 0001-01-01, a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


def business_days_between(a: date, b: date) -> int:
    """Number of business days x with a < x <= b; 0 when b <= a.

    This is how "N vardagar late" is counted: the start day never counts, the end day does.
    Computed arithmetically (weekdays minus weekday holidays), so long spans are cheap.
    """
    if b <= a:
        return 0
    _check_year(a.year)
    _check_year(b.year)
    lo, hi = a.toordinal(), b.toordinal()
    count = _weekdays_upto(hi) - _weekdays_upto(lo)
    for year in range(a.year, b.year + 1):
        hol = _year(year).weekday_holidays
        count -= bisect_right(hol, hi) - bisect_right(hol, lo)
    return count


def non_business_reason(d: date) -> str | None:
    """Why ``d`` is not a business day, in Swedish, for messages to people; None if it is one.

    A holiday's name wins over the weekday ("Midsommardagen", not "lördag"); otherwise
    "lördag" or "söndag".
    """
    info = _year(d.year)
    o = d.toordinal()
    if o not in info.non_business:
        return None
    name = info.names.get(o)
    if name is not None:
        return name
    return WEEKDAYS_SV[d.weekday()]


def year_facts(year: int) -> list[tuple[date, str]]:
    """The non-business Mon–Fri days of ``year`` with their reasons, in date order.

    Weekends are left out (they are never business days); this is the list a person
    checks against an almanac (``compliance calendar --year``).
    """
    info = _year(year)
    return [(date.fromordinal(o), info.names[o]) for o in info.weekday_holidays]


def day_facts(d: date) -> dict:
    """Everything the CLI shows for one day: weekday, business day or not and why, rolls."""
    return {
        "date": d.isoformat(),
        "weekday": WEEKDAYS_SV[d.weekday()],
        "business_day": is_business_day(d),
        "reason": non_business_reason(d),
        "roll_forward": roll_forward(d).isoformat(),
        "roll_back": roll_back(d).isoformat(),
    }



# --- beyond the calendar's years ---------------------------------------------------------------
# Arithmetic on valid events near 1953 or 2100 can step outside the years the holiday rules
# are known for. There the count falls back to weekdays: Monday–Friday are business days.
# The scan refuses an as-of date whose horizon leaves the calendar, so such a date can move
# a deadline, never decide whether it has passed (docs/decisions.md).

def weekday_roll(d: date, forward: bool) -> date:
    """``d`` on a business day, or rolled past the weekend: the days the calendar knows are
    counted as usual, the others as weekdays."""
    step = _ONE_DAY if forward else -_ONE_DAY
    while (MIN_YEAR <= d.year <= MAX_YEAR and not is_business_day(d)) or d.weekday() >= 5:
        d += step
    return d


def weekday_add(d: date, n: int) -> date:
    """``add_business_days`` that counts weekdays where the calendar has no holidays."""
    step = _ONE_DAY if n > 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        d += step
        known = MIN_YEAR <= d.year <= MAX_YEAR
        if (known and is_business_day(d)) or (not known and d.weekday() < 5):
            remaining -= 1
    return d


def weekdays_between(a: date, b: date) -> int:
    """``business_days_between`` for spans that leave the calendar: the known years
    counted as usual, the others by weekdays."""
    if b <= a:
        return 0
    lo, hi = max(a, date(MIN_YEAR, 1, 1) - _ONE_DAY), min(b, date(MAX_YEAR, 12, 31))
    inside = business_days_between(lo, hi) if hi > lo else 0
    outside = 0
    for x, y in ((a, min(b, date(MIN_YEAR, 1, 1) - _ONE_DAY)), (max(a, date(MAX_YEAR, 12, 31)), b)):
        if y > x:
            outside += _weekdays_upto(y.toordinal()) - _weekdays_upto(x.toordinal())
    return inside + outside
