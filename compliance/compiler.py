"""Rule files compiled onto durable-rules: one ruleset for a profile, in stages.

Every `[[define]]`, `[[derive]]` and `[[when]]` becomes one or more durable-rules rules: a
join of facts whose conditions compare day ordinals, with `none()` for negation. What the
measured defects of durable-rules 2.0.28 ask (docs/durable-rules-notes.md):
- never `|` (or) inside a join: a named pattern's alternatives and each value of an
  `each` list become rules of their own;
- every rule starts with its own trigger fact, asserted *after* every fact the rule reads,
  so that a `none()` never fires before its blocking fact has arrived;
- derived facts are asserted in a later call than the one whose matches made them (an
  action's new facts do not withdraw a queued `none()` match). Hence *stages*: a rule
  reading only event facts is in stage 1; a rule reading a fact derived in stage k is in
  stage k + 1 or later. `compliance.session` asserts stage by stage.

A rule version judges only obligations that fell due while it, and the profile, were in
force: the window is a condition on the fact that holds the due date, so durable-rules
decides that too. Python only evaluates what a match yields (`compliance.patterns`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .facts import fact_types
from .patterns import Condition, Expr, parse_condition, parse_expr
from .rules import Derive, FactPattern, Rank, Rule, RuleError, RuleSet, Version, When

_DURABLE_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "!=": "$neq"}
TRIGGER_FIELDS = frozenset({"asof", "horizon"})


@dataclass(frozen=True)
class Plan:
    """How a match of one compiled durable-rules rule is turned into a derived fact or a
    finding."""
    name: str                      # the durable-rules rule's name
    kind: str                      # "derive" | "when"
    stage: int
    params: dict[str, Any]
    exprs: dict[str, Expr]         # `set` of a derive, `emit` of a when
    fact_type: str = ""            # derive: the type of the derived fact
    rule_id: str = ""              # when: the rule
    when: str = ""                 # when: its name (the replay tells which pattern matched)
    status: str = ""
    versions: tuple[tuple[int, int, str], ...] = ()   # when: (from, to, valid_from) of the
    #   versions it stands for (consecutive versions with equal parameters compile once;
    #   the one in force on the due date gives the wording)
    title: str = ""
    export: str = ""               # derive: name under which the case summary lists it
    out_of_force: bool = False     # when (replay only): due when the rule was not in force


@dataclass
class Program:
    """A compiled ruleset: the durable-rules definition and how to read its matches."""
    definition: dict[str, Any]
    plans: dict[str, Plan]
    stages: int
    type_stage: dict[str, int]               # derived fact type -> the stage that makes it
    needs: dict[str, frozenset[str]]         # base fact type -> the fields the rules use
    triggers: list[list[str]]                # per stage (index 0 = stage 1): its rules
    read_types: frozenset[str] = frozenset()  # fact types some rule reads (only these are asserted)
    versions: dict[str, dict[str, Version]] = field(default_factory=dict)  # rule -> valid_from -> version
    ranks: dict[str, tuple[Rank, ...]] = field(default_factory=dict)   # derived type -> its numberings
    # rule -> the fact types it joins (not those under `none`): without a fact of each in
    # the session, the rule cannot match, and its trigger is not asserted (compliance.session)
    joins: dict[str, frozenset[str]] = field(default_factory=dict)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.definition, sort_keys=True).encode()).hexdigest()


class _Ctx:
    """What a pattern may name while it is compiled: fact types, derived fact types."""

    def __init__(self, derived_fields: dict[str, set[str]], local: dict[str, str], where: str):
        self.derived_fields = derived_fields
        self.local = local            # a rule's own derived facts: name -> namespaced type
        self.where = where            # for error messages: file and block

    def resolve(self, fact: str) -> str:
        if fact in self.local:
            return self.local[fact]
        if fact in self.derived_fields or fact in fact_types():
            return fact
        known = sorted(set(fact_types()) | set(self.derived_fields) | set(self.local))
        raise RuleError(f"{self.where}: okänd faktatyp {fact!r} (kända: {', '.join(known)})")

    def has_field(self, ftype: str, name: str) -> bool:
        if ftype in self.derived_fields:
            return name in self.derived_fields[ftype]
        return fact_types()[ftype].has(name)


# --- named patterns ----------------------------------------------------------------------------

def _expand(facts: list[FactPattern], ruleset: RuleSet, where: str) -> list[list[FactPattern]]:
    """A pattern with `use`s of named patterns -> its alternatives (a product over uses)."""
    choices: list[list[list[FactPattern]]] = []
    for n, pat in enumerate(facts):
        if pat.use is None:
            choices.append([[pat]])
            continue
        named = ruleset.definitions.patterns.get(pat.use)
        if named is None:
            raise RuleError(f"{where}: okänt namngivet mönster {pat.use!r} "
                            f"(kända: {', '.join(sorted(ruleset.definitions.patterns))})")
        missing = set(named.args) - set(pat.args)
        extra = set(pat.args) - set(named.args)
        if missing or extra:
            raise RuleError(f"{where}: {pat.use!r} tar argumenten {', '.join(named.args) or '(inga)'}"
                            f"{'; saknas: ' + ', '.join(sorted(missing)) if missing else ''}"
                            f"{'; okända: ' + ', '.join(sorted(extra)) if extra else ''}")
        alts = []
        for alt in named.alternatives:
            inner = [p.alias for p in alt if p.alias]
            rename = {a: f"u{n}{a}" for a in inner}
            if pat.alias:       # `as` names the pattern's first fact for the rest of the rule
                if not inner:
                    raise RuleError(f"{where}: {pat.use!r} har ett alternativ utan faktum att kalla {pat.alias!r}")
                rename[inner[0]] = pat.alias

            def fix(text: str) -> str:
                for arg, value in pat.args.items():
                    text = text.replace("{" + arg + "}", value)
                for old, new in rename.items():
                    text = re.sub(rf"(?<![\w.]){re.escape(old)}\.", f"{new}.", text)
                return text
            for p in alt:
                if p.use is not None:
                    raise RuleError(f"{where}: {pat.use!r} använder ett annat mönster; det går inte")
            alts.append([FactPattern.model_validate(
                {"as": rename.get(p.alias) if p.alias else None, "fact": p.fact, "none": p.none,
                 "where": [fix(w) for w in p.where]}) for p in alt])
        choices.append(alts)
    return [[p for part in combo for p in part] for combo in itertools.product(*choices)]


# --- conditions -----------------------------------------------------------------------------------

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
            raise ValueError(f"en lista kan bara jämföras med != ({cond.field})")
        return [{"$neq": {cond.field: v}} for v in rhs]
    if cond.op == "==":
        return [{cond.field: rhs}]
    return [{_DURABLE_OPS[cond.op]: {cond.field: rhs}}]


def _window(due: Expr, params: dict[str, Any], lo: int | None, hi: int | None,
            where: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The conditions that keep a match's due date inside [lo, hi], on the fact that holds
    it: due = alias.field + c  ->  field >= lo - c, field <= hi - c."""
    if lo is None and hi is None:
        return None
    refs = [(sign, t) for sign, t in due.terms if t[0] == "ref"]
    if len(refs) != 1 or refs[0][0] < 0 or due.fn is not None:
        raise RuleError(f"{where}: emit.due ska vara ett datumfält plus eller minus konstanter")
    (_, (_, alias, fld)), = refs
    c = sum(sign * (params[t[1]] if t[0] == "param" else t[1]) for sign, t in due.terms if t[0] != "ref")
    tests = []
    if lo is not None:
        tests.append({"$gte": {fld: lo - c}})
    if hi is not None:
        tests.append({"$lte": {fld: hi - c}})
    return alias, tests


# --- checking names ---------------------------------------------------------------------------------

def _check_alt(alt: list[FactPattern], ctx: _Ctx, params: dict[str, Any],
               outputs: dict[str, str]) -> dict[str, str]:
    """Check every fact, field, alias and parameter of one alternative; return alias -> type."""
    aliases: dict[str, str] = {"trig": "trig"}

    def check_expr(expr: Expr, what: str) -> None:
        for _, term in expr.terms:
            if term[0] == "param" and term[1] not in params:
                raise RuleError(f"{ctx.where}: {what}: okänd parameter ${term[1]}")
            if term[0] == "ref":
                ftype = aliases.get(term[1])
                if ftype is None:
                    raise RuleError(f"{ctx.where}: {what}: okänt alias {term[1]!r}")
                ok = term[2] in TRIGGER_FIELDS if ftype == "trig" else ctx.has_field(ftype, term[2])
                if not ok:
                    raise RuleError(f"{ctx.where}: {what}: {term[1]} ({ftype}) har inget fält {term[2]!r}")
        for name in expr.params():
            if name not in params:
                raise RuleError(f"{ctx.where}: {what}: okänd parameter ${name}")

    for pat in alt:
        ftype = ctx.resolve(pat.fact or "")
        for text in pat.where:
            cond = parse_condition(text)
            if not ctx.has_field(ftype, cond.field):
                raise RuleError(f"{ctx.where}: {pat.fact} har inget fält {cond.field!r} ({text!r})")
            check_expr(cond.expr, repr(text))
        if pat.alias:
            if pat.alias in aliases:
                raise RuleError(f"{ctx.where}: aliaset {pat.alias!r} används två gånger")
            aliases[pat.alias] = ftype
    for key, text in outputs.items():
        check_expr(parse_expr(text), f"{key} = {text!r}")
    return aliases


# --- compiling ----------------------------------------------------------------------------------------

@dataclass
class _Unit:
    """One derive or when of one version, before stages are known."""
    kind: str
    where: str
    alts: list[list[FactPattern]]
    ctx: _Ctx
    params: dict[str, Any]
    exprs: dict[str, str]
    each: dict[str, str] = field(default_factory=dict)
    fact_type: str = ""
    rule: Rule | None = None
    versions: list[Version] = field(default_factory=list)
    when: When | None = None
    window: tuple[int | None, int | None] = (None, None)
    export: str = ""
    out_of_force: bool = False
    stage: int = 0


def compile_program(ruleset: RuleSet, rules: list[Rule] | None = None,
                    params: dict[str, dict[str, Any]] | None = None,
                    window: tuple[Any, Any] = (None, None), with_met: bool = False,
                    prune: bool = True, replay: bool = False) -> Program:
    """Compile `rules` (default: all of the ruleset) with the shared definitions.

    `params`: rule id -> parameters a profile changes; `window`: the profile's validity
    (dates or None); `with_met`: include the `met` patterns (the replay's account of
    obligations that were fulfilled), which a scan does not need; `replay`: `met` patterns
    and, for the dates when no version (or the profile) was in force, the rule's patterns
    marked `out_of_force`, so that the replay can say "regeln gällde inte då".
    """
    rules = ruleset.rules if rules is None else rules
    params = params or {}
    defs = ruleset.definitions
    derived_fields: dict[str, set[str]] = {}
    ranks: dict[str, tuple[Rank, ...]] = {}
    units: list[_Unit] = []

    def add_derived(ftype: str, d: Derive, where: str) -> None:
        keys = set(d.set) | {name for r in d.rank for name in r.new_fields()}
        rank = tuple(d.rank)
        if ftype in derived_fields and (derived_fields[ftype] != keys or ranks[ftype] != rank):
            raise RuleError(f"{where}: alla [[derive]] av {d.fact!r} ska sätta samma fält "
                            f"({', '.join(sorted(derived_fields[ftype]))}) och samma rank")
        derived_fields[ftype] = keys
        ranks[ftype] = rank

    shared = _Ctx(derived_fields, {}, defs.file or "_definitions.toml")
    for d in defs.define:
        add_derived(d.fact, d, f"{shared.where}: define {d.fact}")
    for d in defs.define:
        where = f"{shared.where}: define {d.fact}{' ' + d.name if d.name else ''}"
        units.append(_Unit("derive", where, _expand(d.facts, ruleset, where),
                           _Ctx(derived_fields, {}, where), {}, d.set, fact_type=d.fact,
                           export=d.export))
    lo_p = window[0].toordinal() if window[0] else None
    hi_p = window[1].toordinal() if window[1] else None
    for rule in rules:
        # Each group of versions judges what fell due inside its period and the profile's.
        spans = []
        for group in _version_groups(rule.version):
            lo = max(x for x in (group[0].valid_from.toordinal(), lo_p) if x is not None)
            his = [x for x in ((group[-1].valid_to.toordinal() if group[-1].valid_to else None), hi_p)
                   if x is not None]
            hi = min(his) if his else None
            if hi is None or hi >= lo:        # else never in force together with the profile
                spans.append((group, lo, hi, False))
        if replay:   # the replay also shows what fell due when no version was in force
            spans += _out_of_force(rule, spans, lo_p, hi_p)
        for group, lo, hi, outside in spans:
            first = group[0]
            vparams = dict(first.params, **params.get(rule.id, {}))
            vkey = first.valid_from.isoformat() + ("~" if outside else "")
            local = {d.fact: f"{rule.id}@{vkey}/{d.fact}" for d in rule.derive}
            for d in rule.derive:
                add_derived(local[d.fact], d, f"{rule.file}: derive {d.fact}")
            for d in rule.derive:
                where = f"{rule.file}: version {first.valid_from}: derive {d.fact}"
                units.append(_Unit("derive", where, _expand(d.facts, ruleset, where),
                                   _Ctx(derived_fields, local, where), vparams, d.set,
                                   fact_type=local[d.fact], rule=rule, versions=group,
                                   export="" if outside else d.export))
            for w in rule.when:
                if w.status == "met" and not (with_met or replay):
                    continue
                where = f"{rule.file}: version {first.valid_from}: when {w.name}"
                for key, pname in w.each.items():
                    if not isinstance(vparams.get(pname), list):
                        raise RuleError(f"{where}: each.{key} kräver listparametern {pname!r}")
                units.append(_Unit("when", where, _expand(w.facts, ruleset, where),
                                   _Ctx(derived_fields, local, where), vparams, w.emit, each=w.each,
                                   rule=rule, versions=[] if outside else group, when=w,
                                   window=(lo, hi), out_of_force=outside))
    if prune:
        units = _used(units)
    _assign_stages(units)
    program = _build(units, derived_fields, rules)
    program.ranks = {t: r for t, r in ranks.items() if r and t in program.type_stage}
    return program


def _used(units: list[_Unit]) -> list[_Unit]:
    """The units the selected rules need: every when, and the derives of the fact types
    they read, transitively (a profile that reads no meeting facts does not make them)."""
    makers: dict[str, list[_Unit]] = {}
    for u in units:
        if u.kind == "derive":
            makers.setdefault(u.fact_type, []).append(u)
    keep: list[_Unit] = []
    seen: set[int] = set()
    todo = [u for u in units if u.kind == "when"]
    while todo:
        u = todo.pop()
        if id(u) in seen:
            continue
        seen.add(id(u))
        keep.append(u)
        for alt in u.alts:
            for p in alt:
                todo.extend(makers.get(u.ctx.resolve(p.fact or ""), []))
    return [u for u in units if id(u) in seen]     # in their original order


def _out_of_force(rule: Rule, spans: list, lo_p: int | None, hi_p: int | None) -> list:
    """The periods no span covers, each judged (for the replay's account only) with the
    parameters of the nearest version: the first before it, else the one after."""
    covered = sorted((lo, hi if hi is not None else 10**7) for _, lo, hi, _ in spans)
    gaps, cursor = [], 1
    for lo, hi in covered:
        if lo > cursor:
            gaps.append((cursor, lo - 1))
        cursor = max(cursor, hi + 1)
    if cursor <= 10**7:
        gaps.append((cursor, None))
    groups = _version_groups(rule.version)
    out = []
    for lo, hi in gaps:
        before = [g for g in groups if g[0].valid_from.toordinal() <= lo]
        out.append((before[-1] if before else groups[0], lo, hi, True))
    return out


def _version_groups(versions: list[Version]) -> list[list[Version]]:
    """Consecutive versions with equal parameters (only the wording or sources changed)
    judge alike: they compile once, for their joint period."""
    groups: list[list[Version]] = []
    for v in versions:
        prev = groups[-1][-1] if groups else None
        if prev is not None and prev.params == v.params and prev.valid_to is not None \
                and prev.valid_to.toordinal() + 1 == v.valid_from.toordinal():
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def _assign_stages(units: list[_Unit]) -> None:
    """Stage of a unit = 1 + the latest stage of the derived facts it reads; a derived
    type's stage = the latest of the units that make it. Cycles are errors."""
    makers: dict[str, list[_Unit]] = {}
    for u in units:
        if u.kind == "derive":
            makers.setdefault(u.fact_type, []).append(u)
    type_stage: dict[str, int] = {}
    visiting: set[str] = set()

    def stage_of_type(ftype: str, where: str) -> int:
        if ftype not in makers:
            return 0
        if ftype in type_stage:
            return type_stage[ftype]
        if ftype in visiting:
            raise RuleError(f"{where}: {ftype!r} härleds ur sig själv (en cirkel)")
        visiting.add(ftype)
        type_stage[ftype] = max(stage_of_unit(u) for u in makers[ftype])
        visiting.discard(ftype)
        return type_stage[ftype]

    def stage_of_unit(u: _Unit) -> int:
        if not u.stage:
            u.stage = 1 + max((stage_of_type(u.ctx.resolve(p.fact or ""), u.where)
                               for alt in u.alts for p in alt), default=0)
        return u.stage

    for u in units:
        stage_of_unit(u)
    # Derived facts are asserted together at the stage after their type's latest maker.
    for u in units:
        if u.kind == "derive":
            u.stage = type_stage[u.fact_type]


def _build(units: list[_Unit], derived_fields: dict[str, set[str]], rules: list[Rule]) -> Program:
    definition: dict[str, Any] = {}
    plans: dict[str, Plan] = {}
    needs: dict[str, set[str]] = {}
    type_stage: dict[str, int] = {}
    read: set[str] = set()
    joins: dict[str, frozenset[str]] = {}
    counter = itertools.count()
    for u in units:
        combos = [dict(zip(u.each, vals)) for vals in
                  itertools.product(*(u.params[p] for p in u.each.values()))] if u.each else [{}]
        for combo in combos:
            params = dict(u.params, **combo)
            for alt in u.alts:
                aliases = _check_alt(alt, u.ctx, params, u.exprs)
                _collect_needs(alt, aliases, u.exprs, u.ctx, needs)
                exprs = {k: parse_expr(v) for k, v in u.exprs.items()}
                window = _window(exprs["due"], params, *u.window, u.where) if u.kind == "when" else None
                name = f"r{next(counter)}"
                conditions: list[dict[str, Any]] = [{"trig": {"$and": [{"t": "trig"}, {"r": name}]}}]
                for k, pat in enumerate(alt):
                    tests: list[dict[str, Any]] = [{"t": u.ctx.resolve(pat.fact or "")}]
                    read.add(tests[0]["t"])
                    for text in pat.where:
                        tests.extend(_compile_condition(parse_condition(text), params))
                    if window is not None and pat.alias == window[0]:
                        tests.extend(window[1])
                    alias = f"n{k}$not" if pat.none else pat.alias
                    conditions.append({alias: {"$and": tests} if len(tests) > 1 else tests[0]})
                definition[name] = {"all": conditions}
                joins[name] = frozenset(u.ctx.resolve(p.fact or "") for p in alt if not p.none)
                if u.kind == "derive":
                    plans[name] = Plan(name, "derive", u.stage, params, exprs, fact_type=u.fact_type,
                                       export=u.export, rule_id=u.rule.id if u.rule else "")
                    type_stage[u.fact_type] = u.stage
                else:
                    assert u.rule is not None and u.when is not None
                    versions = tuple((v.valid_from.toordinal(),
                                      v.valid_to.toordinal() if v.valid_to else 10**7,
                                      v.valid_from.isoformat()) for v in u.versions)
                    plans[name] = Plan(name, "when", u.stage, params, exprs, rule_id=u.rule.id,
                                       when=u.when.name, status=u.when.status, versions=versions,
                                       title=u.rule.title, out_of_force=u.out_of_force)
    # A few rules that never match at the end of the ruleset: with them the C engine's
    # out-of-bounds read (docs/durable-rules-notes.md, crash 3) was not seen.
    for k in range(3):
        definition[f"zz_never_{k}"] = {"all": [{"x": {"t": f"never_{k}"}}]}
    stages = max((p.stage for p in plans.values()), default=1)
    triggers = [[n for n, p in plans.items() if p.stage == s] for s in range(1, stages + 1)]
    versions = {r.id: {v.valid_from.isoformat(): v for v in r.version} for r in rules}
    return Program(definition, plans, stages, type_stage,
                   {t: frozenset(f) for t, f in needs.items()}, triggers, frozenset(read), versions,
                   joins=joins)


def _collect_needs(alt: list[FactPattern], aliases: dict[str, str], exprs: dict[str, str],
                   ctx: _Ctx, needs: dict[str, set[str]]) -> None:
    """The fields of base facts that the rules read: only these are made."""
    base = fact_types()
    for pat in alt:
        ftype = ctx.resolve(pat.fact or "")
        if ftype in base:
            fields = needs.setdefault(ftype, set())
            fields.update(parse_condition(w).field for w in pat.where)
    read = [parse_condition(w).expr for pat in alt for w in pat.where]
    read += [parse_expr(text) for text in exprs.values()]
    for expr in read:
        for alias, fld in expr.refs():
            ftype = aliases.get(alias)
            if ftype in base:
                needs.setdefault(ftype, set()).add(fld)


def check_ruleset(ruleset: RuleSet) -> None:
    """Compile every rule of a folder (all versions, with `met` patterns) to find errors
    at load time, naming the file and the block."""
    try:
        compile_program(ruleset, with_met=True, prune=False)
    except ValueError as exc:
        raise RuleError(str(exc)) from None
