"""Review decisions (granskningsbeslut) on findings: appended, never changed or deleted.

| decision          | needs                         | effect                                      |
|-------------------|-------------------------------|---------------------------------------------|
| `acknowledged`    | —                             | seen; stays on the lists, marked            |
| `deviation-filed` | the deviation's reference     | no draft; linked to the deviation           |
| `justified`       | a reason                      | off the open list, no draft; kept for audit |
| `data-error`      | a reason                      | as justified; counted apart                 |
| `reopen`          | a reason                      | open again                                  |

A decision remembers the newest run when it was made (`seen_run`): a material change
the store records after that run (review.py) puts it "före ändring". Free text is kept
as written, but text holding anything like a personal number is refused, and then
nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from ..privacy import contains_personal_number
from .errors import DecisionError, UnknownFinding, UsageError
from .runs import latest_run
from .schema import DECISIONS, SOURCES, decisions, findings
from .store import Store

NEEDS_REASON = frozenset({"justified", "data-error", "reopen"})
NEEDS_REFERENCE = frozenset({"deviation-filed"})
# Swedish names for people; the keys are the spec's (and the command line's) names.
DECISION_LABELS = {
    "acknowledged": "kvitterad",
    "deviation-filed": "avvikelse anmäld",
    "justified": "motiverad",
    "data-error": "datafel",
    "reopen": "återöppnad",
}
_MAX = {"reason": 4000, "reference": 100, "by": 200}


@dataclass(frozen=True)
class Decision:
    """One recorded decision."""

    id: int
    finding_id: str
    decision: str
    reason: str | None
    reference: str | None
    by: str
    at: dt.datetime                   # UTC
    source: str                       # cli, web or log
    from_address: str | None
    seen_run: int
    event_id: str | None = None       # the log's deviation.filed event
    event_date: str | None = None


def check_decision(decision: str, *, by: str | None, reason: str | None = None,
                   reference: str | None = None, source: str = "cli") -> tuple[str, str | None, str | None]:
    """The decision's (by, reason, reference), trimmed; UsageError or DecisionError with
    one Swedish line when it cannot be recorded as given."""
    if decision not in DECISIONS:
        raise UsageError(f"okänt beslut {decision!r}; välj ett av: {', '.join(DECISIONS)}")
    if source not in SOURCES:
        raise UsageError(f"okänd källa {source!r}")
    by, reason, reference = (_trimmed(v) for v in (by, reason, reference))
    if by is None:
        raise UsageError("ange vem som fattar beslutet (--by)")
    if decision in NEEDS_REASON and reason is None:
        raise UsageError(f"beslutet {decision} kräver ett skäl (--reason)")
    if decision in NEEDS_REFERENCE and reference is None:
        raise UsageError(f"beslutet {decision} kräver avvikelsens referens, t.ex. AV-2025-07 (--ref)")
    for name, value, label in (("by", by, "namnet"), ("reason", reason, "skälet"), ("reference", reference, "referensen")):
        if value is None:
            continue
        if contains_personal_number(value):
            raise DecisionError(f"{label} innehåller något som liknar ett personnummer; inget sparades")
        if len(value) > _MAX[name]:
            raise DecisionError(f"{label} är längre än {_MAX[name]} tecken; inget sparades")
    return by, reason, reference


def record_decision(store: Store, finding_id: str, decision: str, *, by: str | None,
                    reason: str | None = None, reference: str | None = None, source: str = "cli",
                    from_address: str | None = None) -> Decision:
    """Append a decision on a finding; the stored Decision. Raises before storing anything."""
    by, reason, reference = check_decision(decision, by=by, reason=reason, reference=reference, source=source)
    with store.write() as conn:
        if conn.execute(select(findings.c.id).where(findings.c.id == finding_id)).first() is None:
            raise UnknownFinding(f"{store.display}: ingen brist med id {finding_id!r}")
        values = {"finding_id": finding_id, "decision": decision, "reason": reason, "reference": reference,
                  "decided_by": by, "decided_at": dt.datetime.now(dt.timezone.utc), "source": source,
                  "from_address": from_address, "seen_run": latest_run(conn)}
        new_id = conn.execute(insert(decisions).values(**values).returning(decisions.c.id)).scalar_one()
    return _decision({**values, "id": new_id, "event_id": None, "event_date": None})


def decisions_of(conn: Connection, finding_ids: list[str] | None = None, where=None) -> dict[str, list[Decision]]:
    """Decisions by finding, oldest first: of these findings, or of the findings `where`
    selects (a condition on the findings table), or all."""
    query = select(decisions).order_by(decisions.c.id)
    if finding_ids is not None:
        query = query.where(decisions.c.finding_id.in_(finding_ids))
    if where is not None:
        query = query.where(decisions.c.finding_id.in_(select(findings.c.id).where(where)))
    out: dict[str, list[Decision]] = {}
    for row in conn.execute(query).mappings():
        d = _decision(row)
        out.setdefault(d.finding_id, []).append(d)
    return out


def _decision(row) -> Decision:
    return Decision(id=row["id"], finding_id=row["finding_id"], decision=row["decision"], reason=row["reason"],
                    reference=row["reference"], by=row["decided_by"], at=row["decided_at"], source=row["source"],
                    from_address=row["from_address"], seen_run=row["seen_run"], event_id=row["event_id"],
                    event_date=row["event_date"])


def _trimmed(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None
