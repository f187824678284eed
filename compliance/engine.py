"""The rules engine: rule files compiled onto durable-rules, run in worker processes.

This is the only module that imports durable-rules, so a reader sees in one place how a
rule file becomes a ruleset, and another engine could replace it.

How a scan uses durable-rules 2.0.28 (see docs/durable-rules-notes.md for the measured reasons):
- Each `[[when]]` of a rule file (and each value of its `each` list) becomes one
  durable-rules rule: a join of facts with conditions on day ordinals, `none()` for
  negation, never `|` (or) inside a join, which crashes the C engine.
- Each rule starts with its own trigger fact, asserted *last*, so that every blocking
  fact of a `none()` is already there when the rule is first tried.
- A case's facts are asserted in one call into the worker's one session (`sid` "0",
  reused for every case), the actions are drained, and the facts are retracted again: one
  live session, no `delete_state` (which crashes after `none()`), no timers (the as-of
  date is a fact). One session was faster than several used in turn (docs/decisions.md).
- The engine's C code can still crash on some rule shapes. It runs in worker processes; a
  batch whose worker died is run again in smaller batches, down to one case, and a case
  that still crashes is reported as an error. No case is ever lost silently.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

from . import calendar as vardagar
from .facts import build_case_facts
from .dates_sv import day_texts
from .findings import finalize, sort_key
from .rules import Condition, Expr, Rule, parse_expr

SESSION = "0"          # the one durable-rules session of a worker, reused for every case
BATCH_CASES = 100      # cases per task sent to a worker
FAULT_ENV = "COMPLIANCE_FAULT_CASE"   # test hook: a worker crashes on this case id

_DURABLE_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "!=": "$neq"}


class EngineError(Exception):
    pass


# --- compiling rule files -----------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How one compiled durable-rules rule turns a match into a finding."""
    rule_id: str
    version: str
    title: str
    status: str
    params: dict[str, Any]
    emit: dict[str, Expr]


def _term(term: tuple, params: dict[str, Any]) -> Any:
    kind = term[0]
    if kind in ("int", "str"):
        return term[1]
    if kind == "param":
        return params[term[1]]
    return {term[1]: term[2]}      # a field of an earlier fact: {"alias": "field"}


def _compile_expr(expr: Expr, params: dict[str, Any]) -> Any:
    out: Any = None
    for i, (sign, term) in enumerate(expr.terms):
        value = _term(term, params)
        if i == 0:
            out = value if sign > 0 else {"$sub": {"$l": 0, "$r": value}}
        else:
            out = {"$add" if sign > 0 else "$sub": {"$l": out, "$r": value}}
    return out


def _compile_condition(cond: Condition, params: dict[str, Any]) -> list[dict[str, Any]]:
    rhs = _compile_expr(cond.expr, params)
    if isinstance(rhs, list):
        if cond.op != "!=":
            raise EngineError(f"en lista kan bara jämföras med != ({cond.field})")
        return [{"$neq": {cond.field: v}} for v in rhs]
    if cond.op == "==":
        return [{cond.field: rhs}]
    return [{_DURABLE_OPS[cond.op]: {cond.field: rhs}}]


def compile_rules(rules: list[Rule]) -> tuple[dict[str, Any], dict[str, Plan]]:
    """Rule files -> (durable-rules ruleset definition, plan for each compiled rule)."""
    definition: dict[str, Any] = {}
    plans: dict[str, Plan] = {}
    for rule in rules:
        for when in rule.when:
            keys = list(when.each)
            values = [rule.params[when.each[k]] for k in keys]
            for n, combo in enumerate(itertools.product(*values) if keys else [()]):
                params = dict(rule.params, **dict(zip(keys, combo)))
                name = f"{rule.id}__{when.name}__{n}"
                conditions: list[dict[str, Any]] = [
                    {"trig": {"$and": [{"t": "trig"}, {"r": name}]}}
                ]
                for k, pat in enumerate(when.facts):
                    tests: list[dict[str, Any]] = [{"t": pat.fact}]
                    for cond in pat.conditions:
                        tests.extend(_compile_condition(cond, params))
                    alias = f"n{k}$not" if pat.none else pat.alias
                    conditions.append({alias: {"$and": tests} if len(tests) > 1 else tests[0]})
                definition[name] = {"all": conditions}
                plans[name] = Plan(rule.id, rule.version.isoformat(), rule.title, when.status,
                                   params, {k: parse_expr(v) for k, v in when.emit.items()})
    # A few rules that never match at the end of the ruleset: with them the C engine's
    # out-of-bounds read (notes/durable-rules.md, crash 3) was not seen.
    for k in range(3):
        definition[f"zz_never_{k}"] = {"all": [{"x": {"t": f"never_{k}"}}]}
    return definition, plans


def _evaluate(expr: Expr, match: dict[str, dict[str, Any]], params: dict[str, Any]) -> Any:
    total: Any = None
    for sign, term in expr.terms:
        if term[0] == "ref":
            value = match[term[1]].get(term[2])
        else:
            value = _term(term, params)
        if total is None:
            total = value if sign > 0 else -value
        else:
            total = total + value if sign > 0 else total - value
    return total


# --- the worker ---------------------------------------------------------------------------

class _Worker:
    """One durable-rules ruleset in one process, with its one reusable session."""

    def __init__(self, definition_json: str, plans: dict[str, Plan], as_of: dt.date,
                 rules_meta: dict[str, dict[str, Any]], warn_days: int, drafts: Any = None):
        from .durable import load_engine   # only here: the C engine lives in workers
        engine = load_engine()
        self.engine = engine
        self.handle = engine.create_ruleset("compliance", definition_json)
        self.plans = plans
        self.as_of = as_of
        # The facts' clocks and send-by dates follow these two rules' parameters.
        self.clock_params = rules_meta.get("meeting-within-30-days", {}).get("params", {})
        self.notice_params = rules_meta.get("invitation-notice", {}).get("params", {})
        horizon = vardagar.add_business_days(as_of, warn_days).toordinal()
        self.rules_meta = rules_meta
        # The trigger facts, one per compiled rule, as JSON list items (asserted last).
        self.triggers = orjson.dumps([{"id": f"trig{k}", "t": "trig", "r": name, "asof": as_of.toordinal(),
                                       "horizon": horizon, "sid": SESSION}
                                      for k, name in enumerate(plans)])[1:-1]
        self.fault_case = os.environ.get(FAULT_ENV)
        self.drafts = drafts      # a deviations.DraftWriter, or None (no drafts)

    def evaluate(self, case: str, events: list[Any]) -> dict[str, Any]:
        if self.fault_case and case == self.fault_case:
            os.kill(os.getpid(), signal.SIGSEGV)   # test hook: behave like a C-engine crash
        cf = build_case_facts(case, events, self.as_of, self.clock_params, self.notice_params, SESSION)
        evidence_of = cf.evidence
        matches = self._run(orjson.dumps(cf.facts)[1:-1], self.triggers)
        # Evidence in time order, ties by id: the same whatever order the input came in.
        when = {e[1]: (e[3], e[4], e[1]) for e in cf.events} if matches else {}
        order = when.__getitem__      # every evidence id is an event of the case
        findings: dict[tuple, dict[str, Any]] = {}
        for name, match in matches:
            plan = self.plans[name]
            values = {k: _evaluate(e, match, plan.params) for k, e in plan.emit.items()}
            evidence = sorted({eid for f in match.values() for eid in evidence_of.get(f.get("id"), [])},
                              key=order)
            raw = {
                "rule": plan.rule_id, "case": case, "status": plan.status,
                "event": values.get("event") or None, "meeting": values.get("meeting") or None,
                "unit": values.get("unit") or None, "due": values["due"],
                "actual": values.get("actual"), "evidence": evidence,
                "rule_version": plan.version, "title": plan.title,
            }
            key = (raw["rule"], raw["status"], raw["event"], raw["meeting"], raw["unit"], raw["due"])
            if key in findings:   # two routes to the same breach (e.g. two withdrawals)
                findings[key]["evidence"] = sorted(set(findings[key]["evidence"]) | set(evidence), key=order)
            else:
                findings[key] = raw
        final = sorted((finalize(f, self.as_of, self.rules_meta[f["rule"]]) for f in findings.values()),
                       key=sort_key)
        summary = _case_summary(cf, self.as_of.toordinal())
        evidence = _evidence_events(cf, {e for f in final for e in f["evidence"]})
        drafts = []
        if self.drafts is not None and any(f["status"] == "violation" for f in final):
            drafts = self.drafts.render_case(final, evidence, summary)
        # Returned as the lines of the output files: small to send back and to keep.
        return {"case": case, "findings": _jsonl(final), "evidence": _jsonl(evidence),
                "summary": _jsonl([summary]), "tally": [(f["rule"], f["status"]) for f in final],
                "drafts": drafts}

    def _run(self, facts: bytes, triggers: bytes) -> list[tuple[str, dict]]:
        """Assert a case's facts (triggers last), drain the actions, retract (triggers first)."""
        engine, handle = self.engine, self.handle
        # A case may have no facts at all (only case.opened): no empty item in the list.
        listed = b"[" + facts + b"," + triggers + b"]" if facts else b"[" + triggers + b"]"
        result = engine.assert_facts(handle, listed.decode())
        matches: list[tuple[str, dict]] = []
        try:
            state = result[1]
            action = engine.start_action_for_state(handle, state)
            while action:
                for name, match in orjson.loads(action[1]).items():
                    matches.append((name, match))
                nxt = engine.complete_and_start_action(handle, state)
                action = (None, nxt) if nxt else None
        finally:
            engine.retract_facts(handle, (b"[" + triggers + (b"," + facts if facts else b"") + b"]").decode())
        return matches


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows])


def _case_summary(cf: Any, as_of: int) -> dict[str, Any]:
    """What the reports need of a case for statistics (cases.jsonl)."""
    iso = lambda o: day_texts(o)[1] if o else None  # noqa: E731
    gender, opened, initiator = "unknown", None, None
    requests = []
    sip_initiator = next((e[5] for e in cf.events if e[2] == "sip.initiated" and e[5]), None)
    for _, _, etype, day, _, unit, f in cf.events:
        if etype == "case.opened" and opened is None:
            opened = iso(day)
            gender = (f.get("child") or {}).get("gender") or "unknown"
            initiator = initiator or unit
        elif etype == "bus_individ.requested":
            requests.append(iso(day))
    processes = []
    for c in cf.clocks:
        held = min((m.held for m in cf.meetings.values() if m.kind == "sip" and m.held >= c.start),
                   default=0)
        within = (held <= c.deadline) if held else (False if as_of > c.deadline else None)
        processes.append({"event": c.event, "start": iso(c.start), "deadline": iso(c.deadline),
                          "meeting_held": iso(held), "within_deadline": within})
    meetings = [{"meeting": m.meeting, "kind": m.kind, "convener": m.convener, "held": iso(m.held),
                 "attendees": m.attendees, "cancelled": m.cancelled} for m in cf.meetings.values()]
    return {"case": cf.case, "gender": gender, "opened": opened,
            "initiator": sip_initiator or initiator, "sip_processes": processes,
            "meetings": meetings, "bus_individ_requests": requests}


def _evidence_events(cf: Any, ids: set[str]) -> list[dict[str, Any]]:
    out = []
    if not ids:
        return out
    for _, eid, etype, day, secs, unit, f in sorted((e for e in cf.events if e[1] in ids),
                                                    key=lambda e: (e[3], e[4], e[1])):
        out.append({
            "id": eid, "case": cf.case, "type": etype,
            "date": day_texts(day)[1],
            "time": None if secs < 0 else f"{secs // 3600:02d}:{secs % 3600 // 60:02d}",
            "unit": unit, "meeting": f.get("meeting"), "to": f.get("to"), "kind": f.get("kind"),
        })
    return out


_WORKER: _Worker | None = None


def _init_worker(*args: Any) -> None:
    global _WORKER
    import gc
    # A case makes thousands of short-lived objects and no reference cycles worth
    # chasing: collecting less often saved about 7 % of a worker's time.
    gc.set_threshold(50_000, 20, 100)
    _WORKER = _Worker(*args)


def _run_batch(batch: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Decide a batch of cases (consecutive in case order) in this worker.

    The batch's findings, evidence and summaries come back as one block of JSON lines
    each, in case order: a million events make a hundred thousand cases, and one small
    object per batch is much cheaper to send and to keep than one per case.
    """
    assert _WORKER is not None
    findings, evidence, summaries, tally, drafts, errors = [], [], [], [], [], []
    for case, packed in batch:
        events = orjson.loads("[" + ",".join(packed) + "]")    # CompactEvents, as lists
        try:
            r = _WORKER.evaluate(case, events)
        except Exception as exc:  # an action or a fact that failed: this case, not the scan
            errors.append({"case": case, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        findings.append(r["findings"])
        evidence.append(r["evidence"])
        summaries.append(r["summary"])
        tally += r["tally"]
        drafts += r["drafts"]
    return {"first": batch[0][0], "findings": b"".join(findings), "evidence": b"".join(evidence),
            "summaries": b"".join(summaries), "tally": tally, "drafts": drafts, "errors": errors}


# --- the driver ---------------------------------------------------------------------------

@dataclass
class EngineResult:
    """What the workers decided, in case order: JSON-line blocks of findings, evidence and
    case summaries (one block per batch), the (rule, status) of every finding, and the
    cases that could not be decided."""
    findings: list[bytes]
    evidence: list[bytes]
    summaries: list[bytes]
    tally: list[tuple[str, str]]
    errors: list[dict[str, str]]       # cases that could not be decided, with the reason
    retried_batches: int = 0


def _init_args(rules: list[Rule], as_of: dt.date, warn_days: int, drafts: Any) -> tuple:
    """What each worker process is started with (see _Worker)."""
    definition, plans = compile_rules(rules)
    meta = {r.id: {"message": r.message, "message_open": r.message_open or r.message,
                   "params": r.params} for r in rules}
    return (json.dumps(definition), plans, as_of, meta, warn_days, drafts)


@dataclass
class StartedWorkers:
    """Worker processes forked ahead of the cases (`start_workers`)."""
    pool: ProcessPoolExecutor
    init_args: tuple

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def start_workers(rules: list[Rule], as_of: dt.date, workers: int = 2, warn_days: int = 5,
                  drafts: Any = None) -> StartedWorkers:
    """Fork the worker processes now, before the log is read.

    A forked process maps all the memory its parent has at the fork. Forked after reading,
    each worker's resident memory included the main process's whole read log (hundreds of
    MB at a million events); forked first, a worker holds only what it uses.
    """
    init_args = _init_args(rules, as_of, warn_days, drafts)
    pool = _pool(max(1, workers), init_args)
    pool.submit(int).result()   # the first task forks every worker of a fork-context pool
    return StartedWorkers(pool, init_args)


def run_cases(cases: Iterable[tuple[str, list[str]]], rules: list[Rule], as_of: dt.date,
              workers: int = 2, progress: Any = None, warn_days: int = 5,
              drafts: Any = None, started: StartedWorkers | None = None) -> EngineResult:
    """Decide every case in worker processes; never lose one to a crash.

    With `started` (from `start_workers` with the same arguments) the first round of
    batches runs in those workers; otherwise they are forked here.
    """
    init_args = started.init_args if started is not None else _init_args(rules, as_of, warn_days, drafts)
    first_pool = started.pool if started is not None else None    # None: _run_pool forks
    batches = list(_chunks(cases, BATCH_CASES))
    decided: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    suspects: list[list] = []     # single cases whose worker died: re-run alone
    retried = 0

    def collect(result: dict[str, Any], batch: list) -> None:
        errors.extend(result.pop("errors"))
        rendered = result.pop("drafts")
        if drafts is not None:
            drafts.write(rendered)     # here, in one process: see DraftWriter
        decided.append(result)
        if progress is not None:
            progress(sum(len(p) for _, p in batch))

    # Batches in parallel (the first round in the started workers, if any); a batch whose
    # worker died is split in halves and run again in fresh workers.
    failed = _run_pool(batches, workers, init_args, collect, first_pool) if batches or first_pool else []
    while failed:
        batches = []
        for batch in failed:
            retried += 1
            if len(batch) > 1:
                mid = len(batch) // 2
                batches += [batch[:mid], batch[mid:]]
            else:
                suspects.append(batch)
        failed = _run_pool(batches, workers, init_args, collect) if batches else []
    # One case at a time in one worker: a crash now points at exactly that case.
    for batch in suspects:
        for _ in range(2):
            if not _run_pool([batch], 1, init_args, collect):
                break
            retried += 1
        else:
            errors.append({"case": batch[0][0],
                           "reason": "regelmotorn kraschade på ärendet även när det kördes ensamt"})
            if progress is not None:
                progress(len(batch[0][1]))
    # Batches are runs of consecutive cases: in the order of their first case, their
    # blocks are in case order.
    decided.sort(key=lambda r: r["first"])
    return EngineResult([r["findings"] for r in decided if r["findings"]],
                        [r["evidence"] for r in decided if r["evidence"]],
                        [r["summaries"] for r in decided if r["summaries"]],
                        [t for r in decided for t in r["tally"]],
                        sorted(errors, key=lambda e: e["case"]), retried)


def _pool(workers: int, init_args: tuple) -> ProcessPoolExecutor:
    import multiprocessing as mp
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                               initializer=_init_worker, initargs=init_args)


def _run_pool(batches: list[list], workers: int, init_args: tuple,
              collect: Any, pool: ProcessPoolExecutor | None = None) -> list[list]:
    """Run batches in `pool`, else in a fresh pool of worker processes; return the
    batches whose worker died."""
    failed = []
    if pool is None:
        import gc
        # Forked workers share the parent's memory until they write to it; a collection in
        # a worker would touch every inherited object. Frozen objects are never collected.
        gc.freeze()
        pool = _pool(max(1, min(workers, len(batches))), init_args)
    with pool:
        futures = {pool.submit(_run_batch, b): b for b in batches}
        try:
            for fut in as_completed(futures):
                try:
                    results = fut.result()
                except (BrokenProcessPool, OSError, EOFError):
                    failed.append(futures[fut])
                    continue
                collect(results, futures[fut])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)   # the scan stops: no more batches
            raise
    return failed


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
