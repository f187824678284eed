"""The auditors' views: a case's findings with their whole history (also as it stood on a
day), and the trail of sign-ins and decisions with who, when and from where."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pendulum
from sqlalchemy import select

from ..state.decisions import Decision, _decision
from ..state.review import FindingHistory, RunChange, finding_history, reviewed_findings
from ..state.schema import decisions, findings, runs
from ..state.store import Store
from ..state.users import SignIn, sign_in_history

TRAIL_LENGTH = 200


@dataclass(frozen=True)
class Trail:
    sign_ins: list[SignIn]
    decisions: list[tuple[Decision, dict]]        # with the finding's identity (case, unit, rule)


def trail(store: Store, limit: int = TRAIL_LENGTH) -> Trail:
    """The newest sign-in attempts and decisions, newest first."""
    with store.read() as conn:
        rows = conn.execute(select(decisions, findings.c.case, findings.c.unit, findings.c.rule)
                            .join(findings, findings.c.id == decisions.c.finding_id)
                            .order_by(decisions.c.id.desc()).limit(limit)).mappings().all()
    return Trail(sign_in_history(store, limit=limit),
                 [(_decision(r), {"case": r["case"], "unit": r["unit"], "rule": r["rule"]}) for r in rows])


@dataclass(frozen=True)
class CaseAccount:
    case: str
    histories: list[FindingHistory]


def _local_day(moment: dt.datetime) -> dt.date:
    return pendulum.instance(moment).in_timezone("Europe/Stockholm").date()


def case_account(store: Store, case: str, units: tuple[str, ...] | None,
                 as_of: dt.date | None = None) -> CaseAccount | None:
    """The case's findings the viewer may see (addressed to `units`; None: all), each with
    its changes run by run and every decision; `as_of`: only what the store knew at the
    end of that day. None when there is nothing to show (404)."""
    with store.read() as conn:
        items = list(reviewed_findings(conn, store.dialect, units=units, which="all", case=case))
        run_days = dict(conn.execute(select(runs.c.id, runs.c.as_of)).all())
    histories = [finding_history(store, i.id) for i in items]
    if as_of is not None:
        histories = [_as_it_stood(h, as_of, run_days) for h in histories]
        histories = [h for h in histories if h.changes]
    if not items:
        return None
    return CaseAccount(case, histories)


def _as_it_stood(history: FindingHistory, day: dt.date, run_days: dict[int, dt.date]) -> FindingHistory:
    """The history cut after `day`: runs with a later as-of date and later decisions dropped."""
    changes: list[RunChange] = [c for c in history.changes if run_days.get(c.run_id, c.as_of) <= day]
    material = [c.run_id for c in changes
                if c.change in ("changed", "reopened") and ("status" in c.fields or "due" in c.fields)]
    last = max(material, default=None)
    kept = [(d, last is not None and d.seen_run < last) for d, _ in history.decisions if _local_day(d.at) <= day]
    return FindingHistory(history.finding, changes, kept)
