"""Per-case facts for the rules engine.

Python prepares what a rules engine cannot do well, and decides nothing: the events of a
case in their order (date, time, input order), dropped when dated after the as-of date;
each meeting's kind, convener, latest planned date, held date and attendees; and the
30-day clocks with their deadlines from the business calendar. Dates travel as day
ordinals (`date.toordinal()`), so the rulesets compare plain integers.

The facts (one dict each, `t` = fact type):
- `mtg`:   a meeting: `m`, `kind`, `conv` (convener), `date` (held date if held, else the
           latest planned date, 0 if neither), `held` (0 = not held), `hseq` (order of the
           held event), `cancelled` (1/0), `ev` (event ids it rests on)
- `inv`:   an invitation: `m`, `to`, `unit`, `day`
- `att`:   one attendee of a held meeting: `m`, `unit`
- `given` / `wd`: a consent given / withdrawn: `seq`, `day`
- `clock`: a SIP process' 30-day clock: `start`, `deadline`, `unit`
- `req`:   a raising to BUS-individ: `day`, `unit`, `m`
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import calendar as vardagar

# A compact event, as the workers receive it (a JSON array, decoded as a list):
# [order, id, type, date ordinal, seconds or -1, unit, fields]
CompactEvent = list[Any]


@dataclass
class Meeting:
    meeting: str
    kind: str | None = None
    convener: str | None = None
    scheduled_by: str | None = None
    scheduled_event: str | None = None
    planned: int = 0
    held: int = 0
    held_seq: int = 0
    held_event: str | None = None
    held_unit: str | None = None
    cancelled: bool = False
    attendees: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


@dataclass
class Clock:
    event: str          # the event that started the clock
    initiative: str | None
    start: int
    deadline: int
    unit: str | None


@dataclass
class CaseFacts:
    case: str
    events: list[CompactEvent]         # in case order, as-of applied
    meetings: dict[str, Meeting]
    clocks: list[Clock]
    facts: list[dict[str, Any]]
    evidence: dict[str, list[str]]     # fact id -> the event ids it rests on


def order_events(events: list[CompactEvent], as_of: dt.date) -> list[CompactEvent]:
    """The case's events by date, then time, then input order; later than as-of dropped.

    A date-only event counts as the start of its day (before any timed event that day).
    """
    limit = as_of.toordinal()
    kept = [e for e in events if e[3] <= limit]
    kept.sort(key=lambda e: (e[3], e[4], e[0]))
    return kept


def _meetings(events: list[CompactEvent]) -> dict[str, Meeting]:
    meetings: dict[str, Meeting] = {}
    for seq, (_, eid, etype, day, _, unit, f) in enumerate(events):
        mid = f.get("meeting")
        if not mid or etype not in (
            "meeting.scheduled", "meeting.rescheduled", "meeting.cancelled", "meeting.held"
        ):
            continue
        m = meetings.setdefault(mid, Meeting(mid))
        if etype == "meeting.scheduled":
            m.kind = m.kind or f.get("kind")
            if m.scheduled_by is None:
                m.scheduled_by, m.scheduled_event = unit, eid
            m.planned = f["date"]
            m.cancelled = False          # planned again after a cancellation
            m.evidence.append(eid)
        elif etype == "meeting.rescheduled":
            m.planned = f["date"]
            m.cancelled = False
            m.evidence.append(eid)
        elif etype == "meeting.cancelled":
            m.cancelled = True
            m.evidence.append(eid)
        elif etype == "meeting.held" and not m.held:   # the first held event counts
            m.kind = m.kind or f.get("kind")
            m.held, m.held_seq, m.held_event, m.held_unit = day, seq + 1, eid, unit
            m.attendees = list(f.get("attendees") or [])
            m.evidence.append(eid)
    for m in meetings.values():
        m.convener = m.scheduled_by if m.scheduled_by is not None else m.held_unit
        if m.held:
            m.cancelled = False   # it took place after all
    return meetings


def _in_force(consents: list[tuple[int, bool, str]], day: int) -> tuple[bool, str | None]:
    """Consent in force on `day`: the last given/withdrawn dated on or before it is a given."""
    state, last = False, None
    for cday, given, eid in consents:
        if cday > day:
            break
        state, last = given, eid
    return state, last


def _clocks(events: list[CompactEvent], params: dict[str, Any]) -> list[Clock]:
    """One clock per SIP process (obligations.md, meeting-within-30-days)."""
    within = int(params.get("within_days", 30))
    roll = params.get("deadline_roll", "forward")
    consents = [(e[3], e[2] == "consent.given", e[1]) for e in events
                if e[2] in ("consent.given", "consent.withdrawn")]
    starts = [e for e in events if e[2] == "sip.initiated"]
    if not starts:
        first = next((e for e in events if e[2] == "consent.given"), None)
        starts = [first] if first else []
    clocks = []
    for init in starts:
        _, eid, _, day, _, unit, _ = init
        in_force, _ = _in_force(consents, day)
        start, event = (day, eid) if in_force else (None, None)
        if start is None:
            for cday, given, cid in consents:
                if cday > day and given:
                    ok, last = _in_force(consents, cday)
                    if ok:
                        start, event = cday, last
                        break
        if start is None:
            continue   # no consent ever in force: the consent rules cover that case
        deadline = _deadline(start, within, roll)
        clocks.append(Clock(event, eid if event != eid else None, start, deadline, unit))
    return clocks


def _send_by(planned: int, params: dict[str, Any]) -> int:
    """The last business day to send an invitation: roll_back(date - notice_days)."""
    if not planned:
        return 0
    return _days_before(planned, int(params.get("notice_days", 21)), params.get("send_roll", "back"))


@lru_cache(maxsize=65536)
def _days_before(planned: int, days: int, roll: str) -> int:
    # Cached: the same meeting dates recur across thousands of cases.
    day = dt.date.fromordinal(planned) - dt.timedelta(days=days)
    return (vardagar.roll_back(day) if roll == "back" else day).toordinal()


@lru_cache(maxsize=65536)
def _deadline(start: int, within: int, roll: str) -> int:
    day = dt.date.fromordinal(start) + dt.timedelta(days=within)
    return (vardagar.roll_forward(day) if roll == "forward" else vardagar.roll_back(day)).toordinal()


def build_case_facts(case: str, events: list[CompactEvent], as_of: dt.date,
                     clock_params: dict[str, Any], notice_params: dict[str, Any] | None = None,
                     sid: str = "0") -> CaseFacts:
    """The case's facts, each tagged with the durable-rules session `sid` it is asserted into."""
    ordered = order_events(events, as_of)
    meetings = _meetings(ordered)
    facts: list[dict[str, Any]] = []
    evidence: dict[str, list[str]] = {}
    for i, m in enumerate(meetings.values()):
        facts.append({
            "id": f"m{i}", "t": "mtg", "m": m.meeting, "kind": m.kind or "", "conv": m.convener or "",
            "date": m.held or m.planned, "planned": m.planned, "held": m.held, "hseq": m.held_seq,
            "sendby": _send_by(m.planned, notice_params or {}), "se": m.scheduled_event or "",
            "cancelled": int(m.cancelled), "e": m.held_event or "", "sid": sid,
        })
        evidence[f"m{i}"] = m.evidence
        if m.held:
            for j, unit in enumerate(dict.fromkeys(m.attendees)):
                facts.append({"id": f"a{i}_{j}", "t": "att", "m": m.meeting, "unit": unit, "sid": sid})
    for seq, (_, eid, etype, day, _, unit, f) in enumerate(ordered, start=1):
        if etype == "invitation.sent":
            fact = {"id": f"i{seq}", "t": "inv", "m": f["meeting"], "to": f["to"],
                    "unit": unit or "", "day": day, "e": eid, "sid": sid}
        elif etype == "consent.given":
            fact = {"id": f"g{seq}", "t": "given", "seq": seq, "day": day, "e": eid, "sid": sid}
        elif etype == "consent.withdrawn":
            fact = {"id": f"w{seq}", "t": "wd", "seq": seq, "day": day, "e": eid, "sid": sid}
        elif etype == "bus_individ.requested":
            fact = {"id": f"r{seq}", "t": "req", "day": day, "unit": unit or "",
                    "m": f.get("meeting") or "", "e": eid, "sid": sid}
        else:
            continue
        facts.append(fact)
        evidence[fact["id"]] = [eid]
    clocks = _clocks(ordered, clock_params)
    for k, c in enumerate(clocks):
        ev = [c.event] + ([c.initiative] if c.initiative else [])
        facts.append({"id": f"c{k}", "t": "clock", "start": c.start, "deadline": c.deadline,
                      "unit": c.unit or "", "e": c.event, "sid": sid})
        evidence[f"c{k}"] = ev
    return CaseFacts(case, ordered, meetings, clocks, facts, evidence)
