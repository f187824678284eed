"""Each case's evidence events and summary, as the newest run saw them.

The review app shows a finding's evidence timeline and renders a case's drafts from the
store alone, so a scan keeps there what its `evidence.jsonl` and `cases.jsonl` hold: per
case, the summary the drafts route with (initiator, meetings, conveners) and the events
the findings cite (id, type, date, time, unit, meeting, to, kind, planned). These are
the scan's own pseudonymous output lines; the reading has already refused ids that hold
a personal number.

Only the newest run's view is kept. A case is rewritten only when its lines changed (a
digest per case), so a nightly scan with a few changed cases writes a few rows; the
cases no longer in the log are removed.

    with recording(store, info) as rec:
        rec.put_case_details(case_details(summary_dicts, evidence_dicts))
    case_summary(store, "K-001"); case_evidence(store, "K-001"); finding_evidence(store, fid)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from ..chunks import chunks
from sqlalchemy import Connection, delete, exists, insert, select

from .cache import case_list_table, settled_cases
from .errors import StateError, UnknownFinding
from .schema import case_summaries, evidence, findings
from .store import Store

# The fields of an evidence.jsonl line, in its order (besides `case`, the key).
EVIDENCE_FIELDS = ("id", "case", "type", "date", "time", "unit", "meeting", "to", "kind", "planned")
_COLUMNS = tuple(name for name in EVIDENCE_FIELDS if name != "case")
_CHUNK = 1000


@dataclass(frozen=True)
class CaseDetails:
    """One case as a scan saw it: its cases.jsonl line and its evidence.jsonl lines."""

    case: str
    summary: Mapping[str, Any]
    evidence: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def digest(self) -> str:
        """Changes whenever anything the store keeps of the case changes."""
        h = hashlib.sha256(orjson.dumps(self.summary, option=orjson.OPT_SORT_KEYS))
        for row in self.evidence:
            h.update(b"\n")
            h.update(orjson.dumps([row.get(name) for name in _COLUMNS]))
        return h.hexdigest()


def case_details(summaries: Iterable[Mapping[str, Any]],
                 evidence_rows: Iterable[Mapping[str, Any]]) -> Iterator[CaseDetails]:
    """Pair each case's summary with its evidence rows.

    Both come in the same case order, as a scan writes cases.jsonl and evidence.jsonl
    (every case has a summary; only cases with findings have evidence). Streamed: one
    case's rows are held at a time. A row out of that order is a fault, not skipped.
    """
    rows = iter(evidence_rows)
    pending = next(rows, None)
    for summary in summaries:
        case = summary.get("case")
        if not isinstance(case, str):
            raise StateError(f"en ärendesammanfattning saknar ärende: {orjson.dumps(summary)[:80]!r}")
        own: list[Mapping[str, Any]] = []
        while pending is not None and pending.get("case") == case:
            own.append(pending)
            pending = next(rows, None)
        yield CaseDetails(case, summary, own)
    if pending is not None:
        raise StateError(f"bevis för ärendet {pending.get('case')!r} kom utan ärendets sammanfattning "
                         "eller i fel ordning")


staged_cases = case_list_table("staged_cases")     # the cases given to put_case_details


def put_case_details(conn: Connection, run_id: int, details: Iterable[CaseDetails],
                     settled: bool = False) -> int:
    """Keep every case of the run (call once with all of them): rewrite the cases whose
    lines changed, remove those no longer in the log. Returns how many were rewritten.
    `settled`: the recording's `settled_cases` table names the cases an incremental scan
    took unchanged; they are not given here and stay."""
    staged_cases.create(conn)
    written = sum(_put(conn, run_id, chunk) for chunk in chunks(details, _CHUNK))
    gone = ~exists().where(staged_cases.c.case == case_summaries.c.case)
    if settled:
        gone = gone & ~exists().where(settled_cases.c.case == case_summaries.c.case)
    conn.execute(delete(evidence).where(evidence.c.case.in_(select(case_summaries.c.case).where(gone))))
    conn.execute(delete(case_summaries).where(gone))
    staged_cases.drop(conn)
    return written


def _put(conn: Connection, run_id: int, chunk: list[CaseDetails]) -> int:
    latest = {d.case: d for d in chunk}       # a case given twice: the last one counts
    conn.execute(insert(staged_cases), [{"case": case} for case in latest])
    digests = {case: d.digest() for case, d in latest.items()}
    stored = dict(conn.execute(select(case_summaries.c.case, case_summaries.c.digest)
                               .where(case_summaries.c.case.in_(list(latest)))).all())
    changed = [case for case, digest in digests.items() if stored.get(case) != digest]
    if not changed:
        return 0
    conn.execute(delete(evidence).where(evidence.c.case.in_(changed)))
    conn.execute(delete(case_summaries).where(case_summaries.c.case.in_(changed)))
    conn.execute(insert(case_summaries), [
        {"case": case, "summary": orjson.dumps(latest[case].summary).decode(), "digest": digests[case],
         "run_id": run_id} for case in changed])
    rows = [{"case": case, "seq": seq, **{name: row.get(name) for name in _COLUMNS}}
            for case in changed for seq, row in enumerate(latest[case].evidence)]
    if rows:
        conn.execute(insert(evidence), rows)
    return len(changed)


# --- queries (the review app, its drafts) ---------------------------------------------------

def summary_of(conn: Connection, case: str) -> dict[str, Any] | None:
    """The case's cases.jsonl line as the newest run wrote it (None: not in the log)."""
    text = conn.execute(select(case_summaries.c.summary).where(case_summaries.c.case == case)).scalar()
    return orjson.loads(text) if text is not None else None


def evidence_of(conn: Connection, cases: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The evidence.jsonl lines of these cases, in the scan's order, by case."""
    out: dict[str, list[dict[str, Any]]] = {}
    wanted = list(dict.fromkeys(cases))
    e = evidence.c
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        for row in conn.execute(select(evidence).where(e.case.in_(part)).order_by(e.case, e.seq)).mappings():
            out.setdefault(row["case"], []).append({name: row[name] for name in EVIDENCE_FIELDS})
    return out


def case_summary(store: Store, case: str) -> dict[str, Any] | None:
    """The case's summary (cases.jsonl line) from the newest run, or None."""
    with store.read() as conn:
        return summary_of(conn, case)


def case_evidence(store: Store, case: str) -> list[dict[str, Any]]:
    """Every evidence event of the case the newest run kept, in evidence.jsonl order."""
    with store.read() as conn:
        return evidence_of(conn, [case]).get(case, [])


def finding_evidence(store: Store, finding_id: str) -> list[dict[str, Any]]:
    """The events a finding rests on (its `evidence` ids), as evidence.jsonl rows, in the
    case's order. A resolved finding's events are there while its case still cites them."""
    with store.read() as conn:
        data = conn.execute(select(findings.c.data).where(findings.c.id == finding_id)).scalar()
        if data is None:
            raise UnknownFinding(f"{store.display}: ingen brist med id {finding_id!r}")
        finding = orjson.loads(data)
        ids = set(finding.get("evidence") or ())
        rows = evidence_of(conn, [finding["case"]]).get(finding["case"], [])
    return [row for row in rows if row["id"] in ids]
