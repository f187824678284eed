"""A finding's review status, and the questions the lists, drafts and review app ask.

The status follows from the finding's decisions and its history. The newest decision
still in force decides: `acknowledged`, `deviation-filed`, `justified`, `data-error`,
or open (no decision, or `reopen`). A decision stops being in force when the finding
changes materially after it — its `status` or its `due` changes in a later run (a
warning becomes a violation, a meeting is moved) — and is then shown as "beslut före
ändring": the finding is open again until someone decides anew.

"Open" here is the unit's to-do list: present findings whose status is open or
acknowledged. Drafts are wanted for present findings whose status is not
`deviation-filed`, `justified` or `data-error`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select

from ..vocabulary import NO_DRAFT_DECISIONS as NO_DRAFT
from .changes import MATERIAL_FIELDS, findings_order
from .decisions import Decision, decisions_of
from .errors import UnknownFinding
from .runs import latest_run
from .schema import decisions, finding_changes, findings, runs
from .store import Store

OPEN_STATUSES = frozenset({"open", "acknowledged"})
REVIEW_LABELS = {
    "open": "öppen",
    "acknowledged": "kvitterad",
    "deviation-filed": "avvikelse anmäld",
    "justified": "motiverad",
    "data-error": "datafel",
}
BEFORE_CHANGE = "beslut före ändring"


@dataclass(frozen=True)
class Review:
    """Where a finding stands after its decisions."""

    status: str                                        # a key of REVIEW_LABELS
    decision: Decision | None = None                   # the decision in force
    before_change: tuple[Decision, ...] = ()           # decisions made before a material change

    @property
    def label(self) -> str:
        return REVIEW_LABELS[self.status]

    @property
    def deviation_reference(self) -> str | None:
        """The deviation that covers the finding (while `deviation-filed` is in force)."""
        return self.decision.reference if self.status == "deviation-filed" and self.decision else None


def review_of(decisions: Sequence[Decision], last_material_run: int | None) -> Review:
    """The review status from a finding's decisions (oldest first) and the newest run in
    which it changed materially (None: never)."""
    stale = tuple(d for d in decisions if last_material_run is not None and d.seen_run < last_material_run)
    in_force = [d for d in decisions if d not in stale]
    if not in_force:
        return Review("open", None, stale)
    latest = in_force[-1]
    return Review("open" if latest.decision == "reopen" else latest.decision, latest, stale)


@dataclass(frozen=True)
class ReviewedFinding:
    """A finding with its place in the store and its review status."""

    finding: dict[str, Any]          # as findings.jsonl holds it (resolved: as last seen)
    state: str                       # present / resolved
    first_seen_run: int
    resolved_run: int | None
    change: str | None               # what the newest run did to it: new, changed, reopened, resolved
    review: Review

    @property
    def id(self) -> str:
        return self.finding["id"]

    @property
    def new_since_last_run(self) -> bool:
        """On tonight's list and not on last night's ("ny sedan förra körningen")."""
        return self.change in ("new", "reopened")

    @property
    def is_open(self) -> bool:
        """On the unit's to-do list."""
        return self.state == "present" and self.review.status in OPEN_STATUSES

    @property
    def needs_draft(self) -> bool:
        return self.state == "present" and self.review.status not in NO_DRAFT


def material_change_runs(conn: Connection, where: Any = None, finding_ids: list[str] | None = None) -> dict[str, int]:
    """The newest run in which each finding's status or due changed."""
    h = finding_changes
    query = (select(h.c.finding_id, func.max(h.c.run_id))
             .where(h.c.change.in_(("changed", "reopened")),
                    or_(h.c.status.is_distinct_from(h.c.old_status), h.c.due.is_distinct_from(h.c.old_due)))
             .group_by(h.c.finding_id))
    if finding_ids is not None:
        query = query.where(h.c.finding_id.in_(finding_ids))
    if where is not None:      # only decided findings matter: their history is short
        query = query.where(h.c.finding_id.in_(select(findings.c.id).where(where)),
                            h.c.finding_id.in_(select(decisions.c.finding_id)))
    return dict(conn.execute(query).all())


def _scope(units: Iterable[str] | None, which: str, case: str | None, rule: str | None,
           status: str | None) -> Any:
    f = findings.c
    terms = []
    if units is not None:
        terms.append(f.unit.in_(list(units)))
    if which != "all":
        terms.append(f.state == "present")
    if case is not None:
        terms.append(f.case == case)
    if rule is not None:
        terms.append(f.rule == rule)
    if status is not None:
        terms.append(f.status == status)
    return and_(*terms) if terms else None


def reviewed_findings(conn: Connection, dialect: str, *, units: Iterable[str] | None = None,
                      which: str = "open", case: str | None = None, rule: str | None = None,
                      status: str | None = None) -> Iterator[ReviewedFinding]:
    """Findings with their review status, sorted like findings.jsonl, streamed.

    `units`: only findings addressed to these units (a unit head's); `which`: "open"
    (the to-do list), "present" (every finding of the newest run) or "all" (also the
    resolved ones).
    """
    if which not in ("open", "present", "all"):
        raise ValueError(which)
    where = _scope(units, which, case, rule, status)
    decided = decisions_of(conn, where=where)
    material = material_change_runs(conn, where=where) if decided else {}
    newest = latest_run(conn)
    f, h = findings, finding_changes
    query = (select(f.c.data, f.c.state, f.c.first_seen_run, f.c.resolved_run, h.c.change)
             .outerjoin(h, and_(h.c.finding_id == f.c.id, h.c.run_id == newest))
             .order_by(*findings_order(dialect)))
    if where is not None:
        query = query.where(where)
    for row in conn.execution_options(yield_per=2000).execute(query):
        data = orjson.loads(row.data)
        item = ReviewedFinding(data, row.state, row.first_seen_run, row.resolved_run, row.change,
                               review_of(decided.get(data["id"], ()), material.get(data["id"])))
        if which == "open" and not item.is_open:
            continue
        yield item


def list_findings(store: Store, **kw: Any) -> list[ReviewedFinding]:
    """`reviewed_findings` in one read transaction, as a list (a unit's, a page's)."""
    with store.read() as conn:
        return list(reviewed_findings(conn, store.dialect, **kw))


def get_finding(store: Store, finding_id: str) -> ReviewedFinding:
    """One finding with its review status; UnknownFinding if the store has none such."""
    with store.read() as conn:
        found = _get(conn, finding_id, store.display)
    return found


def _get(conn: Connection, finding_id: str, display: str) -> ReviewedFinding:
    f, h = findings, finding_changes
    row = conn.execute(select(f.c.data, f.c.state, f.c.first_seen_run, f.c.resolved_run, h.c.change)
                       .outerjoin(h, and_(h.c.finding_id == f.c.id, h.c.run_id == latest_run(conn)))
                       .where(f.c.id == finding_id)).first()
    if row is None:
        raise UnknownFinding(f"{display}: ingen brist med id {finding_id!r}")
    decided = decisions_of(conn, [finding_id]).get(finding_id, [])
    material = material_change_runs(conn, finding_ids=[finding_id]).get(finding_id)
    return ReviewedFinding(orjson.loads(row.data), row.state, row.first_seen_run, row.resolved_run,
                           row.change, review_of(decided, material))


@dataclass(frozen=True)
class RunChange:
    """What one run did to a finding."""

    run_id: int
    as_of: dt.date
    at: dt.datetime                  # when the run was recorded (UTC)
    change: str
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)   # {name: {"old", "new"}}


@dataclass(frozen=True)
class FindingHistory:
    """A finding's whole story: its changes run by run and every decision on it."""

    finding: ReviewedFinding
    changes: list[RunChange]
    decisions: list[tuple[Decision, bool]]     # (decision, made before a material change)

    def timeline(self) -> list[RunChange | tuple[Decision, bool]]:
        """Changes and decisions in the order they happened: a decision after the run
        its maker had seen, before the next run."""
        items: list[tuple[tuple[int, int, int], Any]] = [((c.run_id, 0, 0), c) for c in self.changes]
        items += [((d.seen_run, 1, d.id), (d, stale)) for d, stale in self.decisions]
        return [item for _, item in sorted(items, key=lambda pair: pair[0])]


def finding_history(store: Store, finding_id: str) -> FindingHistory:
    """For `review history` and the auditors: the finding, its changes and decisions."""
    h, r = finding_changes, runs
    with store.read() as conn:
        found = _get(conn, finding_id, store.display)
        rows = conn.execute(select(h, r.c.as_of, r.c.ended_at).join_from(h, r, h.c.run_id == r.c.id)
                            .where(h.c.finding_id == finding_id).order_by(h.c.run_id)).mappings().all()
        decided = decisions_of(conn, [finding_id]).get(finding_id, [])
    changes = [RunChange(row["run_id"], row["as_of"], row["ended_at"], row["change"],
                         {name: {"old": row[f"old_{name}"], "new": row[name]} for name in MATERIAL_FIELDS
                          if row["change"] in ("changed", "reopened") and row[f"old_{name}"] != row[name]})
               for row in rows]
    stale = set(d.id for d in found.review.before_change)
    return FindingHistory(found, changes, [(d, d.id in stale) for d in decided])


def no_draft_ids(store: Store) -> set[str]:
    """Present findings that need no draft: `deviation-filed`, `justified` or `data-error`."""
    return {fid for fid, review in _decided_present(store).items() if review.status in NO_DRAFT}


def deviation_references(store: Store) -> dict[str, str]:
    """Finding id → the reference of the deviation that covers it (AV-2025-07)."""
    return {fid: review.deviation_reference for fid, review in _decided_present(store).items()
            if review.deviation_reference}


def _decided_present(store: Store) -> dict[str, Review]:
    with store.read() as conn:
        return _decided(conn)


def _decided(conn: Connection) -> dict[str, Review]:
    """The review of every present finding that has a decision."""
    where = findings.c.state == "present"
    decided = decisions_of(conn, where=where)
    material = material_change_runs(conn, where=where) if decided else {}
    return {fid: review_of(ds, material.get(fid)) for fid, ds in decided.items()}


def report_states(conn: Connection, *, with_new: bool = True) -> dict[str, dict[str, Any]]:
    """What the reports and drafts are told about the present findings (state.md, "What
    the reports do with it"): finding id -> {"status": review status, "reference": the
    filed deviation or None, "new": new or reopened in the newest run}.

    Only findings with a decision or new tonight are named (a few, not the night's
    hundreds of thousands); any other finding is open and not new. `with_new=False`
    leaves "new" out, for a scan folder that is not the newest run's (the reports then
    take it from the folder's own changes.jsonl).
    """
    out: dict[str, dict[str, Any]] = {}
    for fid, review in _decided(conn).items():
        out[fid] = {"status": review.status, "reference": review.deviation_reference}
        if with_new:
            out[fid]["new"] = False
    if with_new:
        h = finding_changes
        newest = latest_run(conn)
        for fid in conn.execute(select(h.c.finding_id).where(h.c.run_id == newest,
                                                             h.c.change.in_(("new", "reopened")))).scalars():
            out.setdefault(fid, {"status": "open", "reference": None})["new"] = True
    return out
