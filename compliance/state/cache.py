"""Each case's last result, for incremental scans (state.md, "Incremental scans").

A scan may reuse a case's stored findings, evidence and summary lines when the case's
events are the same (`events_digest`), the rules, profile, calendar and warn horizon are
the same (`context_digest`) and the as-of date has not reached the case's
`stable_until` day: the first day its findings could change without a new event. The
lateness counters of open findings are recomputed by the scan, not stored here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from ..chunks import chunks
from sqlalchemy import Column, Connection, MetaData, String, Table, delete, insert, select

from .schema import case_results, runs

_CHUNK = 1000

_staging = MetaData()


def case_list_table(name: str) -> Table:
    """A temporary table of case ids, living in the recording's transaction."""
    return Table(name, _staging, Column("case", String, primary_key=True),
                 prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


# The cases whose stored results stand tonight (taken as they are by an incremental scan):
# their stored findings, summary and evidence are neither staged again nor counted as
# gone (`Recording.settle_cases`).
settled_cases = case_list_table("settled_cases")


@dataclass(frozen=True)
class CaseResult:
    """One case's result as the scan writes it: its lines of findings.jsonl,
    evidence.jsonl and cases.jsonl, as bytes."""

    case: str
    events_digest: str
    context_digest: str
    stable_until: dt.date | None      # None: nothing changes without a new event
    findings: bytes
    evidence: bytes
    summary: bytes
    decided_as_of: dt.date | None = None   # the as-of of the run that stored it (read back)

    def reusable(self, events_digest: str, context_digest: str, as_of: dt.date) -> bool:
        """Whether tonight's scan of this case may take this result as it is: same events
        and context, and tonight's as-of date in [the day it was decided, stable-until)
        (an as-of date before it, a scan of an older day, may see fewer events)."""
        return (self.events_digest == events_digest and self.context_digest == context_digest
                and self.decided_as_of is not None and self.decided_as_of <= as_of
                and (self.stable_until is None or as_of < self.stable_until))


def context_digest(rules_digest: str, profile: str, calendar: str, warn_days: int) -> str:
    """A digest of everything besides a case's events that its result depends on."""
    key = orjson.dumps({"rules": rules_digest, "profile": profile, "calendar": calendar,
                        "warn_days": warn_days}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(key).hexdigest()


def put_case_results(conn: Connection, run_id: int, results: Iterable[CaseResult]) -> int:
    """Store (replace) cases' results, in chunks; how many."""
    return sum(_put(conn, run_id, chunk) for chunk in chunks(results, _CHUNK))


def _put(conn: Connection, run_id: int, chunk: list[CaseResult]) -> int:
    latest = {r.case: r for r in chunk}        # a case given twice: the last one counts
    conn.execute(delete(case_results).where(case_results.c.case.in_(list(latest))))
    conn.execute(insert(case_results), [
        {"case": r.case, "events_digest": r.events_digest, "context_digest": r.context_digest,
         "stable_until": r.stable_until.isoformat() if r.stable_until else None,
         "findings": r.findings, "evidence": r.evidence, "summary": r.summary, "run_id": run_id}
        for r in latest.values()])
    return len(latest)


def case_results_for(conn: Connection, cases: Iterable[str], lines: bool = True) -> Iterator[CaseResult]:
    """The stored results of these cases (those that have one), in chunks. Without
    `lines`, only what says whether a result may be reused (its lines left empty): a
    scan asks that of every case first and reads the lines of the reused ones later,
    a chunk at a time, so that they are never all in memory at once."""
    for chunk in chunks(cases, _CHUNK):
        yield from _get(conn, chunk, lines)


def _get(conn: Connection, chunk: list[str], lines: bool) -> Iterator[CaseResult]:
    c = case_results.c
    texts = (c.findings, c.evidence, c.summary) if lines else ()
    rows = conn.execute(select(c.case, c.events_digest, c.context_digest, c.stable_until, runs.c.as_of, *texts)
                        .join(runs, runs.c.id == c.run_id).where(c.case.in_(chunk)))
    for row in rows:
        yield CaseResult(row.case, row.events_digest, row.context_digest,
                         dt.date.fromisoformat(row.stable_until) if row.stable_until else None,
                         bytes(row.findings) if lines else b"", bytes(row.evidence) if lines else b"",
                         bytes(row.summary) if lines else b"", row.as_of)


def forget_cases_except(conn: Connection, keep: Iterable[str]) -> None:
    """Drop the stored results of cases no longer in the log (bounded by the log's cases)."""
    keep_set = set(keep)
    stale = [case for case in conn.execute(select(case_results.c.case)).scalars() if case not in keep_set]
    for i in range(0, len(stale), _CHUNK):
        conn.execute(delete(case_results).where(case_results.c.case.in_(stale[i:i + _CHUNK])))
