"""A durable-rules session deciding cases, stage by stage.

This and `compliance.durable` are the only modules that touch durable-rules. A worker
process creates one ruleset from a compiled program (`compliance.compiler`) and reuses it
for every batch of cases, each case in a durable-rules session of its own (`sid`):

1. the cases' event facts are asserted, each case's followed by the trigger facts of the
   stage-1 rules (a trigger is asserted after every fact its rule reads: durable-rules
   fires a `none()` as soon as it can, and never takes an action back), but not of a rule
   that joins a fact type the case holds none of (it cannot match: durable-rules would
   look and find nothing);
2. the matches are drained; a derive's match becomes a derived fact, whose fields Python
   computes from the match (sums of day ordinals, and the roll to a business day that only
   the calendar knows); a when's match is handed back;
3. the derived facts (numbered, for the types that have a `rank`) are asserted with the
   next stage's triggers, and so on;
4. every fact is retracted, and the sessions are ready for the next batch.

Nothing is dropped silently. Facts are identified by ids from a fixed pool checked free of
32-bit FNV-1a collisions, also with the ids of durable-rules' own session facts
(durable-rules compares ids only by that hash, upstream issue #376: a colliding fact is
skipped as "already observed", and `assert_facts` reports it only when no later fact of
the call went unmatched). Every result code of durable-rules is checked, and a session is
checked empty after its case. The engine's actions are drained here, not run as callbacks
(whose exceptions durable-rules swallows, upstream #305): an exception while computing a
derived fact fails its case with the reason, and no other.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from . import calendar as vardagar
from .compiler import Plan, Program
from .patterns import Basis, basis, evaluate

MAX_FACTS = 60_000      # facts (with triggers) of one case at most; more is an oversized case
MAX_SESSIONS = 1024     # cases in one batch at most (durable-rules: MAX_STATE_INDEX_LENGTH)


class CaseTooLarge(Exception):
    """A case has more facts than the id pool holds (a guard against one case stalling a
    night); the message is Swedish, for errors.jsonl."""


class SessionError(Exception):
    """durable-rules refused a fact (e.g. "already observed"); never silently ignored."""


def fnv1a_32(text: str) -> int:
    """The hash durable-rules 2.0.28 identifies a fact by (state.c, storeMessage)."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def state_fact_id(sid: str) -> str:
    """The id of the fact durable-rules keeps for each session's state (events.c,
    handleMessageCore: `sid-<sid>`); it shares the session's id space with ours."""
    return f"sid-{sid}"


@lru_cache(maxsize=None)
def fact_ids(n: int = MAX_FACTS) -> tuple[str, ...]:
    """`n` fact ids whose hashes are pairwise different, and different from those of the
    sessions' own state facts (colliding candidates skipped)."""
    ids, k = [], 0
    seen = {fnv1a_32(state_fact_id(str(sid))) for sid in range(MAX_SESSIONS)}
    while len(ids) < n:
        candidate = f"f{k}"
        k += 1
        h = fnv1a_32(candidate)
        if h not in seen:
            seen.add(h)
            ids.append(candidate)
    return tuple(ids)


@lru_cache(maxsize=262_144)
def calendar_fn(fn: str, day: int, arg: Any) -> int:
    """The calendar functions rule files may name (compliance/patterns.py), on day ordinals.

    A date the business-day calendar does not know (before 1953, after 2100: a send-by date
    for a meeting early in January 1953, a deadline early in 2101) is counted on weekdays
    alone (vardagskalendern.weekday_*): such a date only arises from arithmetic on valid
    events near the calendar's ends, and no as-of date the scan accepts can reach past it.
    """
    d = dt.date.fromordinal(day)
    if fn == "add_years":
        try:
            return d.replace(year=d.year + int(arg)).toordinal()
        except ValueError:       # 29 February in a year that has none: 1 March
            return dt.date(d.year + int(arg), 3, 1).toordinal()
    try:
        if fn == "roll":
            return (vardagar.roll_forward(d) if arg == "forward" else vardagar.roll_back(d)).toordinal()
        if fn == "add_business_days":
            return vardagar.add_business_days(d, int(arg)).toordinal()
    except ValueError:
        if fn == "roll":
            return vardagar.weekday_roll(d, arg == "forward").toordinal()
        return vardagar.weekday_add(d, int(arg)).toordinal()
    raise ValueError(f"okänd kalenderfunktion {fn!r}")


class OutsideCalendar(Exception):
    """A date the rules need rolled lies outside the calendar's years."""

    def __init__(self, day: dt.date):
        super().__init__(f"datumet {day.isoformat()} ligger utanför kalendern för vardagar "
                         f"(åren {vardagar.MIN_YEAR}–{vardagar.MAX_YEAR})")


# Always true, and last in every join test of a rule (see `guarded`): a fact's type is
# never the trigger's.
NOT_A_TRIGGER = {"$neq": {"t": {"trig": "t"}}}


KEEP = "zz_keep"      # the trigger name of the keeping rules (never asserted)


def ruleset(program: Program) -> dict[str, Any]:
    """The durable-rules definition the session creates: the program's rules, guarded
    (`guarded`), and one rule per fact type the session asserts that keeps every fact of
    it that no rule takes whatever its fields (`keeping`), with every type test on a
    marker (`by_marker`)."""
    rules = guarded(program.definition)
    return by_marker({**rules, **keeping(sorted(program.read_types - taken_always(rules)))})


def taken_always(definition: dict[str, Any]) -> set[str]:
    """The fact types some condition of `definition` takes whatever the fact's fields:
    besides the type, it tests only comparisons with other facts (`h.meeting`,
    `trig.asof`), which durable-rules makes after it has stored the fact (events.c,
    handleAlpha: a test against another fact lets every fact pass to the join, and a fact
    that reaches a join is stored). A test against a constant (`given == 1`,
    `kind == 'sip'`) may turn a fact away."""
    taken = set()
    for rule in definition.values():
        for condition in rule.get("all", []):
            for alias, test in condition.items():
                tests = test["$and"] if isinstance(test, dict) and "$and" in test else [test]
                types = [t["t"] for t in tests if set(t) == {"t"} and isinstance(t["t"], str)]
                if alias != "trig" and len(types) == 1 and all(
                        _compares_facts([t]) for t in tests if t != {"t": types[0]}):
                    taken.add(types[0])
    return taken


TRIGGER_MARK = "@trig"


def marker(ftype: str) -> str:
    """The name of the property that marks a fact's type for durable-rules (`by_marker`):
    `@meeting.held`."""
    return f"@{ftype}"


def trigger_marker(rule: str) -> str:
    """The marker of a rule's trigger (which has `@trig` too): `@trig:r7`."""
    return f"{TRIGGER_MARK}:{rule}"


def by_marker(definition: dict[str, Any]) -> dict[str, Any]:
    """The ruleset with each test of a fact's type (`t == "meeting.held"`) made a test of
    its marker (`@meeting.held == 1`), and a trigger's (`t == "trig"`, `r == "r7"`) a test
    of `@trig` and then of its rule's marker (`@trig:r7 == 1`): properties every asserted
    fact carries (`Session.run`).

    Same matches, less work. durable-rules files the first test of each condition under
    its property's name, and the tests after it under that test, and tries each test
    filed under a name the fact has: with every condition starting at `t`, each fact was
    tried against every type of the ruleset and each trigger against every rule's `r`,
    some 46 tests a fact, half the time of an assert. Under a name of its own a type is
    one test. The triggers' markers are filed under `@trig`, not beside the types: the
    names at one level share 32 hash slots, and each of a fact's properties walks past
    all of them (callgrind: a fifth of assert_facts with the 35 triggers among the types).
    """
    def test_of(test: Any) -> Any:
        if not isinstance(test, dict):
            return test
        if "$and" in test:
            tests = test["$and"]
            if tests[:1] == [{"t": "trig"}] and len(tests) == 2 and set(tests[1]) == {"r"}:
                return {"$and": [{TRIGGER_MARK: 1}, {trigger_marker(tests[1]["r"]): 1}]}
            return {"$and": [test_of(t) for t in tests]}
        if set(test) == {"t"} and isinstance(test["t"], str):
            return {marker(test["t"]): 1}
        return test

    return {name: dict(rule, all=[{alias: test_of(test) for alias, test in cond.items()}
                                  for cond in rule.get("all", [])])
            for name, rule in definition.items()}


def trigger_fields_read(rule: dict[str, Any], plan: Plan) -> set[str]:
    """The fields of its trigger (`asof`, `horizon`) a rule reads, in its conditions or in
    what its match yields."""
    read = {fld for expr in plan.exprs.values() for alias, fld in expr.refs() if alias == "trig"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "trig" and isinstance(value, str):
                    read.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(rule)
    return read


def keeping(types: list[str]) -> dict[str, Any]:
    """Rules that never fire (their trigger is never asserted) but make durable-rules
    store every fact of `types` (the types no rule takes whatever their fields: each
    keeping rule costs a stored frame per fact).

    durable-rules stores a fact only when it reaches some rule's join; one that does not
    makes `assert_facts` answer 1 ("matched no rule"), and a batch's answer is that of its
    last such fact: a fact refused as "already observed" (2) before it would go unseen.
    With every fact stored, the answer is 0, or 2 when a fact was refused. The test on
    `id` is an equality, so that durable-rules files the facts under their own hashes, not
    all in one list that every new fact would walk through.
    """
    rules = {}
    for k, ftype in enumerate(types):
        rules[f"{KEEP}_{k}"] = {"all": [
            {"trig": {"$and": [{"t": "trig"}, {"r": KEEP}]}},
            {"x": {"$and": [{"t": ftype}, {"id": {"trig": "id"}}, NOT_A_TRIGGER]}}]}
    return rules


def guarded(definition: dict[str, Any]) -> dict[str, Any]:
    """The ruleset with a test that is always true (`t != trig.t`) appended to every
    condition that compares a fact with an earlier one.

    durable-rules 2.0.28 evaluates such a condition (`$and` of tests) in
    `reduceExpressionSequence` (events.c): when a test is false it skips ahead to the
    sequence's end marker, but it starts by stepping over the test right after the false
    one. When the false test is the *last* one, it steps over the end marker itself and
    reads on past the condition's tests into whatever memory follows, until it meets a
    byte that looks like an end marker or an unmapped page: the segfaults, `MemoryError`s
    and `free(): invalid pointer` of docs/durable-rules-notes.md (crash 3), which came and
    went with memory layout (a worker forked after a scan in the same process crashed on
    its second batch). With an always-true test last, a false test is never the last one,
    and the step it skips is that test. The test is an inequality, so that it stays out
    of the hash durable-rules files a join's frames under (an equality on `sid` instead
    lost matches).
    """
    out: dict[str, Any] = {}
    for name, rule in definition.items():
        conditions = []
        for cond in rule.get("all", []):
            (alias, test), = cond.items()
            if isinstance(test, dict) and "$and" in test and _compares_facts(test["$and"]):
                test = {"$and": [*test["$and"], NOT_A_TRIGGER]}
            conditions.append({alias: test})
        out[name] = dict(rule, all=conditions)
    return out


def _compares_facts(tests: list[dict[str, Any]]) -> bool:
    """Whether a test reads a field of an earlier fact: `{"day": {"hm": "day"}}`,
    `{"$gt": {"day": {"$sub": {"$l": {"hm": "day"}, "$r": 21}}}}`."""
    def refers(operand: Any) -> bool:
        if not isinstance(operand, dict):
            return False
        return any(refers(v) if k.startswith("$") else isinstance(v, str) for k, v in operand.items())

    def test_refers(test: dict[str, Any]) -> bool:
        (key, value), = test.items()
        if key.startswith("$"):                  # {"$gt": {field: operand}}
            return any(refers(v) for v in value.values())
        return refers(value)                     # {field: operand}
    return any(test_refers(t) for t in tests)


class Bases:
    """How each derived date was computed (`patterns.Basis`), by (fact id, field), worked
    out when a finding asks (`decide`): most derived facts back no finding, and working
    out every one as it was made cost a tenth of deciding."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[Plan, dict[str, dict[str, Any]]]] = {}   # fact id -> its derive's match
        self.known: dict[tuple[str, str], Basis | None] = {}

    def get(self, key: tuple[str, str]) -> Basis | None:
        if key in self.known:
            return self.known[key]
        made = self.made.get(key[0])
        found = None
        if made is not None and key[1] in made[0].exprs:
            plan, match = made
            found = basis(plan.exprs[key[1]], match, plan.params,
                          lambda alias, fld: self.get((match[alias].get("id"), fld)))
        self.known[key] = found
        return found


@dataclass
class CaseRun:
    """One case in a session: its facts by id (as asserted: with `id`, `sid` and the type's
    marker, `by_marker`), where each came from, and what matched; `error`: why the case
    could not be decided (its matches are then incomplete)."""
    sid: str
    error: Exception | None = None
    next_id: int = 0
    asserted: list[str] = field(default_factory=list)                    # ids, in the order asserted
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)   # fact id -> event ids
    bases: Bases = field(default_factory=Bases)                         # (fact id, field) -> Basis
    derived: dict[tuple, str] = field(default_factory=dict)              # content -> fact id
    pending: list[str] = field(default_factory=list)                     # derived, not asserted yet
    present: set[str] = field(default_factory=set)                       # fact types asserted
    matches: list[tuple[Plan, dict[str, dict[str, Any]]]] = field(default_factory=list)
    exports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Session:
    """One ruleset in this process; `run` decides a batch of cases in it."""

    def __init__(self, program: Program, as_of: dt.date, warn_days: int):
        from .durable import load_engine
        self.engine = load_engine()
        # A ruleset's name must be its own in the process (the replay holds two).
        self.handle = self.engine.create_ruleset(f"compliance-{program.digest()[:12]}",
                                                 json.dumps(ruleset(program)))
        self.program = program
        horizon = vardagar.add_business_days(as_of, warn_days).toordinal()
        # Each rule's trigger, but its id and session: its markers (`by_marker`), and the
        # as-of date and the horizon where the rule reads them (every field is parsed
        # again in each match durable-rules hands back).
        dates = {"asof": as_of.toordinal(), "horizon": horizon}
        definition = ruleset(program)
        self.triggers = {name: {"t": "trig", TRIGGER_MARK: 1, trigger_marker(name): 1,
                                **{k: v for k, v in dates.items() if k in trigger_fields_read(definition[name],
                                                                                               program.plans[name])}}
                         for name in program.joins}
        self.ids = fact_ids()
        self.marks: dict[str, str] = {}                 # fact type -> its marker
        self.sids: dict[str, str] = {}                  # a session's state (JSON) -> its id
        self._plan_fields: dict[str, list[tuple[str, tuple[str, str] | None, Any]]] = {}

    def _mark(self, ftype: str) -> str:
        self.marks[ftype] = marker(ftype)
        return self.marks[ftype]

    def run(self, cases: list[list[tuple[dict[str, Any], str | None]]]) -> list[CaseRun]:
        """Decide cases given as their event facts (fact, source event id); each case in a
        session of its own. Returns per case its facts and matches, or its `error`."""
        if len(cases) > MAX_SESSIONS:
            raise ValueError(f"högst {MAX_SESSIONS} ärenden åt gången")
        runs = [CaseRun(str(i)) for i in range(len(cases))]
        read, joins = self.program.read_types, self.program.joins
        try:
            for run, events in zip(runs, cases):
                try:
                    ids = self._new_ids(run, len(events))
                except CaseTooLarge as exc:
                    run.error = exc
                    continue
                for fid, (fact, source) in zip(ids, events):     # the caller's fresh dicts
                    fact["id"], fact["sid"] = fid, run.sid
                    fact[self.marks.get(fact["t"]) or self._mark(fact["t"])] = 1
                    run.facts[fid] = fact
                    run.evidence[fid] = (source,) if source is not None else ()
                run.pending.extend(ids)
            for stage in range(1, self.program.stages + 1):
                payload: list[dict[str, Any]] = []
                for run in runs:
                    if run.error is not None:
                        continue
                    facts = [f for f in self._numbered([run.facts[fid] for fid in run.pending]) if f["t"] in read]
                    run.pending = []
                    run.present.update(f["t"] for f in facts)
                    # A rule joining a fact type the session holds none of cannot match:
                    # its trigger is left out (durable-rules would find nothing).
                    try:
                        names = [name for name in self.program.triggers[stage - 1] if joins[name] <= run.present]
                        triggers = [{**self.triggers[name], "id": fid, "sid": run.sid}
                                    for name, fid in zip(names, self._new_ids(run, len(names)))]
                    except CaseTooLarge as exc:
                        run.error = exc
                        continue
                    # Every trigger after every fact it reads.
                    mine = facts + triggers
                    run.asserted.extend(f["id"] for f in mine)
                    payload.extend(mine)
                self._assert(payload)
                self._drain(runs)
        finally:
            self._retract(runs)
        return runs

    def _new_id(self, run: CaseRun) -> str:
        return self._new_ids(run, 1)[0]

    def _new_ids(self, run: CaseRun, n: int) -> tuple[str, ...]:
        if run.next_id + n > len(self.ids):
            raise CaseTooLarge(f"ärendet har för många händelser för regelmotorn (över {len(self.ids)} fakta)")
        ids = self.ids[run.next_id:run.next_id + n]
        run.next_id += n
        return ids

    def _numbered(self, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A case's new facts with the numbers (and the neighbours' fields) of their types'
        ranks (rules.Rank); each ranked type's facts in the order of its first rank, so
        that durable-rules keeps them in that order too."""
        ranks = self.program.ranks
        groups: dict[str, list[dict[str, Any]]] = {}
        for f in facts:
            if f["t"] in ranks:
                groups.setdefault(f["t"], []).append(f)
        if not groups:
            return facts
        for ftype, group in groups.items():
            # ties in `order` broken by the facts' other fields, whatever their types
            content = {id(f): orjson.dumps({k: v for k, v in f.items() if k not in ("id", "sid")},
                                           option=orjson.OPT_SORT_KEYS) for f in group}
            for rank in reversed(ranks[ftype]):
                part = {id(f): orjson.dumps([f[w] for w in rank.within]) for f in group}
                group.sort(key=lambda f: (part[id(f)], f[rank.order], content[id(f)]))
                where = rank.where.items()
                for k, f in enumerate(group):
                    prev = group[k - 1] if k and part[id(group[k - 1])] == part[id(f)] else None
                    nxt = group[k + 1] if k + 1 < len(group) and part[id(group[k + 1])] == part[id(f)] else None
                    counted = all(f[name] == value for name, value in where)
                    f[rank.field] = (prev[rank.field] if prev is not None else 0) + counted
                    for new, old in rank.before.items():
                        f[new] = prev[old] if prev is not None else rank.missing
                    for new, old in rank.after.items():
                        f[new] = nxt[old] if nxt is not None else rank.missing
        return [f for f in facts if f["t"] not in groups] + [f for g in groups.values() for f in g]

    def _assert(self, facts: list[dict[str, Any]]) -> None:
        """Assert facts; every one is stored (`keeping`), so anything but 0 is an error:
        2 "already observed" (an id's hash taken), 1 a fact no rule keeps, 3 "deferred".
        (Every other code raises in durable-rules' binding.)"""
        if not facts:
            return
        code = self.engine.assert_facts(self.handle, orjson.dumps(facts).decode())[0]
        if code != 0:
            what = {1: "ett faktum som ingen regel tog emot", 2: "ett faktum som redan fanns (krock i fakta-id)",
                    3: "ett faktum som sköts upp"}
            raise SessionError(f"regelmotorn vägrade {what.get(code, f'ett faktum (kod {code})')}")

    def _drain(self, runs: list[CaseRun]) -> None:
        """Take every queued match: derives make facts, whens are kept. An exception while
        making a case's fact fails that case (its `error`), never the others, and never
        leaves a match untaken."""
        engine, handle, plans = self.engine, self.handle, self.program.plans
        by_sid = {r.sid: r for r in runs}
        while True:
            started = engine.start_action(handle)
            if not started:
                return
            state, message, state_handle = started[0], started[1], started[2]
            sid = self.sids.get(state)
            if sid is None:     # a session's state is the same text each time (bounded, but kept so)
                sid = orjson.loads(state)["sid"]
                if len(self.sids) < 2 * MAX_SESSIONS:
                    self.sids[state] = sid
            run = by_sid[sid]
            while message:
                if run.error is None:
                    for name, match in orjson.loads(message).items():
                        plan = plans[name]
                        if plan.kind != "derive":
                            run.matches.append((plan, match))
                            continue
                        try:
                            self._derive(run, plan, match)
                        except (CaseTooLarge, OutsideCalendar) as exc:
                            run.error = exc
                        except Exception as exc:
                            where = f"regeln {plan.rule_id}" if plan.rule_id else "de gemensamma definitionerna"
                            run.error = SessionError(
                                f"faktumet {plan.fact_type.rpartition('/')[2]} i {where} kunde inte räknas "
                                f"ut: {type(exc).__name__}: {exc}")
                        if run.error is not None:
                            break
                message = engine.complete_and_start_action(handle, state_handle)

    def _derive(self, run: CaseRun, plan: Plan, match: dict[str, dict[str, Any]]) -> None:
        fact: dict[str, Any] = {"t": plan.fact_type}
        for key, ref, expr in self._fields(plan):
            fact[key] = match[ref[0]].get(ref[1]) if ref else evaluate(expr, match, plan.params, calendar_fn)
        key = tuple(sorted(fact.items()))   # before `id` and `sid` are set
        sources = {e for f in match.values() for e in run.evidence.get(f.get("id"), ())}
        existing = run.derived.get(key)
        if existing is not None:      # the same fact by another route: one fact, both grounds
            run.evidence[existing] = tuple(sorted(set(run.evidence[existing]) | sources))
            return
        temp = self._new_id(run)
        fact["id"], fact["sid"] = temp, run.sid
        fact[self.marks.get(plan.fact_type) or self._mark(plan.fact_type)] = 1
        run.facts[temp] = fact
        run.evidence[temp] = tuple(sorted(sources))
        run.derived[key] = temp
        run.pending.append(temp)
        run.bases.made[temp] = (plan, match)
        if plan.export:
            run.exports.setdefault(plan.export, []).append(fact)

    def _fields(self, plan: Plan) -> list[tuple[str, tuple[str, str] | None, Any]]:
        """A derive's fields: (name, (alias, field) when it is a plain copy of a matched
        fact's field, its expression), worked out once per plan."""
        fields = self._plan_fields.get(plan.name)
        if fields is None:
            fields = self._plan_fields[plan.name] = [
                (key, (expr.terms[0][1][1], expr.terms[0][1][2])
                 if expr.fn is None and len(expr.terms) == 1 and expr.terms[0][0] > 0
                 and expr.terms[0][1][0] == "ref" else None, expr)
                for key, expr in plan.exprs.items()]
        return fields

    def _retract(self, runs: list[CaseRun]) -> None:
        """Every asserted fact retracted (each case's in the reverse order of arrival: the
        last stage's triggers first), and each session checked empty: a fact left behind
        would collide with the next case's fact of the same id. (A case that asserted
        nothing, e.g. only events no rule reads, has no session to check.)

        A fact is retracted by its id and session alone: durable-rules finds it by its id
        and drops the frames it filed it in (events.c, handleMessageCore), and reading
        its other fields again was a third of the call."""
        facts = [{"id": fid, "sid": run.sid} for run in runs for fid in reversed(run.asserted)]
        if facts:
            code = self.engine.retract_facts(self.handle, orjson.dumps(facts).decode())[0]
            if code != 0:
                raise SessionError(f"regelmotorn kunde inte ta bort ärendets fakta (kod {code})")
        for run in runs:
            if not run.asserted:
                continue
            run.asserted = []
            left = self.engine.get_facts(self.handle, run.sid)
            if left not in ("[]", ""):
                raise SessionError("regelmotorn behöll fakta från ett ärende efter att de tagits bort")
