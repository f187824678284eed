"""Review decisions: what each does to a finding's place on the lists and in the drafts,
what a material change does to them, what is refused, and the log's deviation.filed;
through the API and through `compliance review`, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from compliance.cli import main
from compliance.state import (DecisionError, DeviationFiling, UnknownFinding, UsageError, deviation_references,
                              finding_history, get_finding, list_findings, no_draft_ids, record_decision,
                              record_scan)
from compliance.state.decisions import Decision
from compliance.state.review import review_of
from compliance.state.schema import decisions
from state_support import finding, new_store_url, run_info, store, store_url  # noqa: F401

ABSENT = finding("K1", event="e1", unit="bup")
LATE = finding("K1", "invitation-notice", event="e2", unit="soc", status="warning", due="2025-03-10")
OTHER = finding("K2", event="e7", unit="skola")


def decision_count(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(decisions)).scalar_one()


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def scanned(store):
    record_scan(store, run_info("2025-03-04"), [ABSENT, LATE, OTHER])
    return store


def status_of(store, f) -> str:
    return get_finding(store, f["id"]).review.status


def test_each_decision_decides_the_lists_and_the_drafts(scanned):
    store = scanned
    assert {f.id for f in list_findings(store)} == {ABSENT["id"], LATE["id"], OTHER["id"]}
    assert no_draft_ids(store) == set()

    record_decision(store, ABSENT["id"], "acknowledged", by="Anna Chef")
    assert status_of(store, ABSENT) == "acknowledged"
    assert ABSENT["id"] in {f.id for f in list_findings(store)}          # stays on the list, marked
    assert get_finding(store, ABSENT["id"]).needs_draft

    record_decision(store, LATE["id"], "justified", by="Sara", reason="Mötet flyttades på begäran")
    record_decision(store, OTHER["id"], "data-error", by="Sara", reason="Fel enhet i exporten")
    assert {f.id for f in list_findings(store)} == {ABSENT["id"]}       # off the open list
    assert {f.id for f in list_findings(store, which="present")} == {ABSENT["id"], LATE["id"], OTHER["id"]}
    assert no_draft_ids(store) == {LATE["id"], OTHER["id"]}

    record_decision(store, ABSENT["id"], "deviation-filed", by="Anna Chef", reference="AV-2025-07")
    assert no_draft_ids(store) == {ABSENT["id"], LATE["id"], OTHER["id"]}
    assert deviation_references(store) == {ABSENT["id"]: "AV-2025-07"}
    assert get_finding(store, ABSENT["id"]).review.deviation_reference == "AV-2025-07"

    record_decision(store, LATE["id"], "reopen", by="Revisor", reason="Skälet räcker inte")
    assert status_of(store, LATE) == "open" and LATE["id"] in {f.id for f in list_findings(store)}
    assert no_draft_ids(store) == {ABSENT["id"], OTHER["id"]}

    # Appended, never replaced: the whole story is kept, oldest first.
    history = finding_history(store, LATE["id"])
    assert [(d.decision, d.by, d.reason) for d, _ in history.decisions] == [
        ("justified", "Sara", "Mötet flyttades på begäran"), ("reopen", "Revisor", "Skälet räcker inte")]
    assert decision_count(store) == 5


def test_unit_filter_shows_a_unit_head_only_their_units(scanned):
    assert [f.id for f in list_findings(scanned, units=["bup"])] == [ABSENT["id"]]
    assert {f.id for f in list_findings(scanned, units=["bup", "skola"])} == {ABSENT["id"], OTHER["id"]}
    assert list_findings(scanned, units=["ingen"]) == []


def test_a_material_change_reopens_a_decided_finding_and_dates_the_decision(scanned, store_url):
    store = scanned
    record_decision(store, LATE["id"], "justified", by="Sara", reason="Kallelsen gick med post")
    record_decision(store, ABSENT["id"], "justified", by="Sara", reason="Sjukdom")
    # Night 2: the warning is a violation now; the absence's rule version and lateness change.
    record_scan(store, run_info("2025-03-11"), [
        {**ABSENT, "rule_version": "2025-01-01", "days_late": 8}, {**LATE, "status": "violation"}, OTHER])
    late = get_finding(store, LATE["id"])
    assert late.review.status == "open" and late.review.decision is None
    assert [d.reason for d in late.review.before_change] == ["Kallelsen gick med post"]
    assert late.is_open and late.needs_draft
    assert status_of(store, ABSENT) == "justified"        # not a material change

    # A decision made after the change holds; a moved due date dates it again.
    record_decision(store, LATE["id"], "justified", by="Sara", reason="Ny bedömning")
    assert status_of(store, LATE) == "justified"
    record_scan(store, run_info("2025-03-12"), [ABSENT, {**LATE, "status": "violation", "due": "2025-03-11"},
                                                OTHER])
    assert status_of(store, LATE) == "open"
    assert status_of(store, ABSENT) == "justified"

    history = finding_history(store, LATE["id"])
    assert [(d.reason, stale) for d, stale in history.decisions] == [
        ("Kallelsen gick med post", True), ("Ny bedömning", True)]
    kinds = [getattr(e, "change", None) or e[0].decision for e in history.timeline()]
    assert kinds == ["new", "justified", "changed", "justified", "changed"]

    shown = cli("review", "history", LATE["id"], "--state", store_url)
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("[beslut före ändring]") == 2
    assert "ändrad: status warning → violation" in shown.output
    assert "ändrad: förfaller 2025-03-10 → 2025-03-11" in shown.output
    assert "granskning: öppen" in shown.output
    listed = cli("review", "list", "--state", store_url)
    assert f"{LATE['id']}" in listed.output and "öppen *" in listed.output
    assert "beslut före ändring" in listed.output


def test_what_is_refused_stores_nothing(scanned):
    store = scanned
    refusals = [
        (dict(decision="justified", by="Sara"), UsageError, "kräver ett skäl"),
        (dict(decision="data-error", by="Sara", reason="   "), UsageError, "kräver ett skäl"),
        (dict(decision="reopen", by="Sara"), UsageError, "kräver ett skäl"),
        (dict(decision="deviation-filed", by="Sara"), UsageError, "AV-2025-07"),
        (dict(decision="approved", by="Sara"), UsageError, "okänt beslut"),
        (dict(decision="acknowledged", by=" "), UsageError, "--by"),
        (dict(decision="justified", by="Sara", reason="Barnet 20150315-1233 flyttade"), DecisionError,
         "personnummer"),
        (dict(decision="justified", by="Sara", reason="se 150315+1233"), DecisionError, "personnummer"),
        (dict(decision="deviation-filed", by="Sara", reference="AV 201503151233"), DecisionError, "personnummer"),
        (dict(decision="acknowledged", by="150315-1233"), DecisionError, "personnummer"),
    ]
    for kw, error, words in refusals:
        with pytest.raises(error, match=words):
            record_decision(store, ABSENT["id"], kw.pop("decision"), **kw)
    with pytest.raises(UnknownFinding, match="ingen brist med id"):
        record_decision(store, "0123456789abcdef", "acknowledged", by="Sara")
    assert decision_count(store) == 0


def test_the_command_line_refuses_with_one_line_and_never_echoes_a_personal_number(scanned, store_url):
    url = store_url
    cases = [
        (["review", "set", ABSENT["id"], "justified", "--reason", "Barnet 20150315-1233", "--by", "Sara"], 1),
        (["review", "set", ABSENT["id"], "justified", "--by", "Sara"], 2),
        (["review", "set", ABSENT["id"], "godkänd", "--by", "Sara"], 2),
        (["review", "set", ABSENT["id"], "deviation-filed", "--by", "Sara"], 2),
        (["review", "set", "ffffffffffffffff", "acknowledged", "--by", "Sara"], 1),
        (["review", "history", "ffffffffffffffff"], 1),
    ]
    for args, code in cases:
        result = cli(*args, "--state", url)
        assert result.exit_code == code, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("compliance: "), result.stderr
        assert "1233" not in result.output
    assert decision_count(scanned) == 0

    done = cli("review", "set", ABSENT["id"], "deviation-filed", "--ref", "AV-2025-07", "--by", "Anna",
               "--reason", "Anmäld till BUP:s chef", "--state", url)
    assert done.exit_code == 0, done.output
    assert "avvikelse anmäld av Anna" in done.stderr
    shown = cli("review", "history", ABSENT["id"], "--state", url)
    assert 'avvikelse anmäld "AV-2025-07" — "Anmäld till BUP:s chef"' in shown.output
    assert "granskning: avvikelse anmäld (AV-2025-07)" in shown.output


def test_review_list_as_a_table_and_as_json_lines(scanned, store_url):
    url = store_url
    record_decision(scanned, LATE["id"], "justified", by="Sara", reason="Ok")
    table = cli("review", "list", "--state", url)
    assert table.exit_code == 0
    rows = table.stdout.splitlines()
    assert rows[0].split() == ["id", "ärende", "regel", "enhet", "status", "förfaller", "granskning", "läge", "ny"]
    assert [r.split()[0] for r in rows[1:]] == [ABSENT["id"], OTHER["id"]]     # the justified one is not open
    assert rows[1].split()[-3:] == ["öppen", "aktuell", "ny"]
    everything = cli("review", "list", "--all", "--unit", "soc", "--format", "jsonl", "--state", url)
    [line] = [__import__("json").loads(x) for x in everything.stdout.splitlines()]
    assert line["id"] == LATE["id"] and line["review_status"] == "justified" and line["new_since_last_run"]
    assert line["decision"]["by"] == "Sara" and line["decision"]["reason"] == "Ok"
    assert line["due"] == LATE["due"] and line["state"] == "present"

    record_scan(scanned, run_info("2025-03-05"), [ABSENT, LATE])               # OTHER resolved
    rows = cli("review", "list", "--all", "--state", url).stdout.splitlines()[1:]
    # Nothing is new tonight; the resolved one is shown as such.
    assert [(r.split()[0], r.split()[-1]) for r in rows] == [
        (LATE["id"], "aktuell"), (ABSENT["id"], "aktuell"), (OTHER["id"], "löst")]


def test_the_logs_deviation_filed_counts_once_for_findings_of_its_case_and_unit(store):
    filed = DeviationFiling(case="K1", to="bup", reference="AV-2025-07", event_id="d1",
                            date=dt.date(2025, 3, 10), from_unit="soc")
    elsewhere = DeviationFiling(case="K1", to="skola", reference="AV-2025-08", event_id="d2",
                                date=dt.date(2025, 3, 10))
    later = finding("K1", "invitation-notice", event="e5", unit="bup", due="2025-04-01")
    changes = record_scan(store, run_info("2025-03-11"), [ABSENT, LATE, later, OTHER], [filed, elsewhere, filed])
    assert changes.log_decisions == 1
    item = get_finding(store, ABSENT["id"])
    assert item.review.status == "deviation-filed" and item.review.deviation_reference == "AV-2025-07"
    d = item.review.decision
    assert (d.source, d.by, d.event_id, d.event_date, d.reason) == ("log", "soc", "d1", "2025-03-10", None)
    assert status_of(store, later) == "open"            # due after the filing: not what it reported
    assert status_of(store, LATE) == "open"             # another unit
    assert no_draft_ids(store) == {ABSENT["id"]}

    # The next nights read the same log: no second decision.
    again = record_scan(store, run_info("2025-03-12"), [ABSENT, LATE, later, OTHER], [filed, elsewhere])
    assert again.log_decisions == 0 and decision_count(store) == 1

    # The absence moves (a rescheduled meeting): the log's decision is dated, not repeated.
    moved = record_scan(store, run_info("2025-03-13"), [{**ABSENT, "due": "2025-03-04"}, LATE, later, OTHER],
                        [filed, elsewhere])
    assert moved.log_decisions == 0 and status_of(store, ABSENT) == "open"
    assert [stale for _, stale in finding_history(store, ABSENT["id"]).decisions] == [True]


def test_a_filing_recorded_once_covers_a_finding_that_reappears(store):
    filed = DeviationFiling("K1", "bup", "AV-2025-07", "d1", dt.date(2025, 3, 10))
    record_scan(store, run_info("2025-03-11"), [LATE], [filed])     # nothing to match yet
    assert decision_count(store) == 0
    record_scan(store, run_info("2025-03-12"), [LATE, ABSENT], [filed])
    assert status_of(store, ABSENT) == "deviation-filed"
    assert get_finding(store, ABSENT["id"]).review.decision.by == "logg"


# --- The rule itself, on any sequence of decisions and material changes.

decision_kinds = st.sampled_from(["acknowledged", "deviation-filed", "justified", "data-error", "reopen"])


@given(st.lists(st.tuples(decision_kinds, st.integers(1, 6)), max_size=8), st.one_of(st.none(), st.integers(1, 7)))
def test_the_newest_decision_after_the_last_material_change_decides(made, changed_in):
    ds = [Decision(i, "f", kind, "skäl", "AV-1", "x", dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), "cli",
                   None, run) for i, (kind, run) in enumerate(sorted(made, key=lambda m: m[1]))]
    review = review_of(ds, changed_in)
    valid = [d for d in ds if changed_in is None or d.seen_run >= changed_in]
    if not valid:
        assert review.status == "open" and review.decision is None
    else:
        assert review.decision == valid[-1]
        assert review.status == ("open" if valid[-1].decision == "reopen" else valid[-1].decision)
    assert set(review.before_change) | set(valid) == set(ds)
    assert not set(review.before_change) & set(valid)
