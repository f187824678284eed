#!/usr/bin/env python3
"""The benchmark's yardstick: the five core obligations evaluated in plain Python.

    python benchmarks/yardstick.py LOG.jsonl --as-of 2026-06-30 --out findings.jsonl

What a competent programmer would write to check the five core rules of
docs/spec/obligations.md without a rules engine, in one process: read the JSON lines
with orjson, take each event's Stockholm date and time, group the events by case, order
each case (date, time, input order), evaluate the rules (with the dates from which each
is in force), and write the violations as findings.jsonl (the contract's fields, without
the Swedish message) sorted as the scan sorts them.

It is the yardstick of `benchmarks/bench.py`: the scan, which also validates every line,
writes rejects, evidence, case summaries, warnings and deviation drafts, is measured
against it in the same run. It is not a test oracle (that is tests/reference.py, written
independently); the business-day calendar is the project's own (`compliance.calendar`),
and lines the spec would reject are simply skipped here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from compliance import calendar as vardagar

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CHECKED_KINDS = ("sip", "sip_followup")          # invitation-notice, mandatory-attendance
NOT_OBLIGED = ("guardian", "child")              # mandatory-attendance
IN_FORCE_FROM = {                                # obligations.md, "When a rule is in force"
    "consent-before-meeting": dt.date(2010, 1, 1),
    "mandatory-attendance": dt.date(2010, 1, 1),
    "invitation-notice": dt.date(2013, 1, 1),
    "meeting-within-30-days": dt.date(2013, 1, 1),
    "sip-before-bus-individ": dt.date(2018, 4, 17),
}


def local_when(at: str) -> tuple[dt.date, int]:
    """The Stockholm date of `at` and the seconds after midnight (-1: a date only)."""
    if len(at) == 10:
        return dt.date.fromisoformat(at), -1
    moment = dt.datetime.fromisoformat(at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(STOCKHOLM)
    return moment.date(), moment.hour * 3600 + moment.minute * 60 + moment.second


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


@lru_cache(maxsize=None)
def business_days_late(due: dt.date, until: dt.date) -> int:
    return vardagar.business_days_between(due, until) if until >= due else \
        -vardagar.business_days_between(until, due)


@lru_cache(maxsize=None)
def deadline_of(start: dt.date) -> dt.date:
    return vardagar.roll_forward(start + dt.timedelta(days=30))


class Meeting:
    __slots__ = ("id", "kind", "held_kind", "convener", "held_unit", "planned", "held", "cancelled",
                 "invitations")

    def __init__(self, mid: str):
        self.id = mid
        self.kind = self.held_kind = self.convener = self.held_unit = None
        self.planned = None          # the latest planned date
        self.held = None             # the first meeting.held event
        self.cancelled = False       # the last of scheduled/rescheduled/cancelled is a cancel
        self.invitations = []


def read(path: Path, as_of: dt.date) -> dict[str, list[tuple]]:
    """Events by case: (date, seconds, input order, id, type, unit, fields); ids unique,
    events after as-of left out, lines that are not events skipped."""
    cases: dict[str, list[tuple]] = {}
    seen: set[str] = set()
    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            try:
                e = orjson.loads(line)
                when = local_when(e["at"])
            except (ValueError, KeyError, TypeError):
                continue
            eid = e["id"]
            if eid in seen or when[0] > as_of:
                continue
            seen.add(eid)
            cases.setdefault(e["case"], []).append((when[0], when[1], n, eid, e["type"], e.get("unit"), e))
    return cases


def finding(rule: str, case: str, event: str | None, meeting: str | None, unit: str | None,
            due: dt.date, actual: dt.date | None, evidence: list[str], as_of: dt.date) -> dict | None:
    if due < IN_FORCE_FROM[rule]:
        return None
    until = actual or as_of
    return {"id": hashlib.sha256(orjson.dumps([rule, case, event, meeting, unit])).hexdigest()[:16],
            "rule": rule, "case": case, "status": "violation", "event": event, "meeting": meeting,
            "unit": unit, "rule_version": IN_FORCE_FROM[rule].isoformat(), "due": due.isoformat(),
            "actual": actual.isoformat() if actual else None, "days_late": (until - due).days,
            "business_days_late": business_days_late(due, until), "evidence": evidence}


def evaluate_case(case: str, events: list[tuple], as_of: dt.date) -> list[dict]:
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    meetings: dict[str, Meeting] = {}
    consents: list[tuple[dt.date, bool, str]] = []      # (date, given?, id) in case order
    initiatives, requests, first_given = [], [], None
    for order, (d, _, _, eid, etype, unit, f) in enumerate(events):
        if etype == "consent.given" or etype == "consent.withdrawn":
            consents.append((d, etype == "consent.given", eid, unit))
            if first_given is None and etype == "consent.given":
                first_given = (d, eid, unit)
        elif etype == "sip.initiated":
            initiatives.append((d, eid, unit))
        elif etype == "bus_individ.requested":
            requests.append((d, eid, unit, f.get("meeting")))
        elif etype.startswith("meeting.") or etype == "invitation.sent":
            m = meetings.get(f["meeting"])
            if m is None:
                m = meetings[f["meeting"]] = Meeting(f["meeting"])
            if etype == "meeting.scheduled":
                if m.convener is None:
                    m.convener = unit
                if m.kind is None:
                    m.kind = f.get("kind")
                m.planned, m.cancelled = day(f["date"]), False
            elif etype == "meeting.rescheduled":
                m.planned, m.cancelled = day(f["date"]), False
            elif etype == "meeting.cancelled":
                m.cancelled = True
            elif etype == "meeting.held":
                if m.held is None:
                    m.held, m.held_unit = (d, eid, f, order), unit
                if m.held_kind is None:
                    m.held_kind = f.get("kind")
            else:
                m.invitations.append((d, eid, unit, f.get("to")))

    def in_force(on: dt.date) -> tuple | None:
        """The consent.given in force on `on` (the last consent event up to it), or None."""
        last = None
        for c in consents:
            if c[0] > on:
                break
            last = c
        return last if last is not None and last[1] else None

    out = []
    held_sip = []        # (date, meeting) of held sip meetings, in case order
    for m in meetings.values():
        kind = m.kind or m.held_kind
        convener = m.convener if m.convener is not None else m.held_unit
        if m.held is not None:
            hd, hid, hf, order = m.held
            if kind == "sip":
                held_sip.append((order, hd, m.id))
            if in_force(hd) is None:
                out.append(finding("consent-before-meeting", case, hid, m.id, convener, hd, hd, [hid], as_of))
            if kind in CHECKED_KINDS:
                attended = set(hf.get("attendees") or ())
                for _, iid, _, to in m.invitations:
                    if to not in NOT_OBLIGED and to not in attended:
                        out.append(finding("mandatory-attendance", case, hid, m.id, to, hd, hd, [iid, hid], as_of))
        if kind in CHECKED_KINDS and not (m.cancelled and m.held is None):
            when = m.held[0] if m.held is not None else m.planned
            if when is not None:
                due = when - dt.timedelta(days=21)
                for idate, iid, unit, _ in m.invitations:
                    if idate > due:
                        out.append(finding("invitation-notice", case, iid, m.id, unit, due, idate, [iid], as_of))
    held_sip = [(hd, mid) for _, hd, mid in sorted(held_sip)]      # in case order

    # meeting-within-30-days: a clock per initiative (none: the first consent.given)
    starts = [(d, eid, unit) for d, eid, unit in initiatives] or ([first_given] if first_given else [])
    for d0, starter, unit in starts:
        given = in_force(d0)
        if given is not None:
            start = d0
        else:
            later = next((c for c in consents if c[0] > d0 and in_force(c[0]) is not None), None)
            if later is None:
                continue
            start, given = later[0], in_force(later[0])
            starter = given[2]
        deadline = deadline_of(start)
        first = next((h for h in held_sip if h[0] >= start), None)
        if first is not None and first[0] > deadline:
            out.append(finding("meeting-within-30-days", case, starter, first[1], unit, deadline, first[0],
                               [starter], as_of))
        elif first is None and as_of > deadline:
            out.append(finding("meeting-within-30-days", case, starter, None, unit, deadline, None,
                               [starter], as_of))

    # sip-before-bus-individ
    first_sip = held_sip[0][0] if held_sip else None
    for d, eid, unit, mid in requests:
        if first_sip is None or first_sip > d:
            out.append(finding("sip-before-bus-individ", case, eid, mid, unit, d, d, [eid], as_of))
    for m in meetings.values():
        if (m.kind or m.held_kind) == "bus_individ" and m.held is not None:
            hd, hid = m.held[:2]
            if not any(r[0] <= hd for r in requests) and (first_sip is None or first_sip > hd):
                out.append(finding("sip-before-bus-individ", case, hid, m.id,
                                   m.convener if m.convener is not None else m.held_unit, hd, hd, [hid], as_of))
    unique = {}      # one finding per breach (two invitations to one absent unit: one)
    for f in out:
        if f is not None:
            unique.setdefault((f["rule"], f["event"], f["meeting"], f["unit"]), f)
    return list(unique.values())


def sort_key(f: dict) -> tuple:
    return (f["case"], f["rule"], f["due"], f["event"] or "", f["meeting"] or "", f["unit"] or "")


def run(path: Path, as_of: dt.date, out: Path) -> int:
    """Evaluate the log and write the findings; their number."""
    cases = read(path, as_of)
    found = []
    for case in sorted(cases):
        found.extend(sorted(evaluate_case(case, cases[case], as_of), key=sort_key))
    with open(out, "wb") as fh:
        for f in found:
            fh.write(orjson.dumps(f, option=orjson.OPT_APPEND_NEWLINE))
    return len(found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    n = run(args.log, dt.date.fromisoformat(args.as_of), args.out)
    print(f"{n} findings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
