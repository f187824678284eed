"""Recording scans: exactly what changed since the previous run, in changes.jsonl order,
in one transaction, in bounded memory; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from compliance.findings import sort_key
from compliance.state import StateError, list_findings, open_store, record_scan, recording
from compliance.state.schema import runs
from state_support import finding, new_store_url, run_info, store, store_url  # noqa: F401


def night(store, as_of, found, tmp_path, filings=()):
    """Record one night; (counts, changes.jsonl lines)."""
    path = tmp_path / f"changes-{as_of}.jsonl"
    changes = record_scan(store, run_info(as_of), found, filings, changes_path=path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return changes, lines


def brief(lines):
    return [(line["id"], line["change"], line.get("fields")) for line in lines]


def test_four_nights_give_exactly_the_changes_of_each_night(store, tmp_path):
    absent = finding("K1", event="e1", unit="bup")
    late = finding("K1", "invitation-notice", event="e2", unit="soc", status="warning", due="2025-03-10",
                   days_late=-2, business_days_late=-2)
    clock = finding("K2", "meeting-within-30-days", event="e9", meeting=None, unit="soc", due="2025-03-20")

    changes, lines = night(store, "2025-03-04", [absent, late], tmp_path)
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (2, 0, 0, 0)
    assert brief(lines) == [(late["id"], "new", None), (absent["id"], "new", None)]   # by rule in K1
    assert lines[1] == {"id": absent["id"], "change": "new", **{k: v for k, v in absent.items() if k != "id"}}

    # The warning becomes a violation and its lateness grows; a new case appears.
    late_violation = {**late, "status": "violation", "days_late": 1, "business_days_late": 1}
    absent_later = {**absent, "days_late": 2, "business_days_late": 2}     # lateness only: no change
    changes, lines = night(store, "2025-03-11", [absent_later, late_violation, clock], tmp_path)
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (1, 1, 0, 0)
    assert brief(lines) == [(late["id"], "changed", {"status": {"old": "warning", "new": "violation"}}),
                            (clock["id"], "new", None)]

    # The absence is gone (an edited log); the clock's deadline moves.
    clock_moved = {**clock, "due": "2025-03-24"}
    changes, lines = night(store, "2025-03-12", [late_violation, clock_moved], tmp_path)
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (0, 1, 1, 0)
    assert brief(lines) == [(absent["id"], "resolved", None),
                            (clock["id"], "changed", {"due": {"old": "2025-03-20", "new": "2025-03-24"}})]
    assert lines[0]["days_late"] == 2 and lines[0]["status"] == "violation"     # its last known fields

    # The absence is back, with a later due date and a new rule version.
    absent_back = {**absent, "due": "2025-03-05", "rule_version": "2025-01-01"}
    changes, lines = night(store, "2025-03-13", [absent_back, late_violation, clock_moved], tmp_path)
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (0, 0, 0, 1)
    assert brief(lines) == [(absent["id"], "reopened", {
        "due": {"old": "2025-03-03", "new": "2025-03-05"},
        "rule_version": {"old": "2018-04-17", "new": "2025-01-01"}})]
    assert changes.summary_line() == "Ändringar sedan förra körningen: nya 0, ändrade 0, lösta 0, återöppnade 1"

    # Nothing changes: an empty changes.jsonl, and ids stable all along.
    changes, lines = night(store, "2025-03-14", [absent_back, late_violation, clock_moved], tmp_path)
    assert lines == [] and changes.present == 3
    assert sorted(f.id for f in list_findings(store, which="all")) == sorted(
        [absent["id"], late["id"], clock["id"]])


def test_lateness_counters_are_kept_current_but_are_no_change(store, tmp_path):
    open_one = finding(days_late=3, business_days_late=2)
    night(store, "2025-03-06", [open_one], tmp_path)
    grown = {**open_one, "days_late": 10, "business_days_late": 7,
             "message": "Fortfarande inte gjort"}
    changes, lines = night(store, "2025-03-13", [grown], tmp_path)
    assert changes.changed == 0 and lines == []
    [stored] = list_findings(store)
    assert stored.finding == grown


def test_changes_are_sorted_exactly_like_findings_jsonl(store, tmp_path):
    cases = ["K-10", "K-9", "k-1", "Ärende-1", "Zeta", "Å", "é", "Ω", "K 1", "K-1", "🙂", "A"]
    found = [finding(case, rule, event=event, meeting=None, unit=unit, due=due, status=status)
             for case in cases
             for rule, event, unit, due, status in [
                 ("invitation-notice", "e2", "soc", "2025-02-10", "violation"),
                 ("invitation-notice", "e10", "soc", "2025-02-10", "violation"),
                 ("invitation-notice", "e1", "soc", "2025-02-09", "warning"),
                 ("mandatory-attendance", None, "bup", "2025-02-10", "violation"),
                 ("mandatory-attendance", "e1", "Bup", "2025-02-10", "violation"),
                 ("mandatory-attendance", "e1", "bup", "2025-02-10", "violation")]]
    _, lines = night(store, "2025-03-01", list(reversed(found)), tmp_path)
    assert [line["id"] for line in lines] == [f["id"] for f in sorted(found, key=sort_key)]
    _, lines = night(store, "2025-03-02", [], tmp_path)          # all resolved: the same order
    assert [line["change"] for line in lines] == ["resolved"] * len(found)
    assert [line["id"] for line in lines] == [f["id"] for f in sorted(found, key=sort_key)]


def test_the_run_is_recorded_with_its_facts(store, tmp_path):
    inputs = [{"path": "logg.jsonl", "sha256": "a" * 64, "lines": 12}]
    counts = {"lines": 12, "events": 11, "rejects": 1, "findings": {"mandatory-attendance": 1}}
    started = dt.datetime(2025, 3, 4, 1, 0, tzinfo=dt.timezone.utc)
    info = run_info("2025-03-04", profile="core", inputs=inputs, counts=counts, started_at=started,
                    rules_digest="b" * 64)
    changes = record_scan(store, info, [finding()])
    with store.read() as conn:
        row = conn.execute(select(runs)).mappings().one()
    assert row["id"] == changes.run_id and row["as_of"] == dt.date(2025, 3, 4)
    assert (row["profile"], row["rules_digest"], row["inputs"], row["counts"]) == ("core", "b" * 64, inputs, counts)
    assert row["started_at"] == started and row["ended_at"] > started
    assert (row["findings"], row["new"], row["changed"], row["resolved"], row["reopened"]) == (1, 1, 0, 0, 0)
    assert row["tool_version"]


def test_a_failure_inside_the_recording_leaves_the_store_as_it_was(store, tmp_path):
    night(store, "2025-03-04", [finding()], tmp_path)

    def broken():
        yield finding(case="K2")
        raise RuntimeError("the scan died")

    with pytest.raises(RuntimeError):
        with recording(store, run_info("2025-03-05")) as rec:
            rec.add_findings(broken())
    dup = finding(case="K3")
    with pytest.raises(StateError, match="samma id"):
        record_scan(store, run_info("2025-03-05"), [dup, finding(case="K4"), dup])
    with store.read() as conn:
        assert conn.execute(select(runs.c.id)).scalars().all() == [1]
    changes, lines = night(store, "2025-03-06", [finding(case="K2")], tmp_path)
    assert changes.previous_run == 1
    assert brief(lines) == [(finding()["id"], "resolved", None), (finding(case="K2")["id"], "new", None)]


def test_recording_memory_does_not_grow_with_the_number_of_findings(new_store_url):
    """Three times the findings, the same peak: they are streamed, never held."""
    def peak_for(n: int) -> int:
        def many():
            for i in range(n):
                yield finding(f"K{i:06d}", event=f"e{i}")
        with open_store(new_store_url(), create=True) as fresh:
            tracemalloc.start()
            try:
                changes = record_scan(fresh, run_info("2025-03-04"), many())
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
                assert changes.new == n

    small, large = peak_for(5_000), peak_for(15_000)
    assert large < small * 1.3, f"peak {small / 1e6:.1f} MB for 5 000, {large / 1e6:.1f} MB for 15 000"


# --- Property: over any sequence of nights, the recorded changes are those of a plain model.

UNIVERSE = [("K1", "e1", "bup"), ("K1", "e2", "soc"), ("K2", "e3", "bup"), ("K3", "e4", None),
            ("K3", None, "skola"), ("K4", "e5", "bup")]
night_strategy = st.dictionaries(
    st.sampled_from(range(len(UNIVERSE))),
    st.tuples(st.sampled_from(["violation", "warning"]), st.sampled_from(["2025-03-03", "2025-03-10"]),
              st.sampled_from([None, "2025-03-12"]), st.sampled_from(["2018-04-17", "2025-01-01"]),
              st.integers(-5, 30)),
    max_size=len(UNIVERSE))


def _model_changes(known: dict, present: set, tonight: dict) -> dict:
    expected = {}
    for fid, fields in tonight.items():
        if fid not in known:
            expected[fid] = ("new", None)
        else:
            differ = {k: {"old": known[fid][k], "new": fields[k]} for k in fields if known[fid][k] != fields[k]}
            if fid not in present:
                expected[fid] = ("reopened", differ or None)
            elif differ:
                expected[fid] = ("changed", differ)
    for fid in present - set(tonight):
        expected[fid] = ("resolved", None)
    return expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nights=st.lists(night_strategy, min_size=1, max_size=6))
def test_recorded_changes_match_a_plain_model_of_the_nights(store, tmp_path, nights):
    # One store for all examples: each example's findings are new (their own case ids),
    # after a night with no findings at all has resolved the previous example's.
    record_scan(store, run_info("2025-02-28"), [])
    prefix = uuid.uuid4().hex[:8]
    known: dict = {}
    last: dict = {}
    present: set = set()
    for day, chosen in enumerate(nights, start=1):
        found = []
        for index, (status, due, actual, version, late) in chosen.items():
            case, event, unit = UNIVERSE[index]
            found.append(finding(f"{prefix}-{case}", event=event, unit=unit, status=status, due=due,
                                 actual=actual, rule_version=version, days_late=late, business_days_late=late))
        tonight = {f["id"]: {k: f[k] for k in ("status", "due", "actual", "rule_version")} for f in found}
        expected = _model_changes(known, present, tonight)
        changes, lines = night(store, dt.date(2025, 3, day), found, tmp_path)
        assert {line["id"]: (line["change"], line.get("fields")) for line in lines} == expected
        subjects = {f["id"]: f for f in found}
        assert [line["id"] for line in lines] == [
            f["id"] for f in sorted((subjects.get(i) or last[i] for i in expected), key=sort_key)]
        counts = {c: sum(1 for change, _ in expected.values() if change == c)
                  for c in ("new", "changed", "resolved", "reopened")}
        assert (changes.new, changes.changed, changes.resolved, changes.reopened) == tuple(counts.values())
        known.update(tonight)
        last.update((f["id"], f) for f in found)
        present = set(tonight)
        assert changes.present == len(present)
