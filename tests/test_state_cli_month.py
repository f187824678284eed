"""A month of nightly scans through the command line, as cron runs them, on SQLite and
PostgreSQL: `compliance scan LOG --as-of DAY --out OUT --state URL` every night of March
2025, on that night's export (growing, in another order every night, with a meeting
moved, an attendance edited and reverted, an event deleted, and a deviation filed in the
log). Every night's changes.jsonl must be exactly what comparing the nights' findings
gives, its summary line must count it, findings.jsonl must be what a scan without a store
writes, and the log's filed deviation must take its draft away.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from compliance.findings import sort_key
from helpers import ev
from state_support import new_store_url, store_url  # noqa: F401
from test_state_month import MARCH, expected_changes, export_of
from test_state_scan import drafts, jsonl, scan

COUNTS = re.compile(r"Ändringar (?:sedan förra körningen|\(första körningen i tillståndet\)): nya (\d+), "
                    r"ändrade (\d+), lösta (\d+), återöppnade (\d+)")


def export_with_deletion(day: dt.date) -> list[str]:
    """export_of(day), and K-E: a SIP started 20 Jan with no meeting by its deadline; on
    10 Mar a meeting is registered in the case by mistake, and deleted again on 14 Mar."""
    lines = export_of(day)
    lines += [ev("e1", "sip.initiated", "2025-01-20", case="K-E"), ev("e2", "consent.given", "2025-01-20", case="K-E")]
    if dt.date(2025, 3, 10) <= day < dt.date(2025, 3, 14):
        lines.append(ev("e3", "meeting.held", "2025-03-10", case="K-E", meeting="ME", kind="sip", attendees=["soc"]))
    return lines[::-1] if day.day % 2 else lines


def test_a_month_of_nightly_scans_through_the_cli_gives_exact_changes_every_night(store_url, tmp_path):
    log, out, plain = tmp_path / "export.jsonl", tmp_path / "out", tmp_path / "plain"
    before: dict = {}
    ever: dict = {}
    story = []
    for day in MARCH:
        log.write_text("\n".join(export_with_deletion(day)) + "\n", encoding="utf-8")
        result = scan(out, day.isoformat(), "--state", store_url, log=log)
        found = jsonl(out / "findings.jsonl")
        if day.day in (1, 14, 20, 31):
            scan(plain, day.isoformat(), log=log)
            assert (out / "findings.jsonl").read_bytes() == (plain / "findings.jsonl").read_bytes(), day

        lines = jsonl(out / "changes.jsonl")
        expected = expected_changes(before, ever, found)
        assert {x["id"]: (x["change"], x.get("fields")) for x in lines} == expected, day
        subjects = {**ever, **{f["id"]: f for f in found}}
        assert [x["id"] for x in lines] == [f["id"] for f in sorted((subjects[i] for i in expected), key=sort_key)]
        for x in lines:
            if x["change"] != "resolved":
                assert {k: v for k, v in x.items() if k not in ("change", "fields")} == subjects[x["id"]]
            if x["case"] == "K-E":
                story.append((day.day, x["rule"], x["meeting"], x["change"]))
        [counts] = COUNTS.findall(result.stderr)
        assert tuple(map(int, counts)) == tuple(
            sum(1 for c, _ in expected.values() if c == kind) for kind in ("new", "changed", "resolved", "reopened"))

        # BUP's absence in K-C has a draft until the log says it was reported (20 Mar).
        absence = [f for f in found if f["case"] == "K-C" and f["rule"] == "mandatory-attendance"]
        assert ("K-C__bup" in drafts(out)) == (bool(absence) and day < dt.date(2025, 3, 20)), day
        before = {f["id"]: f for f in found}
        ever.update(before)

    # The meeting registered by mistake and deleted: the breach comes back as it was.
    assert story == [
        (1, "meeting-within-30-days", None, "new"),
        (10, "meeting-within-30-days", None, "resolved"),
        (10, "meeting-within-30-days", "ME", "new"),
        (14, "meeting-within-30-days", None, "reopened"),
        (14, "meeting-within-30-days", "ME", "resolved"),
    ]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["state"]["run"] == len(MARCH) and manifest["state"]["previous_run"] == len(MARCH) - 1
