"""Deciding cases: a case's events in, its findings, evidence and summary out.

A `Decider` lives in each engine worker process. For a batch of cases it orders each
case's events and makes their facts (`compliance.facts`), lets the durable-rules session
decide (`compliance.session`), and turns the matches of the rules' `[[when]]` patterns
into findings (`compliance.findings`). Deciding never formats a report: drafts are
rendered on the output side (`compliance.deviations`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from .compiler import Plan, Program
from .dates_sv import day_texts
from .facts import CompactEvent, event_facts, order_events
from .findings import finalize, sort_key
from .patterns import Basis, basis, evaluate
from .rules import Version
from .session import CaseRun, Session, calendar_fn


@dataclass
class CaseFailure:
    """A case that could not be decided, and why (its `reason` is one line for errors.jsonl)."""
    case: str
    error: Exception

    @property
    def reason(self) -> str:
        from .session import CaseTooLarge, OutsideCalendar, SessionError
        if isinstance(self.error, (CaseTooLarge, OutsideCalendar, SessionError)):
            return str(self.error)
        return f"{type(self.error).__name__}: {self.error}"


@dataclass
class CaseOutcome:
    """What deciding one case gave, as the lines of the output files."""
    case: str
    findings: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    summary: dict[str, Any]
    met: list[dict[str, Any]] = field(default_factory=list)    # obligations met (replay only)
    run: CaseRun | None = None                                  # the session's facts (replay only)
    stable_until: int | None = None    # the first as-of (ordinal) that may change it (compliance.incremental)


class Decider:
    """Decides cases in this process with one durable-rules session."""

    def __init__(self, program: Program, as_of: dt.date, warn_days: int):
        self.program = program
        self.as_of = as_of
        self.session = Session(program, as_of, warn_days)
        self.warn_days = warn_days
        self._stability: Any = None

    def decide(self, cases: list[tuple[str, list[CompactEvent]]], keep_run: bool = False) -> list[CaseOutcome]:
        """Decide cases together (one durable-rules call per stage for all of them); a
        case that cannot be decided raises its error."""
        outcomes = self.decide_each(cases, keep_run)
        for o in outcomes:
            if isinstance(o, CaseFailure):
                raise o.error
        return outcomes     # type: ignore[return-value]

    def decide_each(self, cases: list[tuple[str, list[CompactEvent]]],
                    keep_run: bool = False) -> list[CaseOutcome | CaseFailure]:
        """Decide cases together; each its outcome, or its failure (the others go on).
        An error of the engine itself (a refused fact) raises: the batch is then run
        again one case at a time by the caller."""
        ordered = [order_events(events, self.as_of) for _, events in cases]
        inputs: list[list[tuple[dict[str, Any], str | None]]] = []
        failed: dict[int, Exception] = {}
        for k, events in enumerate(ordered):
            try:
                facts, sources = event_facts(events, self.program.needs, self.as_of)
            except Exception as exc:
                failed[k] = exc
                facts, sources = [], []
            inputs.append(list(zip(facts, sources)))
        runs = self.session.run(inputs)
        out: list[CaseOutcome | CaseFailure] = []
        for k, ((case, _), events, run) in enumerate(zip(cases, ordered, runs)):
            error = failed.get(k) or run.error
            if error is None:
                try:
                    outcome = self._outcome(case, events, run, keep_run)
                    outcome.stable_until = self.stability.until(cases[k][1], run, outcome.findings)
                    out.append(outcome)
                    continue
                except Exception as exc:
                    error = exc
            out.append(CaseFailure(case, error))
        return out

    @property
    def stability(self) -> Any:
        """How long a case's result holds without new events (incremental scans)."""
        if self._stability is None:
            from .incremental import Stability
            self._stability = Stability(self.program, self.as_of, self.warn_days)
        return self._stability

    # --- findings ---------------------------------------------------------------------------

    def _outcome(self, case: str, events: list[CompactEvent], run: CaseRun, keep_run: bool) -> CaseOutcome:
        when = {e[1]: (e[3], e[4], e[1]) for e in events}
        order = lambda eid: when.get(eid, (0, 0, eid))  # noqa: E731
        found: dict[tuple, dict[str, Any]] = {}
        met: dict[tuple, dict[str, Any]] = {}
        for plan, match in run.matches:
            if plan.out_of_force:       # the replay's account only (compliance.replay)
                continue
            raw = self._raw(case, plan, match, run, order)
            target = met if plan.status == "met" else found
            key = (raw["rule"], raw["status"], raw["event"], raw["meeting"], raw["unit"], raw["due"])
            if key in target:   # two routes to the same breach (e.g. two withdrawals)
                old = target[key]
                old["evidence"] = sorted(set(old["evidence"]) | set(raw["evidence"]), key=order)
                old["basis"] = min((old["basis"], raw["basis"]), key=lambda b: orjson.dumps(b))
                old["whens"] = sorted(set(old["whens"]) | set(raw["whens"]))
            else:
                target[key] = raw
        findings = sorted((self._final(f) for f in found.values()), key=sort_key)
        summary = self._summary(case, events, run, findings)
        cited = {e for f in findings for e in f["evidence"]}
        return CaseOutcome(case, findings, evidence_events(case, events, cited), summary,
                           sorted((self._final(f) for f in met.values()), key=sort_key) if keep_run else [],
                           run if keep_run else None)

    def _raw(self, case: str, plan: Plan, match: dict[str, dict[str, Any]], run: CaseRun,
             order: Any) -> dict[str, Any]:
        values = {k: evaluate(e, match, plan.params, calendar_fn) for k, e in plan.exprs.items()}
        due = values["due"]
        # The version in force on the due date (None: the replay's out-of-force patterns).
        version = next((v for lo, hi, v in plan.versions if lo <= due <= hi), None)
        evidence = sorted({eid for f in match.values() for eid in run.evidence.get(f.get("id"), ())},
                          key=order)
        lookup = lambda alias, fld: run.bases.get((match[alias].get("id"), fld))  # noqa: E731
        b: Basis | None = basis(plan.exprs["due"], match, plan.params, lookup)
        return {"rule": plan.rule_id, "case": case, "status": plan.status,
                "event": values.get("event") or None, "meeting": values.get("meeting") or None,
                "unit": values.get("unit") or None, "due": due, "actual": values.get("actual") or None,
                "evidence": evidence, "rule_version": version, "title": plan.title,
                "basis": b.as_json() if b else None, "whens": [plan.when], "params": plan.params,
                "to": values.get("to") or "", "ref": values.get("ref") or ""}

    def _final(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The finding; where several patterns found the same breach (e.g. a plan lacking
        two things), the message says each, in the order of the patterns' names."""
        version: Version = self.program.versions[raw["rule"]][raw["rule_version"]]
        templates = list(dict.fromkeys(version.message_for(raw["status"], bool(raw["actual"]), w)
                                       for w in raw["whens"]))
        return finalize(raw, self.as_of, " ".join(templates), raw["params"])

    # --- the case summary (cases.jsonl) -------------------------------------------------------

    def _summary(self, case: str, events: list[CompactEvent], run: CaseRun,
                 findings: list[dict[str, Any]]) -> dict[str, Any]:
        """What the reports need of a case for statistics and routing. The meetings and
        SIP processes are the facts the rules derived (exported), not decided again here."""
        iso = lambda o: day_texts(o)[1] if o else None  # noqa: E731
        gender, opened, opener, initiator = "unknown", None, None, None
        requests, invited, attendees = [], {}, {}
        position = {e[1]: k for k, e in enumerate(events)}
        for _, eid, etype, day, _, unit, f in events:
            if etype == "case.opened" and opened is None:
                opened = iso(day)
                gender = (f.get("child") or {}).get("gender") or "unknown"
                opener = unit
            elif etype == "sip.initiated" and initiator is None and unit:
                initiator = unit
            elif etype == "bus_individ.requested":
                requests.append(iso(day))
            elif etype == "invitation.sent" and f["to"] not in invited.setdefault(f["meeting"], []):
                invited[f["meeting"]].append(f["to"])
            elif etype == "meeting.held":
                attendees[eid] = list(dict.fromkeys(f.get("attendees") or []))
        exports = run.exports
        held = {m["meeting"]: m for m in exports.get("held", [])}
        cancelled = {m["meeting"] for m in exports.get("cancelled", [])}
        meetings = sorted({m["meeting"]: m for m in exports.get("meetings", [])}.values(),
                          key=lambda m: position.get(m["e"], 0))
        late = {(f["rule"], f["event"]) for f in findings if f["status"] == "violation"}
        processes = []
        for clock in sorted(exports.get("sip_processes", []), key=lambda c: (c["start"], c["e"])):
            rule = self._export_rule("sip_processes")
            within = False if (rule, clock["e"]) in late else (
                True if clock["deadline"] < self.as_of.toordinal() else None)
            processes.append({"event": clock["e"], "start": iso(clock["start"]),
                              "deadline": iso(clock["deadline"]), "within_deadline": within})
        return {"case": case, "gender": gender, "opened": opened, "initiator": initiator or opener,
                "sip_processes": processes,
                "meetings": [{"meeting": m["meeting"], "kind": m["kind"] or None,
                              "convener": m["convener"] or None,
                              "held": iso(held[m["meeting"]]["day"]) if m["meeting"] in held else None,
                              "attendees": attendees.get(held[m["meeting"]]["e"], [])
                              if m["meeting"] in held else [],
                              "invited": invited.get(m["meeting"], []),
                              "cancelled": m["meeting"] in cancelled} for m in meetings],
                "bus_individ_requests": requests}

    def _export_rule(self, name: str) -> str:
        return next((p.rule_id for p in self.program.plans.values() if p.export == name), "")


def evidence_events(case: str, events: list[CompactEvent], ids: set[str]) -> list[dict[str, Any]]:
    """The events the findings cite, as evidence.jsonl holds them (case order)."""
    out = []
    if not ids:
        return out
    for _, eid, etype, day, secs, unit, f in sorted((e for e in events if e[1] in ids),
                                                    key=lambda e: (e[3], e[4], e[1])):
        planned = f.get("date")
        to = f.get("to")
        if isinstance(to, list):          # a protocol's recipients
            to = ", ".join(str(t) for t in to)
        out.append({
            "id": eid, "case": case, "type": etype, "date": day_texts(day)[1],
            "time": None if secs < 0 else f"{secs // 3600:02d}:{secs % 3600 // 60:02d}",
            "unit": unit, "meeting": f.get("meeting"), "to": to, "kind": f.get("kind"),
            "planned": day_texts(planned)[1] if isinstance(planned, int) and planned else None,
        })
    return out
