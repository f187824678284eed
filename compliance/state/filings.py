"""Deviations filed in the log (`deviation.filed`) count as decisions made by the log.

state.md: a `deviation.filed` event whose (`case`, `to` unit) match a finding's (`case`,
`unit`) is a `deviation-filed` decision on that finding, with the event's `deviation`
reference. A deviation reports a breach that has happened, so a filing covers the
findings of its case and unit that were due on or before the day it was filed, not one
that arises later in the same case (docs/decisions.md). Each filing is recorded once
per finding, by the first scan that sees both; it is not recorded again every night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, MetaData, String, Table, and_, exists, func, insert, literal, select

from .schema import UtcDateTime, decisions, findings

LOG_DECIDER = "logg"   # decided_by of a log decision when the event names no sending unit


@dataclass(frozen=True)
class DeviationFiling:
    """One `deviation.filed` event of the log."""

    case: str
    to: str | None            # the receiving unit (chef B), matched against a finding's unit
    reference: str            # the event's `deviation`, e.g. AV-2025-07
    event_id: str
    date: dt.date             # the event's local date in Stockholm
    from_unit: str | None = None

    @classmethod
    def from_event(cls, event: Any, date: dt.date) -> "DeviationFiling":
        """From a parsed `DeviationFiled` event (compliance.events) and its local date."""
        return cls(case=event.case, to=event.to, reference=event.deviation, event_id=event.id,
                   date=date, from_unit=getattr(event, "from_", None))


_staging = MetaData()
staged_filings = Table(
    "staged_filings", _staging,
    Column("case", String, nullable=False),
    Column("to_unit", String, nullable=False),
    Column("reference", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("event_date", String(10), nullable=False),
    Column("from_unit", String),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def earliest_filings(filings: Iterable[DeviationFiling]) -> list[DeviationFiling]:
    """One filing per (case, unit, reference): the earliest (a log may repeat one)."""
    first: dict[tuple[str, str, str], DeviationFiling] = {}
    for f in filings:
        if not f.to or not f.reference:
            continue   # no receiving unit: it cannot be matched to a finding
        key = (f.case, f.to, f.reference)
        kept = first.get(key)
        if kept is None or (f.date, f.event_id) < (kept.date, kept.event_id):
            first[key] = f
    return list(first.values())


def record_log_decisions(conn: Connection, run_id: int, filings: list[DeviationFiling],
                         now: dt.datetime) -> int:
    """Append the `deviation-filed` decisions the log makes on present findings; how many."""
    if not filings:
        return 0
    staged_filings.create(conn)
    conn.execute(insert(staged_filings), [
        {"case": f.case, "to_unit": f.to, "reference": f.reference, "event_id": f.event_id,
         "event_date": f.date.isoformat(), "from_unit": f.from_unit} for f in filings])
    s, fi, d = staged_filings, findings, decisions
    already = exists().where(d.c.finding_id == fi.c.id, d.c.source == "log", d.c.reference == s.c.reference)
    matches = (
        select(fi.c.id, literal("deviation-filed"), s.c.reference,
               func.coalesce(s.c.from_unit, LOG_DECIDER), literal(now, UtcDateTime()), literal("log"),
               literal(run_id), s.c.event_id, s.c.event_date)
        .join_from(s, fi, and_(fi.c.case == s.c.case, fi.c.unit == s.c.to_unit))
        .where(fi.c.state == "present", fi.c.due <= s.c.event_date, ~already)
    )
    conn.execute(insert(d).from_select(
        ["finding_id", "decision", "reference", "decided_by", "decided_at", "source", "seen_run",
         "event_id", "event_date"], matches))
    staged_filings.drop(conn)
    return conn.execute(select(func.count()).select_from(d).where(d.c.source == "log", d.c.seen_run == run_id)
                        ).scalar_one()
