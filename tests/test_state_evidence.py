"""Each case's evidence events and summary in the store, for the review app and its drafts,
on SQLite and PostgreSQL: what the scan's evidence.jsonl and cases.jsonl hold, kept for
the newest run, rewritten only for the cases that changed, gone with the case."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from compliance.scan import scan_lines
from compliance.state import (StateError, UnknownFinding, case_details, case_evidence, case_summary,
                              finding_evidence, recording)
from compliance.state.schema import case_summaries
from helpers import ev
from state_support import new_store_url, run_info, store, store_url  # noqa: F401

AS_OF = dt.date(2025, 3, 31)


def export(attended: list[str], with_k2: bool = True) -> list[str]:
    """K1: BUP invited and absent (a finding citing three events); K2: a late meeting."""
    lines = [ev("k1-1", "sip.initiated", "2025-01-10", case="K1"),
             ev("k1-2", "consent.given", "2025-01-10T10:15:00+01:00", case="K1"),
             ev("k1-3", "meeting.scheduled", "2025-01-10", case="K1", meeting="M1", kind="sip", date="2025-02-07"),
             ev("k1-4", "invitation.sent", "2025-01-13", case="K1", meeting="M1", to="bup"),
             ev("k1-5", "meeting.held", "2025-02-07", case="K1", meeting="M1", attendees=attended)]
    if with_k2:
        lines += [ev("k2-1", "sip.initiated", "2025-01-02", case="K2"),
                  ev("k2-2", "consent.given", "2025-01-02", case="K2"),
                  ev("k2-3", "meeting.held", "2025-03-03", case="K2", meeting="M1", kind="sip", attendees=["soc"])]
    return lines


def record(store, lines: list[str], as_of: dt.date = AS_OF):
    result = scan_lines(lines, as_of, workers=1)
    with recording(store, run_info(as_of)) as rec:
        rec.add_findings(result.findings)
        written = rec.put_case_details(case_details(result.cases, result.evidence))
    return result, written


def written_by(store) -> dict[str, int]:
    with store.read() as conn:
        return dict(conn.execute(select(case_summaries.c.case, case_summaries.c.run_id)).all())


def test_the_store_keeps_each_cases_evidence_and_summary_as_the_scan_wrote_them(store):
    result, written = record(store, export(["soc"]))
    assert written == 2
    for case in ("K1", "K2"):
        assert case_summary(store, case) == next(c for c in result.cases if c["case"] == case)
        assert case_evidence(store, case) == [e for e in result.evidence if e["case"] == case]
    [absence] = [f for f in result.findings if f["rule"] == "mandatory-attendance"]
    rows = finding_evidence(store, absence["id"])
    assert [r["id"] for r in rows] == absence["evidence"] and len(rows) >= 2
    assert set(rows[0]) == {"id", "case", "type", "date", "time", "unit", "meeting", "to", "kind", "planned"}
    assert case_summary(store, "K9") is None and case_evidence(store, "K9") == []
    with pytest.raises(UnknownFinding):
        finding_evidence(store, "0" * 16)


def test_only_changed_cases_are_rewritten_and_a_case_gone_from_the_log_is_removed(store):
    record(store, export(["soc"]))
    assert written_by(store) == {"K1": 1, "K2": 1}
    _, written = record(store, export(["soc"]))                       # the same log again
    assert written == 0 and written_by(store) == {"K1": 1, "K2": 1}
    result, written = record(store, export(["soc", "bup"]))          # BUP did come after all
    assert written == 1 and written_by(store) == {"K1": 3, "K2": 1}
    assert case_evidence(store, "K1") == [e for e in result.evidence if e["case"] == "K1"]
    assert "mandatory-attendance" not in {f["rule"] for f in result.findings}
    record(store, export(["soc", "bup"], with_k2=False))
    assert written_by(store) == {"K1": 3}
    assert case_summary(store, "K2") is None and case_evidence(store, "K2") == []


def test_a_scan_that_fails_leaves_the_cases_as_they_were(store):
    result, _ = record(store, export(["soc"]))
    before = case_evidence(store, "K1")
    other = scan_lines(export(["soc", "bup"], with_k2=False), AS_OF, workers=1)
    with pytest.raises(RuntimeError):
        with recording(store, run_info(AS_OF)) as rec:
            rec.put_case_details(case_details(other.cases, other.evidence))
            raise RuntimeError("died")
    assert case_evidence(store, "K1") == before and case_summary(store, "K2") is not None


def test_evidence_out_of_the_cases_order_is_refused_not_dropped():
    summaries = [{"case": "K1"}, {"case": "K2"}]
    rows = [{"id": "e2", "case": "K2"}, {"id": "e1", "case": "K1"}]
    with pytest.raises(StateError, match="K1"):
        list(case_details(summaries, rows))
