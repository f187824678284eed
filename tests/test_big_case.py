"""Big cases: one case of thousands of consent events is decided like any other, and a case
too big for the engine is one error line, not a stalled night (issue 15).

The time a big case takes is measured in benchmarks/big_case.py, not here.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from gen import consent_heavy_case
from helpers import ev
from reference import evaluate, project


def test_a_case_of_thousands_of_consent_events_gets_the_reference_findings(scan):
    lines = consent_heavy_case(5000)
    types = Counter(json.loads(line)["type"] for line in lines)
    assert types["consent.given"] + types["consent.withdrawn"] > 2500
    result = scan(lines, as_of="2026-06-30")
    assert result.errors == []
    found = project(result.findings)
    assert found == evaluate(lines, date(2026, 6, 30))
    # the consent timeline decides something both ways: meetings without consent in force,
    # and SIP clocks that start only when consent is given again
    rules = Counter(f["rule"] for f in found)
    assert rules["consent-before-meeting"] > 10 and rules["meeting-within-30-days"] > 10


def test_a_case_too_big_for_the_engine_is_an_error_line_and_the_others_are_decided(monkeypatch, scan):
    import compliance.session as session

    pool = session.fact_ids()[:500]
    monkeypatch.setattr(session, "fact_ids", lambda n=None: pool)
    big = consent_heavy_case(600, case="STOR")
    small = [ev("s1", "meeting.scheduled", "2025-03-01", case="K2", meeting="M1", kind="sip", date="2025-03-31"),
             ev("s2", "invitation.sent", "2025-03-20", case="K2", meeting="M1", to="bup")]
    result = scan(big + small)
    assert result.errors == [{"case": "STOR", "reason": "ärendet har för många händelser för regelmotorn "
                                                        "(över 500 fakta)"}]
    assert [(f["case"], f["rule"]) for f in result.findings if f["status"] == "violation"] == [
        ("K2", "invitation-notice")]
