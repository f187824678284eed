"""Tests for the business-day calendar (vardagar), compliance/calendar.py.

The reference calendar below is computed from first principles (the computus and the
dates in Lag (1989:253) 2 § plus the three eves of Lag (1930:173) 2 §); it deliberately
does not use the holidays package, so it checks that package as well as our use of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.calendar import (
    CALENDAR_SOURCE,
    add_business_days,
    business_days_between,
    day_facts,
    is_business_day,
    non_business_reason,
    roll_back,
    roll_forward,
    year_facts,
)

D = date
ONE = timedelta(days=1)


# --------------------------------------------------------------------------- reference


# The Easter computus is the reference evaluator's (tests/reference.py): one copy of the
# algorithm, checked against published dates below.
from reference import easter_sunday  # noqa: E402


def first_weekday_from(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def reference_holidays(year: int) -> dict[date, str]:
    """Allmänna helgdagar (as in force in `year`) plus midsommar-, jul- and nyårsafton."""
    e = easter_sunday(year)
    days = {
        D(year, 1, 1): "Nyårsdagen",
        D(year, 1, 6): "Trettondedag jul",
        e - 2 * ONE: "Långfredagen",
        e: "Påskdagen",
        e + ONE: "Annandag påsk",
        D(year, 5, 1): "Första maj",
        e + 39 * ONE: "Kristi himmelsfärdsdag",
        e + 49 * ONE: "Pingstdagen",
        first_weekday_from(D(year, 6, 19), 4): "Midsommarafton",
        first_weekday_from(D(year, 6, 20), 5): "Midsommardagen",
        first_weekday_from(D(year, 10, 31), 5): "Alla helgons dag",
        D(year, 12, 24): "Julafton",
        D(year, 12, 25): "Juldagen",
        D(year, 12, 26): "Annandag jul",
        D(year, 12, 31): "Nyårsafton",
    }
    if year <= 2004:
        days[e + 50 * ONE] = "Annandag pingst"
    if year >= 2005:
        days[D(year, 6, 6)] = "Nationaldagen"
    return days


def reference_non_business_weekdays(year: int) -> set[date]:
    return {d for d in reference_holidays(year) if d.weekday() < 5}


def reference_is_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in reference_holidays(d.year)


def test_reference_easter_known_values():
    # Sanity of the reference itself against published Easter Sundays.
    assert easter_sunday(2025) == D(2025, 4, 20)
    assert easter_sunday(2024) == D(2024, 3, 31)
    assert easter_sunday(2019) == D(2019, 4, 21)
    assert easter_sunday(2008) == D(2008, 3, 23)
    assert easter_sunday(2038) == D(2038, 4, 25)  # latest possible
    assert easter_sunday(2285) == D(2285, 3, 22)  # earliest possible


# --------------------------------------------------------------------- whole-year check


@pytest.mark.parametrize("year", range(1990, 2041))
def test_non_business_weekdays_match_first_principles(year):
    expected = reference_non_business_weekdays(year)
    day, actual = D(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5 and not is_business_day(day):
            actual.add(day)
        day += ONE
    assert actual == expected
    assert {d for d, _ in year_facts(year)} == expected


@pytest.mark.parametrize("year", [1990, 2004, 2005, 2008, 2025, 2040])
def test_reasons_match_first_principles_names(year):
    ref = reference_holidays(year)
    day = D(year, 1, 1)
    while day.year == year:
        reason = non_business_reason(day)
        if day in ref:
            # Two holidays on one day are reported together (see 2008-05-01 below).
            assert ref[day] in reason.split("; ")
        elif day.weekday() == 5:
            assert reason == "lördag"
        elif day.weekday() == 6:
            assert reason == "söndag"
        else:
            assert reason is None
        day += ONE


# ---------------------------------------------------------------------- named hard days


def test_easter_2025_good_friday_2025_04_18_and_easter_monday_2025_04_21():
    assert not is_business_day(D(2025, 4, 18))
    assert not is_business_day(D(2025, 4, 21))
    assert non_business_reason(D(2025, 4, 18)) == "Långfredagen"
    assert non_business_reason(D(2025, 4, 21)) == "Annandag påsk"
    assert non_business_reason(D(2025, 4, 20)) == "Påskdagen"
    assert is_business_day(D(2025, 4, 22))


def test_skartorsdagen_2025_04_17_is_a_business_day():
    assert is_business_day(D(2025, 4, 17))
    assert non_business_reason(D(2025, 4, 17)) is None


def test_valborgsmassoafton_2025_04_30_is_a_business_day():
    assert is_business_day(D(2025, 4, 30))
    assert not is_business_day(D(2025, 5, 1))  # Första maj


def test_ascension_2025_05_29_is_not_a_business_day():
    assert not is_business_day(D(2025, 5, 29))
    assert non_business_reason(D(2025, 5, 29)) == "Kristi himmelsfärdsdag"
    assert is_business_day(D(2025, 5, 30))  # klämdag is a business day


def test_midsommarafton_2025_06_20_is_not_a_business_day():
    assert not is_business_day(D(2025, 6, 20))
    assert non_business_reason(D(2025, 6, 20)) == "Midsommarafton"
    assert is_business_day(D(2025, 6, 19))


def test_midsommarafton_2024_06_21_is_not_a_business_day():
    assert not is_business_day(D(2024, 6, 21))
    assert non_business_reason(D(2024, 6, 21)) == "Midsommarafton"
    assert is_business_day(D(2024, 6, 20))


def test_business_days_between_2025_06_19_and_2025_06_24_is_2():
    assert business_days_between(D(2025, 6, 19), D(2025, 6, 24)) == 2


def test_christmas_to_new_year_2025_12_24_to_2025_12_31():
    for day in (24, 25, 26, 31):
        assert not is_business_day(D(2025, 12, day)), day
    for day in (29, 30):
        assert is_business_day(D(2025, 12, day)), day
    assert non_business_reason(D(2025, 12, 24)) == "Julafton"
    assert non_business_reason(D(2025, 12, 25)) == "Juldagen"
    assert non_business_reason(D(2025, 12, 26)) == "Annandag jul"
    assert non_business_reason(D(2025, 12, 31)) == "Nyårsafton"
    assert not is_business_day(D(2026, 1, 1))
    assert is_business_day(D(2026, 1, 2))


def test_whit_monday_2004_05_31_is_not_a_business_day():
    assert not is_business_day(D(2004, 5, 31))
    assert non_business_reason(D(2004, 5, 31)) == "Annandag pingst"


def test_whit_monday_2005_05_16_is_a_business_day():
    assert D(2005, 5, 16).weekday() == 0
    assert is_business_day(D(2005, 5, 16))


def test_national_day_2005_06_06_monday_first_holiday():
    assert D(2005, 6, 6).weekday() == 0
    assert not is_business_day(D(2005, 6, 6))
    assert non_business_reason(D(2005, 6, 6)) == "Nationaldagen"


def test_national_day_2004_06_06_sunday_anyway():
    assert D(2004, 6, 6).weekday() == 6
    assert not is_business_day(D(2004, 6, 6))
    assert non_business_reason(D(2004, 6, 6)) == "söndag"  # not yet a holiday in 2004


def test_june_6_2003_06_06_friday_is_a_business_day():
    assert D(2003, 6, 6).weekday() == 4
    assert is_business_day(D(2003, 6, 6))


def test_trettondagsafton_2025_01_05_sunday_and_2024_01_05_friday_business_day():
    assert D(2025, 1, 5).weekday() == 6
    assert not is_business_day(D(2025, 1, 5))
    assert non_business_reason(D(2025, 1, 5)) == "söndag"
    assert D(2024, 1, 5).weekday() == 4
    assert is_business_day(D(2024, 1, 5))


def test_may_day_and_ascension_coincide_2008_05_01():
    assert not is_business_day(D(2008, 5, 1))
    reason = non_business_reason(D(2008, 5, 1))
    assert "Första maj" in reason and "Kristi himmelsfärdsdag" in reason


# -------------------------------------------------------------------- rolls and adding


def test_roll_forward_across_easter_2025():
    assert roll_forward(D(2025, 4, 18)) == D(2025, 4, 22)
    assert roll_forward(D(2025, 4, 19)) == D(2025, 4, 22)
    assert roll_forward(D(2025, 4, 17)) == D(2025, 4, 17)


def test_roll_back_across_easter_2025():
    assert roll_back(D(2025, 4, 21)) == D(2025, 4, 17)
    assert roll_back(D(2025, 4, 18)) == D(2025, 4, 17)


def test_roll_across_midsommar_2025():
    assert roll_forward(D(2025, 6, 20)) == D(2025, 6, 23)
    assert roll_back(D(2025, 6, 22)) == D(2025, 6, 19)


def test_roll_across_christmas_and_new_year_2025():
    assert roll_forward(D(2025, 12, 24)) == D(2025, 12, 29)
    assert roll_back(D(2025, 12, 28)) == D(2025, 12, 23)
    assert roll_back(D(2026, 1, 1)) == D(2025, 12, 30)
    assert roll_forward(D(2025, 12, 31)) == D(2026, 1, 2)


def test_add_business_days_examples():
    assert add_business_days(D(2025, 6, 19), 1) == D(2025, 6, 23)
    assert add_business_days(D(2025, 12, 23), 1) == D(2025, 12, 29)
    assert add_business_days(D(2025, 12, 23), 2) == D(2025, 12, 30)
    assert add_business_days(D(2025, 12, 23), 3) == D(2026, 1, 2)
    assert add_business_days(D(2026, 1, 2), -2) == D(2025, 12, 29)
    assert add_business_days(D(2025, 6, 21), 0) == D(2025, 6, 21)  # n=0: d, even on a holiday


def test_business_days_between_edge_cases():
    assert business_days_between(D(2025, 6, 24), D(2025, 6, 19)) == 0
    assert business_days_between(D(2025, 6, 19), D(2025, 6, 19)) == 0
    assert business_days_between(D(2025, 12, 23), D(2026, 1, 2)) == 3  # 29, 30 Dec, 2 Jan
    assert business_days_between(D(2024, 12, 31), D(2025, 12, 31)) == 249  # 261 weekdays - 12 weekday holidays


# ---------------------------------------------------------------------------- reasons


def test_non_business_reason_examples():
    assert non_business_reason(D(2025, 6, 14)) == "lördag"
    assert non_business_reason(D(2025, 6, 15)) == "söndag"
    assert non_business_reason(D(2025, 6, 20)) == "Midsommarafton"
    assert non_business_reason(D(2025, 6, 21)) == "Midsommardagen"  # holiday on a Saturday
    assert non_business_reason(D(2025, 6, 18)) is None


def test_reasons_are_swedish_regardless_of_locale():
    # The holidays package translates names by the process locale unless told otherwise.
    env = dict(os.environ, LANG="en_US.UTF-8", LANGUAGE="en_US", LC_ALL="C.UTF-8")
    code = (
        "from datetime import date; from compliance.calendar import non_business_reason;"
        "print(non_business_reason(date(2025, 12, 25)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "Juldagen"


def test_year_facts_2025():
    facts = year_facts(2025)
    assert facts == sorted(facts)
    assert (D(2025, 6, 20), "Midsommarafton") in facts
    assert all(d.weekday() < 5 for d, _ in facts)
    assert len(facts) == 12


def test_day_facts_midsommarafton_2025():
    assert day_facts(D(2025, 6, 20)) == {
        "date": "2025-06-20",
        "weekday": "fredag",
        "business_day": False,
        "reason": "Midsommarafton",
        "roll_forward": "2025-06-23",
        "roll_back": "2025-06-19",
    }
    assert day_facts(D(2025, 6, 19))["business_day"] is True
    assert day_facts(D(2025, 6, 19))["reason"] is None


def test_calendar_source_names_package_and_categories():
    import holidays

    assert holidays.__version__ in CALENDAR_SOURCE
    assert "SE" in CALENDAR_SOURCE and "PUBLIC" in CALENDAR_SOURCE and "DE_FACTO" in CALENDAR_SOURCE


@pytest.mark.parametrize("bad", [D(1800, 1, 1), D(1952, 12, 31), D(2101, 1, 3)])
def test_year_outside_supported_range_raises(bad):
    with pytest.raises(ValueError, match="years 1953"):
        is_business_day(bad)
    with pytest.raises(ValueError):
        non_business_reason(bad)


def test_year_1800_raises_everywhere():
    with pytest.raises(ValueError):
        year_facts(1800)
    with pytest.raises(ValueError):
        business_days_between(D(1800, 1, 1), D(2025, 1, 1))
    with pytest.raises(ValueError):
        roll_forward(D(1800, 6, 1))


# -------------------------------------------------------------------------- properties

dates = st.dates(min_value=D(1990, 1, 1), max_value=D(2040, 12, 31))
PROPS = settings(max_examples=200, deadline=None)


def brute_force_between(a: date, b: date) -> int:
    n, x = 0, a + ONE
    while x <= b:
        n += reference_is_business_day(x)
        x += ONE
    return n


@PROPS
@given(dates)
def test_is_business_day_matches_reference(d):
    assert is_business_day(d) == reference_is_business_day(d)


@PROPS
@given(dates)
def test_roll_forward_properties(d):
    r = roll_forward(d)
    assert r >= d
    assert is_business_day(r)
    assert roll_forward(r) == r
    x = d
    while x < r:
        assert not is_business_day(x)
        x += ONE


@PROPS
@given(dates)
def test_roll_back_properties(d):
    r = roll_back(d)
    assert r <= d
    assert is_business_day(r)
    assert roll_back(r) == r
    x = d
    while x > r:
        assert not is_business_day(x)
        x -= ONE


@PROPS
@given(dates, dates, dates)
def test_business_days_between_is_additive(a, b, c):
    a, b, c = sorted((a, b, c))
    assert business_days_between(a, b) + business_days_between(b, c) == business_days_between(a, c)


@PROPS
@given(dates, st.integers(min_value=1, max_value=400))
def test_add_business_days_forward(d, n):
    r = add_business_days(d, n)
    assert is_business_day(r)
    assert r > d
    assert business_days_between(d, r) == n


@PROPS
@given(dates, st.integers(min_value=1, max_value=400))
def test_add_business_days_backward(d, n):
    r = add_business_days(d, -n)
    assert is_business_day(r)
    assert r < d
    # r itself is counted from the other side; d only if it is a business day.
    assert business_days_between(r, d) == n - 1 + is_business_day(d)


@PROPS
@given(dates, st.integers(min_value=0, max_value=800))
def test_business_days_between_equals_brute_force(a, span):
    b = a + timedelta(days=span)
    assert business_days_between(a, b) == brute_force_between(a, b)
    assert business_days_between(b, a) == 0
