"""Independent reference evaluation of the five core obligations.

Written from the contract alone (spec/event-log.md, spec/obligations.md,
spec/outputs.md) so that it can catch the engine's mistakes in differential tests.
It deliberately shares no code with ``compliance/``: its own parsing of ``at``
(zoneinfo), its own ordering, its own business-day calendar (computed from the law,
cross-checked against ``holidays.SE`` in tests/test_reference.py), its own meeting
aggregation and its own rules.

``evaluate(lines, as_of)`` takes JSONL text lines and returns the violation findings
as dicts with exactly the keys ``FINDING_KEYS``, in the order of findings.jsonl
(case, rule, due, event, meeting, unit).

Interpretations (places where the spec leaves room; every choice is listed here)
--------------------------------------------------------------------------------
Parsing and ordering
  * ``at`` of exactly ``YYYY-MM-DD`` is date-only (no time). Anything longer goes
    through ``datetime.fromisoformat``; with an offset or ``Z`` it is converted to
    Europe/Stockholm, without one it *is* Stockholm wall time (its date part is
    D(e) even for a non-existent/ambiguous DST time).
  * Order within a case: (local date, local wall time, input order). A date-only
    event sorts before every timed event of the same date. Local wall time, not the
    instant, so two events in the repeated hour of the October DST change compare by
    wall clock (the spec does not say; the generator avoids 02:00-02:59 local).
  * A line that is not a valid event is skipped (not JSON, not an object, missing
    id/case/type/at, unknown type, ``at`` not parseable, type-specific required
    fields missing). A second event with an id already seen is skipped.
  * Events with D(e) > as_of are dropped before anything else, including a
    ``meeting.held`` after as_of (the meeting counts as not held).
  * Meetings are scoped by case: ``M1`` in two cases are two meetings.

Meeting aggregation
  * kind = the ``kind`` of the first ``meeting.scheduled`` (case order) that has
    one, else of the first ``meeting.held`` that has one, else unknown.
  * convener = ``unit`` of the first ``meeting.scheduled``, else of the first
    ``meeting.held``.
  * latest planned date = ``date`` of the last ``meeting.scheduled`` /
    ``meeting.rescheduled`` in case order (a ``meeting.rescheduled`` of a meeting
    never scheduled still sets it).
  * held = the FIRST ``meeting.held`` of the meeting (its date, attendees and id).
    A meeting held twice: the second holding is ignored by every rule (its
    attendees are not merged, it is not checked for consent, it does not count as a
    SIP meeting for the 30-day clock or for BUS-individ).
  * cancelled = it was not held AND the last of its ``meeting.scheduled`` /
    ``meeting.rescheduled`` / ``meeting.cancelled`` events (case order, <= as_of) is a
    ``meeting.cancelled``: a reschedule (or a new schedule) after a cancellation
    revives the meeting. A meeting that was cancelled and then held anyway is treated
    as held (all rules check it, including invitation-notice against its held date).

invitation-notice
  * Only meetings whose kind is ``sip``/``sip_followup``. An invitation for a
    meeting that was never scheduled nor held (kind unknown) is not checked.
  * meeting_date = D(first held) if held, else the latest planned date; a meeting
    with neither is not checked.
  * A late invitation is a violation as soon as it is dated (<= as_of), even if the
    meeting is still in the future. Invitations to guardian/child are checked too
    (the rule says "every invitation.sent"). Finding unit = the invitation's unit
    (None when the event has none).

meeting-within-30-days
  * Consent in force on day d: the last consent.given/consent.withdrawn with
    D <= d (case order) is a consent.given. Day granularity: a withdrawal at 17:00
    on the meeting day removes consent for that whole day.
  * One SIP process per ``sip.initiated``; with no ``sip.initiated`` in the (as-of
    filtered) case, one process started by the case's first ``consent.given``.
  * start = D(I) if consent is in force on D(I) (day granularity: a consent given
    later the same day counts as in force), else the first later date of a consent
    event on which consent is in force.
  * Finding event: the ``sip.initiated`` when start == D(I); otherwise "the
    consent.given that put consent in force", read as the last ``consent.given``
    dated on or before start. Finding unit: always the ``sip.initiated``'s unit
    (obligations.md: "the unit of the sip.initiated event (with none, of the consent
    event)"), so the event and the unit can come from different events. With no
    ``sip.initiated``, both come from that consent.given, which is the case's first
    consent.given unless that one was withdrawn before consent took hold.
  * deadline = roll_forward(start + 30). The relevant meeting is the meeting of kind
    ``sip`` whose (first) held date is >= start and earliest in case order; meetings
    of kind ``sip_followup``/``bus_individ`` never satisfy the clock. Several
    ``sip.initiated`` give several independent processes (one meeting may satisfy
    all of them).
  * No held meeting: violation only when as_of > deadline (as_of == deadline is
    still open).

mandatory-attendance
  * Held meetings of kind ``sip``/``sip_followup`` (cancelled-then-held included).
    Invited units = every ``to`` of its ``invitation.sent`` events dated <= as_of,
    including invitations dated after the meeting, except ``guardian``/``child``.
    Absent = not in the attendees of the first ``meeting.held``. Several
    invitations to the same unit give one finding.

sip-before-bus-individ
  * "meeting of kind sip" means kind == ``sip`` exactly (a ``sip_followup`` held
    earlier does not satisfy it); its held date is compared by date, so a SIP held
    the same day as the request satisfies it whatever the times.
  * Request finding: meeting = the request's own ``meeting`` field (None if
    absent); no attempt is made to guess the BUS-individ meeting otherwise.
  * A held ``bus_individ`` meeting is checked on its own only if NO
    ``bus_individ.requested`` of the case (for whatever meeting) is dated on or
    before its held date. Finding unit = the meeting's convener.

consent-before-meeting
  * Every held meeting, whatever its kind (also unknown kind, cancelled-then-held),
    checked once, on the date of its first ``meeting.held``.

days_late / business_days_late: from due to actual (or to as_of when actual is
None); business days x with due < x <= end. Findings identical on
(rule, case, event, meeting, unit) collapse into one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Iterable
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

FINDING_KEYS = (
    "rule", "case", "status", "event", "meeting", "unit",
    "due", "actual", "days_late", "business_days_late",
)

EVENT_TYPES = frozenset({
    "case.opened", "sip.initiated", "consent.given", "consent.withdrawn",
    "meeting.scheduled", "meeting.rescheduled", "meeting.cancelled",
    "invitation.sent", "meeting.held", "bus_individ.requested", "plan.documented",
    "deviation.filed", "deviation.replied", "deviation.closed", "case.closed",
    "group.meeting.held",
})
MEETING_KINDS = frozenset({"sip", "sip_followup", "bus_individ"})
CHECKED_KINDS = frozenset({"sip", "sip_followup"})
NOT_OBLIGED = frozenset({"guardian", "child"})

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------------------
# Calendar (own implementation of Lag (1989:253) + Lag (1930:173) eves)
# ---------------------------------------------------------------------------

def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _weekday_in(year: int, month: int, first_day: int, last_day: int, weekday: int) -> date:
    for dd in range(first_day, last_day + 1):
        d = date(year, month, dd)
        if d.weekday() == weekday:
            return d
    raise AssertionError("unreachable")


@lru_cache(maxsize=None)
def non_business_holidays(year: int) -> dict[date, str]:
    """Public holidays plus the three eves treated like them, as in force in `year`."""
    e = easter_sunday(year)
    h: dict[date, str] = {
        date(year, 1, 1): "Nyårsdagen",
        date(year, 1, 6): "Trettondedag jul",
        e - timedelta(days=2): "Långfredagen",
        e: "Påskdagen",
        e + timedelta(days=1): "Annandag påsk",
        date(year, 5, 1): "Första maj",
        e + timedelta(days=39): "Kristi himmelsfärdsdag",
        e + timedelta(days=49): "Pingstdagen",
        _weekday_in(year, 6, 19, 25, 4): "Midsommarafton",
        _weekday_in(year, 6, 20, 26, 5): "Midsommardagen",
        date(year, 12, 24): "Julafton",
        date(year, 12, 25): "Juldagen",
        date(year, 12, 26): "Annandag jul",
        date(year, 12, 31): "Nyårsafton",
    }
    # Alla helgons dag: the Saturday in 31 Oct - 6 Nov
    for dd in range(0, 7):
        d = date(year, 10, 31) + timedelta(days=dd)
        if d.weekday() == 5:
            h[d] = "Alla helgons dag"
            break
    if year <= 2004:
        h[e + timedelta(days=50)] = "Annandag pingst"
    if year >= 2005:
        h[date(year, 6, 6)] = "Sveriges nationaldag"
    return h


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in non_business_holidays(d.year)


def roll_forward(d: date) -> date:
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def roll_back(d: date) -> date:
    while not is_business_day(d):
        d -= timedelta(days=1)
    return d


def _business_days_naive(a: date, b: date) -> int:
    n = 0
    x = a + timedelta(days=1)
    while x <= b:
        if is_business_day(x):
            n += 1
        x += timedelta(days=1)
    return n


_PREFIX_FROM = date(1990, 1, 1)
_PREFIX_TO = date(2060, 12, 31)
_prefix: list[int] = []


def _count_upto(d: date) -> int:
    """Business days x with _PREFIX_FROM <= x <= d."""
    if not _prefix:
        n, x = 0, _PREFIX_FROM
        while x <= _PREFIX_TO:
            n += is_business_day(x)
            _prefix.append(n)
            x += timedelta(days=1)
    return _prefix[(d - _PREFIX_FROM).days]


def business_days_between(a: date, b: date) -> int:
    """Business days x with a < x <= b (0 when b <= a)."""
    if b <= a:
        return 0
    if _PREFIX_FROM < a and b <= _PREFIX_TO:
        return _count_upto(b) - _count_upto(a)
    return _business_days_naive(a, b)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def parse_at(s: str) -> tuple[date, time | None]:
    """Local Stockholm (date, wall time or None) of an ``at`` value; ValueError if bad."""
    if not isinstance(s, str):
        raise ValueError("at is not a string")
    s = s.strip()
    if _DATE_ONLY.match(s):
        return date.fromisoformat(s), None
    if len(s) <= 10:
        raise ValueError(f"bad at {s!r}")
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        return dt.date(), dt.time()
    local = dt.astimezone(STOCKHOLM)
    return local.date(), local.time().replace(tzinfo=None)


def _parse_date_field(v: Any) -> date:
    if not isinstance(v, str):
        raise ValueError("date is not a string")
    return parse_at(v)[0]


@dataclass
class Ev:
    idx: int             # input order
    id: str
    case: str
    type: str
    date: date
    time: time | None
    unit: str | None
    data: dict

    @property
    def key(self):
        return (self.date, 0 if self.time is None else 1, self.time or time.min, self.idx)


def parse_line(line: str, idx: int) -> Ev | None:
    try:
        data = json.loads(line)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    for k in ("id", "case", "type", "at"):
        if not isinstance(data.get(k), str) or not data.get(k):
            return None
    t = data["type"]
    if t not in EVENT_TYPES:
        return None
    try:
        d, tm = parse_at(data["at"])
    except ValueError:
        return None
    unit = data.get("unit")
    if unit is not None and not isinstance(unit, str):
        return None
    try:
        if t.startswith("meeting.") or t == "invitation.sent":
            if not isinstance(data.get("meeting"), str):
                return None
        if t == "meeting.scheduled":
            if data.get("kind") not in MEETING_KINDS:
                return None
            _parse_date_field(data.get("date"))
        if t == "meeting.rescheduled":
            _parse_date_field(data.get("date"))
        if t == "meeting.held":
            if data.get("kind") is not None and data.get("kind") not in MEETING_KINDS:
                return None
            att = data.get("attendees", [])
            if not isinstance(att, list):
                return None
        if t == "invitation.sent" and not isinstance(data.get("to"), str):
            return None
    except ValueError:
        return None
    return Ev(idx, data["id"], data["case"], t, d, tm, unit, data)


# ---------------------------------------------------------------------------
# Per-case facts
# ---------------------------------------------------------------------------

@dataclass
class Meeting:
    id: str
    first_scheduled: Ev | None = None
    sched_kind: str | None = None
    held_kind: str | None = None
    first_held_any: Ev | None = None
    planned: date | None = None
    held: Ev | None = None
    cancel_seen: bool = False   # the last scheduled/rescheduled/cancelled is a cancel
    invitations: list[Ev] = field(default_factory=list)

    @property
    def kind(self) -> str | None:
        return self.sched_kind or self.held_kind

    @property
    def convener(self) -> str | None:
        if self.first_scheduled is not None:
            return self.first_scheduled.unit
        if self.held is not None:
            return self.held.unit
        return None

    @property
    def cancelled(self) -> bool:
        return self.cancel_seen and self.held is None


def _meetings(evs: list[Ev]) -> dict[str, Meeting]:
    ms: dict[str, Meeting] = {}
    for e in evs:
        if not (e.type.startswith("meeting.") or e.type == "invitation.sent"):
            continue
        mid = e.data["meeting"]
        m = ms.get(mid)
        if m is None:
            m = ms[mid] = Meeting(mid)
        if e.type == "meeting.scheduled":
            if m.first_scheduled is None:
                m.first_scheduled = e
            if m.sched_kind is None and e.data.get("kind"):
                m.sched_kind = e.data["kind"]
            m.planned = _parse_date_field(e.data["date"])
            m.cancel_seen = False
        elif e.type == "meeting.rescheduled":
            m.planned = _parse_date_field(e.data["date"])
            m.cancel_seen = False
        elif e.type == "meeting.cancelled":
            m.cancel_seen = True
        elif e.type == "meeting.held":
            if m.held is None:
                m.held = e
            if m.held_kind is None and e.data.get("kind"):
                m.held_kind = e.data["kind"]
        elif e.type == "invitation.sent":
            m.invitations.append(e)
    return ms


def _consent_timeline(evs: list[Ev]) -> list[tuple[date, bool, Ev]]:
    return [(e.date, e.type == "consent.given", e) for e in evs
            if e.type in ("consent.given", "consent.withdrawn")]


def _last_consent_on_or_before(tl, d: date):
    last = None
    for cd, _given, e in tl:
        if cd <= d:
            last = e
        else:
            break
    return last


def consent_in_force(tl, d: date) -> bool:
    last = _last_consent_on_or_before(tl, d)
    return last is not None and last.type == "consent.given"


def _clock_start(tl, d0: date) -> date | None:
    if consent_in_force(tl, d0):
        return d0
    for cd, _g, _e in tl:
        if cd > d0 and consent_in_force(tl, cd):
            return cd
    return None


# obligations.md, "When a rule is in force": a rule judges only what fell due on or after
# the date of its earliest source.
IN_FORCE_FROM = {
    "consent-before-meeting": date(2010, 1, 1),
    "mandatory-attendance": date(2010, 1, 1),
    "invitation-notice": date(2013, 1, 1),
    "meeting-within-30-days": date(2013, 1, 1),
    "sip-before-bus-individ": date(2018, 4, 17),
}


def _finding(rule, case, event, meeting, unit, due: date, actual: date | None, as_of: date):
    end = actual if actual is not None else as_of
    return {
        "rule": rule,
        "case": case,
        "status": "violation",
        "event": event,
        "meeting": meeting,
        "unit": unit,
        "due": due.isoformat(),
        "actual": actual.isoformat() if actual is not None else None,
        "days_late": (end - due).days,
        "business_days_late": business_days_between(due, end),
    }


def evaluate_case(case: str, evs: list[Ev], as_of: date) -> list[dict]:
    """Violations of one case; `evs` may be in any order (sorted here)."""
    evs = sorted((e for e in evs if e.date <= as_of), key=lambda e: e.key)
    out: list[dict] = []
    ms = _meetings(evs)
    tl = _consent_timeline(evs)
    order = {e.idx: i for i, e in enumerate(evs)}

    # invitation-notice
    for m in ms.values():
        if m.kind not in CHECKED_KINDS or m.cancelled:
            continue
        mdate = m.held.date if m.held is not None else m.planned
        if mdate is None:
            continue
        due = mdate - timedelta(days=21)
        for inv in m.invitations:
            if inv.date > due:
                out.append(_finding("invitation-notice", case, inv.id, m.id, inv.unit,
                                    due, inv.date, as_of))

    # meeting-within-30-days
    sip_held = sorted((m.held for m in ms.values() if m.kind == "sip" and m.held is not None),
                      key=lambda e: order[e.idx])
    initiatives = [e for e in evs if e.type == "sip.initiated"]
    processes: list[tuple[Ev | None, str | None, date | None]] = []
    if initiatives:
        for ini in initiatives:
            start = _clock_start(tl, ini.date)
            if start is None or start == ini.date:
                processes.append((ini, ini.unit, start))
            else:  # the consent.given that put consent in force started the clock
                processes.append((_last_consent_on_or_before(tl, start), ini.unit, start))
    else:
        first_consent = next((e for e in evs if e.type == "consent.given"), None)
        if first_consent is not None:
            start = _clock_start(tl, first_consent.date)
            starter = _last_consent_on_or_before(tl, start) if start is not None else None
            processes.append((starter, starter.unit if starter else None, start))
    for starter, unit, start in processes:
        if start is None or starter is None:
            continue
        deadline = roll_forward(start + timedelta(days=30))
        held = next((h for h in sip_held if h.date >= start), None)
        if held is not None:
            if held.date > deadline:
                out.append(_finding("meeting-within-30-days", case, starter.id,
                                    held.data["meeting"], unit, deadline, held.date,
                                    as_of))
        elif as_of > deadline:
            out.append(_finding("meeting-within-30-days", case, starter.id, None,
                                unit, deadline, None, as_of))

    # mandatory-attendance
    for m in ms.values():
        if m.kind not in CHECKED_KINDS or m.held is None:
            continue
        attendees = set(a for a in (m.held.data.get("attendees") or []) if isinstance(a, str))
        for inv in m.invitations:
            to = inv.data.get("to")
            if to in NOT_OBLIGED or to in attendees:
                continue
            out.append(_finding("mandatory-attendance", case, m.held.id, m.id, to,
                                m.held.date, m.held.date, as_of))

    # sip-before-bus-individ
    sip_dates = [h.date for h in sip_held]
    requests = [e for e in evs if e.type == "bus_individ.requested"]
    for r in requests:
        if not any(sd <= r.date for sd in sip_dates):
            mid = r.data.get("meeting")
            out.append(_finding("sip-before-bus-individ", case, r.id,
                                mid if isinstance(mid, str) else None, r.unit,
                                r.date, r.date, as_of))
    for m in ms.values():
        if m.kind != "bus_individ" or m.held is None:
            continue
        hd = m.held.date
        if any(r.date <= hd for r in requests):
            continue
        if not any(sd <= hd for sd in sip_dates):
            out.append(_finding("sip-before-bus-individ", case, m.held.id, m.id, m.convener,
                                hd, hd, as_of))

    # consent-before-meeting
    for m in ms.values():
        if m.held is None:
            continue
        if not consent_in_force(tl, m.held.date):
            out.append(_finding("consent-before-meeting", case, m.held.id, m.id, m.convener,
                                m.held.date, m.held.date, as_of))
    return out


def _sort_key(f: dict):
    return tuple("" if f[k] is None else f[k]
                 for k in ("case", "rule", "due", "event", "meeting", "unit"))


def evaluate_events(evs: Iterable[Ev], as_of: date, in_force: dict[str, date] | None = None) -> list[dict]:
    """Violations of every case; `in_force` (default IN_FORCE_FROM) gives each rule's first
    day ({} judges every date, for the calendar's old years)."""
    in_force = IN_FORCE_FROM if in_force is None else in_force
    by_case: dict[str, list[Ev]] = {}
    for e in evs:
        by_case.setdefault(e.case, []).append(e)
    out: list[dict] = []
    for case, cevs in by_case.items():
        out.extend(f for f in evaluate_case(case, cevs, as_of)
                   if date.fromisoformat(f["due"]) >= in_force.get(f["rule"], date.min))
    seen = set()
    uniq = []
    for f in sorted(out, key=_sort_key):
        k = (f["rule"], f["case"], f["event"], f["meeting"], f["unit"])
        if k in seen:
            continue
        seen.add(k)
        uniq.append(f)
    return uniq


def parse_lines(lines: Iterable[str]) -> list[Ev]:
    evs: list[Ev] = []
    seen_ids: set[str] = set()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        e = parse_line(line, i)
        if e is None or e.id in seen_ids:
            continue
        seen_ids.add(e.id)
        evs.append(e)
    return evs


def evaluate(lines: list[str], as_of: date, in_force: dict[str, date] | None = None) -> list[dict]:
    """Violation findings (dicts with exactly FINDING_KEYS) of a canonical JSONL log."""
    return evaluate_events(parse_lines(lines), as_of, in_force)


def project(findings: Iterable[dict]) -> list[dict]:
    """Only violations, only FINDING_KEYS, sorted as findings.jsonl: for comparisons."""
    rows = [{k: f.get(k) for k in FINDING_KEYS} for f in findings
            if f.get("status") == "violation"]
    return sorted(rows, key=_sort_key)


if __name__ == "__main__":  # pragma: no cover
    import sys
    as_of = date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else date.today()
    with open(sys.argv[1], encoding="utf-8") as fh:
        for f in evaluate(fh.readlines(), as_of):
            print(json.dumps(f, ensure_ascii=False))
