"""Recording a scan: the run, its findings, what changed since the previous run.

Everything a scan writes is one transaction under the store's write lock:

    with recording(store, RunInfo(as_of=..., rules_digest=...)) as rec:
        rec.add_findings(findings)               # any iterable, streamed in chunks
        rec.add_deviation_filings(filings)       # the log's deviation.filed events
        changes = rec.finish()                   # new / changed / resolved / reopened
        rec.write_changes(tmp / "changes.jsonl")
    # committed here; an exception (or a kill) before this line leaves the store as it was

The findings go to a temporary table and are compared with the stored ones by the
database, so a million findings take bounded memory. A finding is `changed` when its
`status`, `due`, `actual` or `rule_version` differ (MATERIAL_FIELDS); the lateness
counters that grow with the as-of date are kept current but are no change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from ..chunks import chunks
from sqlalchemy import (Column, Connection, MetaData, Table, and_, exists, func, insert, literal, null, or_,
                        select, update)
from sqlalchemy.exc import IntegrityError

from .. import __version__
from .cache import CaseResult, forget_cases_except, put_case_results, settled_cases
from .changes import MATERIAL_FIELDS, write_changes
from .errors import StateError
from .evidence import CaseDetails, put_case_details
from .filings import DeviationFiling, earliest_filings, record_log_decisions
from .schema import finding_changes, findings, runs
from .store import Store

# The columns a finding dict fills, besides its id and the JSON line itself.
_FIELD_COLUMNS = ("rule", "case", "event", "meeting", "unit", "status", "due", "actual",
                  "rule_version", "days_late", "business_days_late")
# Those that may change while the finding stays the same (its identity never does).
_CHANGING_COLUMNS = ("status", "due", "actual", "rule_version", "days_late", "business_days_late")
_CHUNK = 2000


@dataclass(frozen=True)
class RunInfo:
    """What the store keeps about a scan besides its findings (manifest.json's facts)."""

    as_of: dt.date
    rules_digest: str
    profile: str = "core"
    inputs: Sequence[Mapping[str, Any]] = ()
    counts: Mapping[str, Any] = field(default_factory=dict)
    started_at: dt.datetime | None = None
    tool_version: str = __version__
    out_dir: str | None = None        # the scan's --out, where its outputs are swapped in
    staged_dir: str | None = None     # the folder they are written into before the swap


@dataclass(frozen=True)
class RunChanges:
    """What a recorded run changed: the four counts for the summary, and more."""

    run_id: int
    previous_run: int | None
    new: int
    changed: int
    resolved: int
    reopened: int
    present: int            # findings present after the run
    log_decisions: int      # deviation-filed decisions the log made this run

    def summary_line(self) -> str:
        """The line for the scan's summary on stderr."""
        since = ("sedan förra körningen" if self.previous_run is not None
                 else "(första körningen i tillståndet)")
        return (f"Ändringar {since}: nya {self.new}, ändrade {self.changed}, "
                f"lösta {self.resolved}, återöppnade {self.reopened}")

    def counts(self) -> dict[str, int]:
        return {"new": self.new, "changed": self.changed, "resolved": self.resolved, "reopened": self.reopened}


# The night's findings, before they are compared with the stored ones: the columns of
# `findings` that a finding dict fills.
_staging = MetaData()
staged_findings = Table(
    "staged_findings", _staging,
    *(Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
      for c in findings.c if c.name in ("id", *_FIELD_COLUMNS, "data")),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def latest_run(conn: Connection) -> int | None:
    """The newest recorded run's id (None in a new store)."""
    return conn.execute(select(func.max(runs.c.id))).scalar()


@dataclass(frozen=True)
class Publication:
    """Where the newest run's outputs were staged and are to be swapped in."""

    run_id: int
    out_dir: str
    staged_dir: str


def latest_publication(conn: Connection) -> Publication | None:
    """The newest run's output folders (None: no run, or one recorded without them)."""
    row = conn.execute(select(runs.c.id, runs.c.out_dir, runs.c.staged_dir)
                       .where(runs.c.id == select(func.max(runs.c.id)).scalar_subquery())).first()
    if row is None or not row.out_dir or not row.staged_dir:
        return None
    return Publication(row.id, row.out_dir, row.staged_dir)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Recording:
    """One scan being recorded; made by `recording()`, valid inside its `with` block."""

    def __init__(self, conn: Connection, store: Store, info: RunInfo) -> None:
        self._conn = conn
        self._store = store
        self.info = info
        self.previous_run = latest_run(conn)
        started = info.started_at or _now()
        self.run_id: int = conn.execute(insert(runs).values(
            as_of=info.as_of, profile=info.profile, rules_digest=info.rules_digest,
            inputs=list(info.inputs), counts=dict(info.counts), started_at=started, ended_at=started,
            tool_version=info.tool_version, findings=0, new=0, changed=0, resolved=0, reopened=0,
            out_dir=info.out_dir, staged_dir=info.staged_dir,
        ).returning(runs.c.id)).scalar_one()
        staged_findings.create(conn)
        self._filings: list[DeviationFiling] = []
        self._settled = False
        self.changes: RunChanges | None = None

    def add_findings(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Stage findings (dicts as findings.jsonl holds them); may be called repeatedly."""
        self._check_open()
        return sum(self._stage(chunk) for chunk in chunks(map(_staged_row, items), _CHUNK))

    def _stage(self, rows: list[dict[str, Any]]) -> int:
        try:
            self._conn.execute(insert(staged_findings), rows)
        except IntegrityError:   # the whole transaction is rolled back
            raise StateError(f"{self._store.display}: två brister i körningen har samma id") from None
        return len(rows)

    def settle_cases(self, cases: Iterable[str]) -> None:
        """Cases whose stored results an incremental scan took as they are: their stored
        findings stand unless staged again (only open findings are, for their lateness
        counters), and neither they nor their summaries count as gone. Call once, before
        `put_case_details` and `finish`."""
        self._check_open()
        if self._settled:
            raise RuntimeError("settle_cases called twice")
        settled_cases.create(self._conn)
        self._settled = True
        for chunk in chunks(({"case": case} for case in cases), _CHUNK):
            self._conn.execute(insert(settled_cases), chunk)

    def add_deviation_filings(self, filings: Iterable[DeviationFiling]) -> None:
        """The log's `deviation.filed` events (few: kept in memory until `finish`)."""
        self._check_open()
        self._filings.extend(filings)

    def put_case_results(self, results: Iterable[CaseResult]) -> None:
        """Keep cases' results for the next incremental scan (same transaction)."""
        self._check_open()
        put_case_results(self._conn, self.run_id, results)

    def forget_case_results_except(self, keep: Iterable[str]) -> None:
        """Drop the stored results of every case but these (gone from the log, or failed)."""
        self._check_open()
        forget_cases_except(self._conn, keep)

    def put_case_details(self, details: Iterable[CaseDetails]) -> int:
        """Every case's summary and evidence rows, for the review app (call once, with all
        the run's cases; `evidence.case_details` pairs them). Unchanged cases are not
        rewritten; cases gone from the log are removed. Returns how many were written."""
        self._check_open()
        return put_case_details(self._conn, self.run_id, details, settled=self._settled)

    def finish(self) -> RunChanges:
        """Compare with the store, apply the changes, record the log's decisions."""
        self._check_open()
        conn, run_id, s, f = self._conn, self.run_id, staged_findings, findings
        _record_present_changes(conn, run_id, "changed", f.c.state == "present")
        _record_present_changes(conn, run_id, "reopened", f.c.state == "resolved")
        gone = and_(f.c.state == "present", ~exists().where(s.c.id == f.c.id))
        if self._settled:
            gone = and_(gone, ~exists().where(settled_cases.c.case == f.c.case))
        last_known = [f.c[name] for name in MATERIAL_FIELDS]
        conn.execute(insert(finding_changes).from_select(
            _change_columns(), select(literal(run_id), f.c.id, literal("resolved"), *last_known, *last_known)
            .where(gone)))
        conn.execute(update(f).where(gone).values(state="resolved", resolved_run=run_id))
        conn.execute(update(f).where(f.c.id == s.c.id, or_(f.c.state == "resolved", f.c.data != s.c.data))
                     .values(state="present", resolved_run=None, data=s.c.data,
                             **{name: s.c[name] for name in _CHANGING_COLUMNS}))
        conn.execute(insert(f).from_select(
            ["id", *_FIELD_COLUMNS, "data", "state", "first_seen_run"],
            select(s.c.id, *(s.c[name] for name in _FIELD_COLUMNS), s.c.data, literal("present"),
                   literal(run_id)).where(~exists().where(f.c.id == s.c.id))))
        conn.execute(insert(finding_changes).from_select(
            _change_columns(),
            select(literal(run_id), f.c.id, literal("new"), *(f.c[name] for name in MATERIAL_FIELDS),
                   *(null() for _ in MATERIAL_FIELDS)).where(f.c.first_seen_run == run_id)))
        staged_findings.drop(conn)
        if self._settled:
            settled_cases.drop(conn)

        log_decisions = record_log_decisions(conn, run_id, earliest_filings(self._filings), _now())
        counts = dict.fromkeys(("new", "changed", "resolved", "reopened"), 0)
        counts.update(conn.execute(
            select(finding_changes.c.change, func.count()).where(finding_changes.c.run_id == run_id)
            .group_by(finding_changes.c.change)).all())
        present = conn.execute(select(func.count()).select_from(f).where(f.c.state == "present")).scalar_one()
        conn.execute(update(runs).where(runs.c.id == run_id).values(ended_at=_now(), findings=present, **counts))
        self.changes = RunChanges(run_id=run_id, previous_run=self.previous_run, present=present,
                                  log_decisions=log_decisions, **counts)
        return self.changes

    def write_changes(self, path: Path | str) -> None:
        """changes.jsonl of this run, inside the transaction (after `finish`)."""
        if self.changes is None:
            raise RuntimeError("write_changes before finish")
        write_changes(self._conn, self.run_id, Path(path), self._store.dialect)

    def report_states(self) -> dict[str, dict[str, Any]]:
        """What the drafts and reports of this run are told (`review.report_states`),
        inside the transaction: the log's filings and tonight's changes count."""
        if self.changes is None:
            raise RuntimeError("report_states before finish")
        from .review import report_states
        return report_states(self._conn)

    def _check_open(self) -> None:
        if self.changes is not None:
            raise RuntimeError("the recording is finished")


@contextmanager
def recording(store: Store, info: RunInfo, *, timeout: float | None = None) -> Iterator[Recording]:
    """Record one scan in one transaction (see the module's docstring). Waits at most
    `timeout` seconds (default: the store's) for another writer, then StoreBusy."""
    with store.write(exclusive=True, timeout=timeout) as conn:
        rec = Recording(conn, store, info)
        yield rec
        if rec.changes is None:
            rec.finish()


def record_scan(store: Store, info: RunInfo, found: Iterable[Mapping[str, Any]],
                filings: Iterable[DeviationFiling] = (), changes_path: Path | str | None = None,
                *, timeout: float | None = None) -> RunChanges:
    """The whole recording in one call; writes changes.jsonl to `changes_path` if given."""
    with recording(store, info, timeout=timeout) as rec:
        rec.add_findings(found)
        rec.add_deviation_filings(filings)
        changes = rec.finish()
        if changes_path is not None:
            rec.write_changes(changes_path)
    return changes


def _staged_row(f: Mapping[str, Any]) -> dict[str, Any]:
    try:
        row = {name: f[name] for name in _FIELD_COLUMNS}
        row["id"] = f["id"]
    except KeyError as exc:
        raise StateError(f"en brist saknar fältet {exc.args[0]!r}") from None
    row["data"] = orjson.dumps(dict(f)).decode()
    return row


def _change_columns() -> list[str]:
    return ["run_id", "finding_id", "change", *MATERIAL_FIELDS, *(f"old_{name}" for name in MATERIAL_FIELDS)]


def _record_present_changes(conn: Connection, run_id: int, change: str, where: Any) -> None:
    """History rows for staged findings that are stored and match `where`: for `changed`
    those whose material fields differ; for `reopened` all (the resolved ones)."""
    s, f = staged_findings, findings
    query = (select(literal(run_id), s.c.id, literal(change), *(s.c[name] for name in MATERIAL_FIELDS),
                    *(f.c[name] for name in MATERIAL_FIELDS))
             .join_from(s, f, s.c.id == f.c.id).where(where))
    if change == "changed":
        query = query.where(or_(*(s.c[name].is_distinct_from(f.c[name]) for name in MATERIAL_FIELDS)))
    conn.execute(insert(finding_changes).from_select(_change_columns(), query))
