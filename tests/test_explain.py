"""Deadlines in words (compliance.explain): what replay, drafts and the review app print."""

from __future__ import annotations

import pytest

from compliance.explain import deadline_sv


@pytest.mark.parametrize("basis, text", [
    ({"from": "2025-03-03", "days": -21, "roll": None}, "2025-03-03 − 21 dagar = 2025-02-10"),
    ({"from": "2025-04-04", "days": 30, "roll": "forward"},
     "2025-04-04 + 30 dagar = 2025-05-04, söndag → måndag 2025-05-05"),
    # Whit Monday: a holiday in 2004, a working day from 2005.
    ({"from": "2004-05-01", "days": 30, "roll": "forward"},
     "2004-05-01 + 30 dagar = 2004-05-31, annandag pingst 2004 var helgdag → tisdag 2004-06-01"),
    ({"from": "2005-04-15", "days": 30, "roll": "forward"},
     "2005-04-15 + 30 dagar = 2005-05-15, pingstdagen → måndag 2005-05-16 (annandag pingst var inte helgdag 2005)"),
    ({"from": "2005-04-16", "days": 30, "roll": "forward"},
     "2005-04-16 + 30 dagar = 2005-05-16 (annandag pingst var inte helgdag 2005)"),
    # 6 June: a working day in 2004, the first National Day holiday in 2005.
    ({"from": "2004-05-07", "days": 30, "roll": "forward"},
     "2004-05-07 + 30 dagar = 2004-06-06, söndag → måndag 2004-06-07"),
    ({"from": "2003-05-07", "days": 30, "roll": "forward"},
     "2003-05-07 + 30 dagar = 2003-06-06 (6 juni var inte helgdag 2003)"),
    ({"from": "2005-05-07", "days": 30, "roll": "forward"},
     "2005-05-07 + 30 dagar = 2005-06-06, nationaldagen 2005 var helgdag → tisdag 2005-06-07"),
    ({"from": "2025-05-21", "days": 30, "roll": "forward"},
     "2025-05-21 + 30 dagar = 2025-06-20, midsommarafton; 2025-06-21 midsommardagen; "
     "2025-06-22 söndag → måndag 2025-06-23"),
    # Rolled back over a weekend and midsommar: every day passed over is named.
    ({"from": "2025-07-13", "days": -21, "roll": "back"},
     "2025-07-13 − 21 dagar = 2025-06-22, söndag; 2025-06-21 midsommardagen; "
     "2025-06-20 midsommarafton → torsdag 2025-06-19"),
    # Christmas to New Year.
    ({"from": "2025-11-24", "days": 30, "roll": "forward"},
     "2025-11-24 + 30 dagar = 2025-12-24, julafton; 2025-12-25 juldagen; 2025-12-26 annandag jul; "
     "2025-12-27 lördag; 2025-12-28 söndag → måndag 2025-12-29"),
    # Business days: Easter and the weekends do not count.
    ({"from": "2025-04-11", "days": 0, "roll": None, "business_days": 5},
     "2025-04-11 + 5 vardagar = tisdag 2025-04-22"),   # 14–17 April, then Easter: 22 April
    ({"from": "2008-02-29", "days": 0, "roll": None, "years": 18}, "2008-02-29 + 18 år = 2026-03-01"),
])
def test_deadline_arithmetic_in_words(basis, text):
    assert deadline_sv(basis) == text


def test_a_due_date_that_was_not_computed_has_no_arithmetic():
    assert deadline_sv(None) is None
