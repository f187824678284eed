"""A month of nightly scans with a store, on SQLite and PostgreSQL.

Every night of March 2025 the real engine scans that night's export (the log as the case
system had it that day: growing, with a meeting moved, an attendance corrected and then
reverted, events in a different order every night, and forty historical cases that do
not change) and the store records it. Each night's changes.jsonl must be exactly what a
plain comparison of the two nights' findings gives, and the story of the scripted cases
must show every kind of change: new, changed (status, due, actual), resolved, reopened.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from compliance.events import parse_at
from compliance.findings import sort_key
from compliance.state import DeviationFiling, finding_history, get_finding, no_draft_ids, record_scan
from gen import generate_cases
from helpers import ev
from state_support import new_store_url, run_info, store, store_url  # noqa: F401

MARCH = [dt.date(2025, 3, d) for d in range(1, 32)]
MATERIAL = ("status", "due", "actual", "rule_version")


def export_of(day: dt.date) -> list[str]:
    """The log as exported on `day` (only what had been recorded by then)."""
    lines: list[str] = []

    def since(first: str, *events: str) -> None:
        if day >= dt.date.fromisoformat(first):
            lines.extend(events)

    # K-A: a 30-day clock from 14 Feb with no meeting planned; the meeting is held late, 20 Mar.
    lines += [ev("a1", "sip.initiated", "2025-02-14", case="K-A"), ev("a2", "consent.given", "2025-02-14", case="K-A")]
    since("2025-03-20", ev("a3", "meeting.held", "2025-03-20", case="K-A", meeting="MA", kind="sip",
                           attendees=["soc"]))
    # K-B: a meeting for 28 Mar, moved to 4 Apr on 5 Mar; the invitation goes out late, 17 Mar.
    lines += [ev("b1", "sip.initiated", "2025-02-20", case="K-B"), ev("b2", "consent.given", "2025-02-20", case="K-B"),
              ev("b3", "meeting.scheduled", "2025-02-21", case="K-B", meeting="MB", kind="sip", date="2025-03-28")]
    since("2025-03-05", ev("b4", "meeting.rescheduled", "2025-03-05", case="K-B", meeting="MB", date="2025-04-04"))
    since("2025-03-17", ev("b5", "invitation.sent", "2025-03-17", case="K-B", meeting="MB", to="bup"))
    # K-C: BUP stayed away on 7 Feb; the export says otherwise from 12 to 14 Mar, then reverts.
    # The absence is reported as AV-2025-07 on 20 Mar.
    attended = ["soc", "bup"] if dt.date(2025, 3, 12) <= day < dt.date(2025, 3, 15) else ["soc"]
    lines += [ev("c1", "sip.initiated", "2025-01-10", case="K-C"), ev("c2", "consent.given", "2025-01-10", case="K-C"),
              ev("c3", "meeting.scheduled", "2025-01-10", case="K-C", meeting="MC", kind="sip", date="2025-02-07"),
              ev("c4", "invitation.sent", "2025-01-13", case="K-C", meeting="MC", to="bup"),
              ev("c5", "meeting.held", "2025-02-07", case="K-C", meeting="MC", attendees=attended)]
    since("2025-03-20", ev("c6", "deviation.filed", "2025-03-20", case="K-C", deviation="AV-2025-07",
                           to="bup", **{"from": "soc"}))
    # K-D: a meeting on 7 Apr (send the invitations by 17 Mar), moved a day on 12 Mar.
    lines += [ev("d1", "sip.initiated", "2025-03-03", case="K-D"), ev("d2", "consent.given", "2025-03-03", case="K-D")]
    since("2025-03-04", ev("d3", "meeting.scheduled", "2025-03-04", case="K-D", meeting="MD", kind="sip",
                           date="2025-04-07"))
    since("2025-03-12", ev("d4", "meeting.rescheduled", "2025-03-12", case="K-D", meeting="MD", date="2025-04-08"))
    since("2025-03-19", ev("d5", "meeting.held", "2025-03-19", case="K-D", meeting="MD", attendees=["soc"]))
    lines += [json.dumps(e, ensure_ascii=False) for e in generate_cases(random.Random(12), 40, 2003, 2024)]
    random.Random(day.toordinal()).shuffle(lines)     # every night's export in another order
    return lines


def filings_of(lines: list[str]) -> list[DeviationFiling]:
    out = []
    for line in lines:
        e = json.loads(line)
        if e["type"] == "deviation.filed":
            out.append(DeviationFiling(e["case"], e.get("to"), e["deviation"], e["id"], parse_at(e["at"])[0],
                                       e.get("from")))
    return out


@pytest.fixture(scope="module")
def month():
    """Each night's (findings, filings), scanned once for both databases."""
    from compliance.scan import scan_lines
    nights = []
    for day in MARCH:
        lines = export_of(day)
        found = scan_lines(lines, day, workers=1).findings
        if day.day in (1, 15, 31):     # ids do not depend on the order of the lines
            again = scan_lines(sorted(lines), day, workers=1).findings
            assert [f["id"] for f in again] == [f["id"] for f in found]
        nights.append((found, filings_of(lines)))
    return nights


def expected_changes(before: dict, ever: dict, tonight: list[dict]) -> dict:
    """What a plain comparison of two nights says changed, by id."""
    now = {f["id"]: f for f in tonight}
    out = {}
    for fid, f in now.items():
        if fid not in ever:
            out[fid] = ("new", None)
            continue
        fields = {k: {"old": ever[fid][k], "new": f[k]} for k in MATERIAL if ever[fid][k] != f[k]} or None
        if fid not in before:
            out[fid] = ("reopened", fields)
        elif fields:
            out[fid] = ("changed", fields)
    for fid in before.keys() - now.keys():
        out[fid] = ("resolved", None)
    return out


def test_a_month_of_nights_gives_exact_changes_every_night(month, store, tmp_path):
    before: dict = {}
    ever: dict = {}
    story = []
    for day, (found, filings) in zip(MARCH, month):
        path = tmp_path / f"{day}.jsonl"
        changes = record_scan(store, run_info(day), found, filings, changes_path=path)
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
        expected = expected_changes(before, ever, found)
        assert {x["id"]: (x["change"], x.get("fields")) for x in lines} == expected, day
        subjects = {**ever, **{f["id"]: f for f in found}}
        assert [x["id"] for x in lines] == [f["id"] for f in sorted((subjects[i] for i in expected), key=sort_key)]
        assert (changes.new, changes.changed, changes.resolved, changes.reopened) == tuple(
            sum(1 for c, _ in expected.values() if c == kind) for kind in ("new", "changed", "resolved", "reopened"))
        for x in lines:
            if x["case"].startswith("K-"):
                story.append((day.day, x["case"], x["rule"], x["change"], tuple(sorted(x.get("fields") or ()))))
            if x["change"] != "resolved":
                assert {k: v for k, v in x.items() if k not in ("change", "fields")} == subjects[x["id"]]
        before = {f["id"]: f for f in found}
        ever.update(before)

    assert story == [
        (1, "K-A", "meeting-within-30-days", "new", ()),         # no meeting planned: warned early
        (1, "K-B", "invitation-notice", "new", ()),
        (1, "K-B", "meeting-within-30-days", "new", ()),
        (1, "K-C", "mandatory-attendance", "new", ()),
        (3, "K-D", "meeting-within-30-days", "new", ()),
        (5, "K-B", "invitation-notice", "resolved", ()),         # moved out of the warning horizon
        (7, "K-B", "invitation-notice", "reopened", ("due",)),   # back in it, due a week later
        (10, "K-D", "invitation-notice", "new", ()),
        (12, "K-C", "mandatory-attendance", "resolved", ()),     # the export says BUP came
        (12, "K-D", "invitation-notice", "changed", ("due",)),   # the meeting moved a day
        (15, "K-C", "mandatory-attendance", "reopened", ()),     # ... and reverts
        (17, "K-B", "invitation-notice", "resolved", ()),        # no more warning:
        (17, "K-B", "invitation-notice", "new", ()),             # the invitation went out late
        (18, "K-A", "meeting-within-30-days", "changed", ("status",)),   # warning -> violation
        (19, "K-D", "invitation-notice", "resolved", ()),        # held in time
        (19, "K-D", "meeting-within-30-days", "resolved", ()),
        (20, "K-A", "meeting-within-30-days", "resolved", ()),   # held late: the breach is now
        (20, "K-A", "meeting-within-30-days", "new", ()),        # about that meeting (its id says so)
        (25, "K-B", "meeting-within-30-days", "changed", ("status",)),
    ]

    # The log's deviation for the absence counts as a decision: no draft for it any more.
    [absence] = [f for f in month[-1][0] if f["case"] == "K-C"]
    item = get_finding(store, absence["id"])
    assert item.review.status == "deviation-filed" and item.review.deviation_reference == "AV-2025-07"
    assert absence["id"] in no_draft_ids(store)
    kinds = [(e.run_id, e.change) for e in finding_history(store, absence["id"]).changes]
    assert kinds == [(1, "new"), (12, "resolved"), (15, "reopened")]
