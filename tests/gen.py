"""Seeded random generator of realistic synthetic case logs (canonical events).

``generate_cases(rng, n_cases)`` returns a list of canonical event dicts (event-log.md),
about 10 events a case. Dates are biased towards the hard days of the Swedish
business calendar (Easter, Ascension, Whit Monday 2004/2005, 6 June 2005, midsommar,
Christmas-New Year, DST change days, weekends), deadlines are often made to land on
them, and ``at`` comes as a date, with a ``+01:00``/``+02:00`` offset, in UTC with
``Z`` (often late in the evening, i.e. the next day in Stockholm) or as naive
Stockholm local time.

No real names, no personal numbers: initials are random letters, case ids ``R000123``.

Invariants kept so that results never depend on input order (the spec breaks ties
by input order, so a shuffle property only holds without ties): within a case the
consent events have distinct local dates, the ``meeting.scheduled`` /
``meeting.rescheduled`` of one meeting have strictly increasing distinct dates, every
meeting is held at most once and no two meetings are held on the same date; no
local time falls in 00:00 or 02:00-02:59 (DST gap/overlap, date-only vs midnight).
``edge_rate > 0`` adds, per case with that probability, one of the deliberately
ambiguous shapes listed in tests/reference.py (held twice, cancelled then held,
invitation for an unknown meeting, rescheduled after cancellation, unknown or
conflicting kinds, a date-only and a timed consent event on the same day, consent
events in the repeated hour of the October DST change), which break those
invariants on purpose.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import easter_sunday, roll_forward  # noqa: E402

STOCKHOLM = ZoneInfo("Europe/Stockholm")

UNITS = ["soc-skarpnack", "bup-farsta", "skola-bjorkhagen", "hab-soderstaden",
         "vc-farsta", "forskola-lingon"]
CONVENERS = ["soc-skarpnack", "soc-skarpnack", "soc-skarpnack", "skola-bjorkhagen",
             "bup-farsta", "hab-soderstaden"]
LETTERS = "ABCDEFGHIJKLMNOPRSTUVY"


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - 6) % 7)


_HARD_CACHE: dict[int, list[date]] = {}


def hard_days(year: int) -> list[date]:
    """Days where the calendar is tricky: holidays, eves, DST changes, law changes."""
    if year in _HARD_CACHE:
        return _HARD_CACHE[year]
    e = easter_sunday(year)
    ds = [e - timedelta(days=3), e - timedelta(days=2), e - timedelta(days=1), e,
          e + timedelta(days=1), e + timedelta(days=39), e + timedelta(days=40),
          e + timedelta(days=49), e + timedelta(days=50),
          date(year, 1, 1), date(year, 1, 6), date(year, 5, 1), date(year, 6, 6),
          date(year, 12, 23), date(year, 12, 24), date(year, 12, 25), date(year, 12, 26),
          date(year, 12, 27), date(year, 12, 31),
          _last_sunday(year, 3), _last_sunday(year, 10)]
    for dd in range(19, 27):
        d = date(year, 6, dd)
        if d.weekday() in (4, 5):
            ds.append(d)
    for dd in range(0, 7):
        d = date(year, 10, 31) + timedelta(days=dd)
        if d.weekday() == 5:
            ds.append(d)
    if year in (2004, 2005):  # Whit Monday: holiday in 2004, working day from 2005
        ds += [e + timedelta(days=50)] * 3
    if year == 2005:          # first National Day holiday
        ds += [date(2005, 6, 6)] * 3
    _HARD_CACHE[year] = ds
    return ds


def _random_day(rng: random.Random, y0: int, y1: int) -> date:
    year = rng.randint(y0, y1)
    if rng.random() < 0.5:
        return rng.choice(hard_days(year))
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def _utc_offset(d: date, t: time) -> timedelta:
    return datetime.combine(d, t, tzinfo=STOCKHOLM).utcoffset()


def render_at(rng: random.Random, d: date) -> str:
    """An ``at`` string whose Stockholm local date is `d`."""
    r = rng.random()
    if r < 0.40:
        return d.isoformat()
    if r < 0.60:  # local time with its real offset
        t = time(rng.randint(7, 18), rng.choice([0, 5, 15, 30, 45, 59]))
        return datetime.combine(d, t, tzinfo=STOCKHOLM).isoformat(timespec="seconds")
    if r < 0.65:  # the other season's offset, daytime (same local date)
        t = time(rng.randint(9, 16), rng.choice([0, 30]))
        off = timedelta(hours=2) if _utc_offset(d, t) == timedelta(hours=1) else timedelta(hours=1)
        inst = datetime.combine(d, t, tzinfo=STOCKHOLM).astimezone(timezone(off))
        return inst.isoformat(timespec="seconds")
    if r < 0.85:  # UTC with Z, often late evening UTC (= next day in Stockholm)
        if rng.random() < 0.5:
            t = time(rng.choice([0, 1]), rng.choice([15, 30, 45]))  # 22:xx/23:xx Z the day before
            if t.hour == 1 and _utc_offset(d, t) == timedelta(hours=1) and rng.random() < 0.5:
                t = time(0, 30)
        elif rng.random() < 0.5:
            t = time(23, rng.choice([15, 30]))   # 21:xx/22:xx Z the same day
        else:
            t = time(rng.randint(7, 18), rng.choice([0, 10, 30]))
        inst = datetime.combine(d, t, tzinfo=STOCKHOLM).astimezone(timezone.utc)
        return inst.strftime("%Y-%m-%dT%H:%M:%SZ")
    t = time(rng.randint(7, 19), rng.choice([0, 10, 20, 30, 40, 50]))
    if rng.random() < 0.5:
        return datetime.combine(d, t).isoformat(timespec="minutes")
    return datetime.combine(d, t).isoformat(timespec="seconds")


class _Case:
    def __init__(self, rng: random.Random, case_id: str):
        self.rng = rng
        self.case = case_id
        self.items: list[tuple[date, dict]] = []
        self.consent_dates: set[date] = set()
        self.held_dates: set[date] = set()
        self.n = 0
        self.earliest = date.min
        self.fixed_at: set[str] = set()     # events whose `at` is set by _edge

    def add(self, d: date, typ: str, unit: str | None, **extra) -> dict:
        self.n += 1
        ev = {"id": f"{self.case}-{self.n:02d}", "case": self.case, "type": typ, "at": None}
        if unit is not None:
            ev["unit"] = unit
        ev.update(extra)
        self.items.append((d, ev))
        return ev

    def free_consent_date(self, d: date) -> date:
        while d in self.consent_dates:
            d += timedelta(days=1)
        self.consent_dates.add(d)
        return d

    def free_held_date(self, d: date) -> date:
        while d in self.held_dates:
            d += timedelta(days=1)
        self.held_dates.add(d)
        return d

    def invite_offset(self) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return rng.choice([21, 21, 20, 22, 19, 23])
        if r < 0.8:
            return rng.randint(24, 40)
        return rng.randint(3, 19)

    def meeting(self, mid: str, kind: str, convener: str, planned: date,
                scheduled_on: date | None, invitees: list[str], *,
                reschedule: bool = False, cancel: bool = False, hold: bool = True,
                scheduled: bool = True) -> date | None:
        """A meeting's events; returns the held date or None."""
        rng = self.rng
        final = planned
        inv_base = planned
        last = None
        if scheduled:
            sched_d = scheduled_on or planned - timedelta(days=rng.randint(22, 40))
            inv_dates = [inv_base - timedelta(days=self.invite_offset()) for _ in invitees]
            sched_d = min([sched_d] + [x - timedelta(days=rng.randint(0, 2)) for x in inv_dates])
            sched_d = min(max(sched_d, self.earliest), planned - timedelta(days=1))
            inv_dates = [max(x, sched_d) for x in inv_dates]
            self.add(sched_d, "meeting.scheduled", convener, meeting=mid, kind=kind,
                     date=planned.isoformat())
            last = sched_d
            if reschedule:
                for _ in range(rng.choice([1, 1, 1, 2])):
                    rd = last + timedelta(days=rng.randint(1, 10))
                    final = final + timedelta(days=rng.choice([-7, -3, -1, 1, 2, 7, 14, 21]))
                    if final <= rd:
                        final = rd + timedelta(days=rng.randint(1, 5))
                    self.add(rd, "meeting.rescheduled", convener, meeting=mid,
                             date=final.isoformat())
                    last = rd
        else:
            inv_dates = [max(inv_base - timedelta(days=self.invite_offset()), self.earliest)
                         for _ in invitees]
        for to, idate in zip(invitees, inv_dates):
            if rng.random() < 0.1:
                idate = final - timedelta(days=rng.choice([20, 21, 22]))
            self.add(idate, "invitation.sent", convener, meeting=mid, to=to,
                     channel="letter" if to in ("guardian", "child") else rng.choice(
                         ["email", "email", "letter", "phone", "other"]))
        if cancel:
            cd = final - timedelta(days=rng.randint(1, 10))
            if last is not None and cd <= last:   # cancel after the last (re)schedule
                cd = last + timedelta(days=1)
            self.add(cd, "meeting.cancelled", convener, meeting=mid)
            return None
        if not hold:
            return None
        hd = self.free_held_date(final)
        attendees = [convener] + [u for u in invitees
                                  if u not in ("guardian", "child") and u != convener
                                  and rng.random() > 0.12]
        if rng.random() < 0.1:
            attendees.append(rng.choice(UNITS))
        attendees = list(dict.fromkeys(attendees))
        extra = {"attendees": attendees}
        if not scheduled or rng.random() < 0.1:
            extra["kind"] = kind
        if rng.random() < 0.3:
            extra["chair"] = convener
        self.add(hd, "meeting.held", convener, meeting=mid, **extra)
        return hd

    def invitees(self, convener: str) -> list[str]:
        rng = self.rng
        others = [u for u in UNITS if u != convener]
        inv = rng.sample(others, rng.choice([1, 1, 2, 2, 2, 3]))
        if rng.random() < 0.3:
            inv.append("guardian")
        if rng.random() < 0.1:
            inv.append("child")
        return inv


def _gen_case(rng: random.Random, case_id: str, y0: int, y1: int, edge_rate: float) -> list[dict]:
    c = _Case(rng, case_id)
    convener = rng.choice(CONVENERS)
    # clock start, often chosen so that start + 30 hits a hard day
    if rng.random() < 0.45:
        hd = rng.choice(hard_days(rng.randint(y0, y1)))
        start = hd - timedelta(days=30 + rng.choice([0, 0, 0, 1]))
    else:
        start = _random_day(rng, y0, y1)
    deadline = roll_forward(start + timedelta(days=30))

    variant = rng.random()
    consent_d = None
    if variant < 0.55:       # consent already in force at the initiative
        init_d = start
        consent_d = start - timedelta(days=rng.randint(0, 10))
    elif variant < 0.82:     # consent comes after the initiative
        init_d = start - timedelta(days=rng.randint(1, 12))
        consent_d = start
    elif variant < 0.92:     # no sip.initiated at all: the consent starts the clock
        init_d = None
        consent_d = start
    else:                    # no consent at all
        init_d = start
    first = min(d for d in (init_d, consent_d) if d is not None)
    g = rng.choice(["female", "male", "female", "male", "other", "unknown"])
    child = {"initials": f"{rng.choice(LETTERS)}.{rng.choice(LETTERS)}."}
    if rng.random() < 0.9:
        child["gender"] = g
    opened = c.add(first, "case.opened", convener, child=child,
                   **({"district": rng.choice(["Skarpnäck", "Farsta"])} if rng.random() < 0.3 else {}))
    c.earliest = first
    if init_d is not None:
        c.add(init_d, "sip.initiated", convener if rng.random() < 0.8 else rng.choice(UNITS))
    if consent_d is not None:
        consent_d = c.free_consent_date(consent_d)
        c.add(consent_d, "consent.given", convener, by=rng.choice(["guardian", "guardian", "child"]),
              form=rng.choice(["written", "written", "oral"]))
        if rng.random() < 0.15:
            wd = c.free_consent_date(consent_d + timedelta(days=rng.randint(2, 35)))
            c.add(wd, "consent.withdrawn", convener)
            if rng.random() < 0.6:
                gd = c.free_consent_date(wd + timedelta(days=rng.randint(1, 25)))
                c.add(gd, "consent.given", convener, by="guardian", form="written")

    # the first SIP meeting
    r = rng.random()
    if r < 0.25:
        planned = deadline + timedelta(days=rng.choice([0, 0, 1, -1]))
    elif r < 0.4:
        planned = start + timedelta(days=30)
    else:
        planned = start + timedelta(days=rng.randint(8, 50))
    held1 = None
    bus_before = rng.random() < 0.08
    bus_req_d = start + timedelta(days=rng.randint(1, 7)) if bus_before else None
    if rng.random() < 0.93:
        mr = rng.random()
        cancel = mr < 0.08
        scheduled = not (0.08 <= mr < 0.18)
        held1 = c.meeting("M1", "sip", convener, planned,
                          start + timedelta(days=rng.randint(0, 6)), c.invitees(convener),
                          reschedule=rng.random() < 0.2, cancel=cancel,
                          hold=rng.random() < 0.93, scheduled=scheduled)
        if cancel and rng.random() < 0.7:
            p2 = planned + timedelta(days=rng.randint(5, 30))
            held1 = c.meeting("M2", "sip", convener, p2, None, c.invitees(convener),
                              hold=rng.random() < 0.9)
    if held1 is not None and rng.random() < 0.4:
        pf = held1 + timedelta(days=rng.randint(40, 200))
        c.meeting("F1", "sip_followup", convener, pf, held1 + timedelta(days=rng.randint(1, 10)),
                  c.invitees(convener), reschedule=rng.random() < 0.15,
                  cancel=rng.random() < 0.05, hold=rng.random() < 0.85)
    # BUS-individ
    if bus_before or rng.random() < 0.15:
        if bus_req_d is None:
            base = held1 or start
            bus_req_d = base + timedelta(days=rng.randint(0, 60))
        requester = rng.choice(UNITS)
        extra = {"meeting": "B1"} if rng.random() < 0.6 else {}
        c.add(bus_req_d, "bus_individ.requested", requester, **extra)
        if rng.random() < 0.6:
            bd = bus_req_d + timedelta(days=rng.randint(7, 30))
            c.meeting("B1", "bus_individ", convener, bd, bus_req_d + timedelta(days=1),
                      [requester] if requester != convener else [],
                      scheduled=rng.random() < 0.6)
    elif rng.random() < 0.04:  # BUS-individ meeting held with no request at all
        bd = (held1 or start) + timedelta(days=rng.randint(-20, 40))
        c.meeting("B1", "bus_individ", convener, bd, None, [], scheduled=rng.random() < 0.5)

    if edge_rate and rng.random() < edge_rate:
        _edge(c, rng, convener, start)

    first_all = min(d for d, _ in c.items)
    c.items[0] = (first_all - timedelta(days=rng.randint(0, 6)), opened)
    last = max(d for d, _ in c.items)
    if rng.random() < 0.5:
        c.add(last + timedelta(days=rng.randint(5, 120)), "case.closed", convener)

    c.items.sort(key=lambda x: x[0])   # stable: keeps _edge's input order
    events = []
    for d, ev in c.items:
        if ev["id"] not in c.fixed_at:
            ev["at"] = render_at(rng, d)
        events.append(ev)
    if rng.random() < 0.3 and not c.fixed_at:
        rng.shuffle(events)
    return events


def _edge(c: _Case, rng: random.Random, convener: str, start: date) -> None:
    """One deliberately ambiguous shape (breaks the ordering invariants on purpose)."""
    k = rng.randrange(8)
    d = start + timedelta(days=rng.randint(5, 40))
    if k == 0:    # a meeting held twice
        c.add(d - timedelta(days=30), "meeting.scheduled", convener, meeting="X1", kind="sip",
              date=d.isoformat())
        c.add(d - timedelta(days=25), "invitation.sent", convener, meeting="X1", to="bup-farsta")
        c.add(d, "meeting.held", convener, meeting="X1", attendees=[convener])
        c.add(d + timedelta(days=7), "meeting.held", convener, meeting="X1",
              attendees=[convener, "bup-farsta"])
    elif k == 1:  # cancelled, then held anyway
        c.add(d - timedelta(days=30), "meeting.scheduled", convener, meeting="X2", kind="sip",
              date=d.isoformat())
        c.add(d - timedelta(days=10), "invitation.sent", convener, meeting="X2", to="vc-farsta")
        c.add(d - timedelta(days=5), "meeting.cancelled", convener, meeting="X2")
        c.add(d, "meeting.held", convener, meeting="X2", attendees=[convener])
    elif k == 2:  # invitation for a meeting never scheduled nor held
        c.add(d, "invitation.sent", convener, meeting="X3", to="skola-bjorkhagen")
    elif k == 3:  # cancelled, then rescheduled, not held
        c.add(d - timedelta(days=30), "meeting.scheduled", convener, meeting="X4",
              kind="sip_followup", date=d.isoformat())
        c.add(d - timedelta(days=20), "meeting.cancelled", convener, meeting="X4")
        c.add(d - timedelta(days=15), "meeting.rescheduled", convener, meeting="X4",
              date=(d + timedelta(days=10)).isoformat())
        c.add(d - timedelta(days=5), "invitation.sent", convener, meeting="X4", to="bup-farsta")
    elif k == 4:  # held meeting of unknown kind
        c.add(d, "meeting.held", convener, meeting="X5", attendees=[convener])
    elif k == 6:  # same day: date-only withdrawal, timed re-consent earlier in the input
        d = c.free_consent_date(d)
        c.add(d, "meeting.held", convener, meeting="X7", kind="bus_individ", attendees=[convener])
        ev_w = c.add(d, "consent.withdrawn", convener)
        ev_g = c.add(d, "consent.given", convener, by="guardian")
        ev_w["at"], ev_g["at"] = d.isoformat(), f"{d.isoformat()}T09:00:00"
        c.fixed_at.update({ev_w["id"], ev_g["id"]})
        # input order: the given before the withdrawal
        c.items.remove((d, ev_g))
        c.items.insert(c.items.index((d, ev_w)), (d, ev_g))
    elif k == 7:  # October DST fold: wall-clock order differs from instant order
        fold = _last_sunday(d.year, 10)
        if fold in c.consent_dates:
            return
        c.consent_dates.add(fold)
        ev_g = c.add(fold, "consent.given", convener, by="guardian")
        ev_w = c.add(fold, "consent.withdrawn", convener)
        ev_g["at"] = f"{fold.isoformat()}T02:30:00+01:00"   # 01:30Z, wall 02:30
        ev_w["at"] = f"{fold.isoformat()}T02:45:00+02:00"   # 00:45Z, wall 02:45
        c.fixed_at.update({ev_w["id"], ev_g["id"]})
        c.add(fold, "meeting.held", convener, meeting="X8", kind="bus_individ",
              attendees=[convener])
    else:         # scheduled and held with conflicting kinds
        c.add(d - timedelta(days=25), "meeting.scheduled", convener, meeting="X6",
              kind="sip_followup", date=d.isoformat())
        c.add(d - timedelta(days=22), "invitation.sent", convener, meeting="X6", to="hab-soderstaden")
        c.add(d, "meeting.held", convener, meeting="X6", kind="sip", attendees=[convener])


def generate_cases(rng: random.Random, n_cases: int, start_year: int = 2003,
                   end_year: int = 2026, *, first_case: int = 1,
                   edge_rate: float = 0.0) -> list[dict]:
    """Canonical events of `n_cases` synthetic cases R{first_case:06d}...; ids unique."""
    out: list[dict] = []
    for i in range(n_cases):
        out.extend(_gen_case(rng, f"R{first_case + i:06d}", start_year, end_year, edge_rate))
    return out


def case_logs(max_cases: int = 4, start_year: int = 2003, end_year: int = 2026,
              first_case: int = 1):
    """Hypothesis strategy: a small list of canonical events from a drawn seed."""
    from hypothesis import strategies as st

    return st.tuples(st.integers(0, 2**32 - 1), st.integers(1, max_cases)).map(
        lambda t: generate_cases(random.Random(t[0]), t[1], start_year, end_year,
                                 first_case=first_case))


if __name__ == "__main__":  # pragma: no cover
    import json
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for ev in generate_cases(random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0), n):
        print(json.dumps(ev, ensure_ascii=False))


# --- the agreements' other obligations (profiles) --------------------------------------------

TEXTS = ["Kallelse till samordnad individuell plan A.B. 150510",
         "Kallelse till samordnad individuell plan, AB, datum 2025-03-03 kl 13.00",
         "Kallelse till SIP för Kalle 19121212-1212",     # the published test identity
         "Kallelse till samordnad individuell plan för Anna"]


def _plus(at: str, days: int, rng: random.Random) -> str:
    d = date.fromisoformat(at[:10]) + timedelta(days=days)
    return render_at(rng, d)


def extend_cases(rng: random.Random, events: list[dict], groups: int = 1) -> list[dict]:
    """The same cases with the fields and events of the extended obligations added at
    random: birth dates, consent form and scope, invitation channel and text, plans with
    follow-ups, BUS-individ protocols, deviations, and cooperation groups' meetings."""
    out: list[dict] = []
    by_case: dict[str, list[dict]] = {}
    for e in events:
        by_case.setdefault(e["case"], []).append(dict(e))
    for case, evs in by_case.items():
        extra: list[dict] = []
        n = 0

        def add(at: str, etype: str, unit: str, **fields) -> None:
            nonlocal n
            n += 1
            extra.append({"id": f"{case}-x{n}", "case": case, "type": etype, "at": at, "unit": unit, **fields})
        for e in evs:
            if e["type"] == "case.opened" and rng.random() < 0.8:
                start = date.fromisoformat(e["at"][:10])
                born = start - timedelta(days=rng.randint(15 * 365, 20 * 365))
                e["child"] = dict(e.get("child") or {}, birth_date=born.isoformat())
            elif e["type"] == "consent.given":
                form = rng.choice(["written", "written", "oral", None])
                if form:
                    e["form"] = form
                if rng.random() < 0.4:
                    e["scope"] = rng.sample(UNITS, rng.randint(1, 3))
            elif e["type"] == "invitation.sent":
                channel = rng.choice(["email", "email", "letter", "phone", None])
                if channel:
                    e["channel"] = channel
                if channel == "email" and rng.random() < 0.7:
                    e["text"] = rng.choice(TEXTS)
            elif e["type"] == "meeting.held" and rng.random() < 0.5:
                unit = e.get("unit") or "soc-skarpnack"
                if e.get("kind") == "bus_individ" or "B" in e.get("meeting", ""):
                    add(_plus(e["at"], rng.randint(0, 25), rng), "protocol.sent", unit,
                        meeting=e["meeting"], to=list(e.get("attendees") or []))
                else:
                    follow = date.fromisoformat(e["at"][:10]) + timedelta(days=rng.randint(20, 90))
                    plan = {"meeting": e["meeting"],
                            "coordinator": rng.choice([unit, unit, ""]),
                            "actions": rng.choice([[], [{"unit": unit, "action": "stöd", "extent": "varje vecka"}],
                                                   [{"unit": "bup-farsta", "action": "samtal"}]]),
                            "follow_up": rng.choice([{"date": follow.isoformat(), "convener": unit},
                                                     {"date": follow.isoformat()}, {}])}
                    add(e["at"][:10], "plan.documented", unit, **plan)
                    if rng.random() < 0.6:
                        held = follow + timedelta(days=rng.randint(-10, 10))
                        add(render_at(rng, held), "meeting.held", unit, meeting=f"{e['meeting']}F",
                            kind="sip_followup", attendees=[unit])
        if rng.random() < 0.3:
            filed = date.fromisoformat(evs[0]["at"][:10]) + timedelta(days=rng.randint(10, 200))
            ref = f"AV-{case}"
            add(render_at(rng, filed), "deviation.filed", "soc-skarpnack", deviation=ref,
                to=rng.choice(UNITS), **{"from": "soc-skarpnack"})
            if rng.random() < 0.7:
                add(render_at(rng, filed + timedelta(days=rng.randint(20, 90))), "deviation.replied",
                    "bup-farsta", deviation=ref)
            if rng.random() < 0.6:
                add(render_at(rng, filed + timedelta(days=rng.randint(100, 200))), "deviation.closed",
                    "soc-skarpnack", deviation=ref, **({"decision": "Åtgärdat"} if rng.random() < 0.6 else {}))
        out += evs + extra
    for g in range(groups):
        case, group = f"G-{g}", rng.choice(["styrgrupp", "handlaggargrupp"])
        for k in range(rng.randint(0, 14)):
            day = date(2003, 1, 1) + timedelta(days=rng.randrange(5 * 365))
            out.append({"id": f"{case}-{k}", "case": case, "type": "group.meeting.held",
                        "at": render_at(rng, day), "unit": "soc-nynashamn", "group": group})
    return out


def consent_heavy_case(n_events: int, case: str = "BIG", seed: int = 15) -> list[str]:
    """One consent-heavy case (issue 15): consent given and withdrawn again and again, often
    several times a day, SIP initiatives now and then (some while consent is withdrawn),
    and SIP meetings planned, invited to and held. About `n_events` event lines from 2013,
    over at most about 11 years (the more events, the more of them a day)."""
    rng = random.Random(seed)
    lines: list[str] = []
    day = date(2013, 1, 7)
    step = min(0.5, 4000 / max(n_events, 1))       # the chance that the next event is a day later
    k = 0

    def add(etype: str, d: date, **fields) -> None:
        nonlocal k
        k += 1
        at = f"{d.isoformat()}T{8 + k % 9:02d}:{k % 60:02d}:00+01:00"
        lines.append(json.dumps({"id": f"{case}-{k}", "case": case, "type": etype, "at": at,
                                 "unit": "soc", **fields}))

    m = 0
    while len(lines) < n_events:
        r = rng.random()
        if r < 0.40:
            add("consent.given", day)
        elif r < 0.75:
            add("consent.withdrawn", day)
        elif r < 0.85:
            add("sip.initiated", day)
        else:
            m += 1
            held = day + timedelta(days=rng.randint(10, 45))
            add("meeting.scheduled", day, meeting=f"M{m}", kind="sip", date=held.isoformat())
            add("invitation.sent", day, meeting=f"M{m}", to="bup")
            if held <= day + timedelta(days=20):       # held on its day (the scan orders the case)
                add("meeting.held", held, meeting=f"M{m}", attendees=["soc", "bup"])
        if rng.random() < step:
            day += timedelta(days=1)
    return lines[:n_events]
