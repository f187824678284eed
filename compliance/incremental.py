"""Incremental scans (state.md, "Incremental scans"): a case decided last night is not
decided again when nothing it depends on has changed.

A nightly export holds the whole history again, with a few changed cases. With a store,
each case's result (its lines of findings.jsonl, evidence.jsonl and cases.jsonl) is kept
with what it was decided from (`state/cache.py`). Tonight a case's stored result is taken
as it is when

- its events are the same: `events_digest` (their content in input order; the line
  numbers, which move when the log grows, left out);
- the rules, the compiled program, the profile, the calendar, the warn horizon and this
  tool's version are the same: `context_of`;
- tonight's as-of date is on or after the day it was decided, and before its
  **stable-until** day: the first as-of date on which its result could change without a
  new event (`Stability`).

Only the other cases go to the engine's workers (`Reuse.to_decide`); the outputs are then
put together in case order (`Reuse.merge`), the lateness counters of open findings
recomputed for tonight (`refresh_lateness`), so that every output is byte for byte what a
full scan gives. `--full` decides every case (and stores every result again).

Stable-until is computed in the engine worker from the case's facts, not from the rule
files' wording: every condition of the compiled program that compares a fact's field with
the as-of date or the warning horizon (`trig.asof`, `trig.horizon`) changes its truth
only when that date passes the field's value, so the earliest such day over the case's
facts (events and derived facts alike) bounds it. Besides: an event dated after the
as-of date (it counts from its day on), a new half-year (the `term` facts), a date in the
case summary's facts still ahead (a SIP process's `within_deadline`), and open findings
of a rule whose message counts the days late. Whatever the analysis cannot follow (a
condition mixing the as-of date with another fact's field, an output computed from the
as-of date) makes every case stable only until tomorrow: it is decided every night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import orjson

from . import calendar as vardagar
from .chunks import chunks

if TYPE_CHECKING:
    from .compiler import Program
    from .pool import EngineResult
    from .session import CaseRun
    from .state import CaseResult, Store

# The version of what this module stores and compares (the digests, stable-until): part
# of the context, so that a store written by another way of computing them is not reused.
FORMAT = 1

# A packed event (compliance/facts.py, CompactEvent) starts with its input order: "[123,".
_ORDER = re.compile(r"^\[\d+,", re.M)


def events_digest(packed: list[str]) -> str:
    """A digest of a case's events as the engine sees them: their content in input order
    (ties of date and time keep that order), without the line numbers, which move when
    lines are added to the export before them."""
    text = _ORDER.sub("[", "\n".join(packed))
    return hashlib.sha256(text.encode()).hexdigest()


def context_of(rules_digest: str, program: "Program", profile: str, warn_days: int) -> str:
    """A digest of everything besides a case's events that its result depends on: the rule
    files, the compiled program (the profile's parameters and periods), the profile, the
    calendar, the warn horizon, and this tool's version and `FORMAT`."""
    from . import __version__
    from .state.cache import context_digest
    rules = f"{rules_digest}|{program.digest()}|{__version__}|incremental-{FORMAT}"
    return context_digest(rules, profile, vardagar.CALENDAR_SOURCE, warn_days)


# --- stable-until, in the engine's worker ---------------------------------------------------------

@dataclass(frozen=True)
class _DateTest:
    """A condition `field OP trig.<which> + offset` on facts of one type."""
    field: str
    which: str          # "asof" | "horizon"
    offset: int


def _linear(rhs: Any) -> tuple[dict[str, int], int, bool] | None:
    """The compiled right-hand side as (coefficients of trig fields, constant, reads
    another fact); None when it is not a sum of integers and fields."""
    if isinstance(rhs, bool):
        return None
    if isinstance(rhs, int):
        return {}, rhs, False
    if not isinstance(rhs, dict) or len(rhs) != 1:
        return None
    (key, value), = rhs.items()
    if key in ("$add", "$sub") and isinstance(value, dict):
        left, right = _linear(value.get("$l")), _linear(value.get("$r"))
        if left is None or right is None:
            return None
        sign = 1 if key == "$add" else -1
        coef = dict(left[0])
        for k, v in right[0].items():
            coef[k] = coef.get(k, 0) + sign * v
        return coef, left[1] + sign * right[1], left[2] or right[2]
    if key == "trig" and isinstance(value, str):
        return {value: 1}, 0, False
    if isinstance(value, str):          # another fact's field: {"ap": "meeting"}
        return {}, 0, True
    return None


def _reads_trig(value: Any) -> bool:
    """Whether a compiled operand reads a trigger field ({"trig": "asof"} somewhere)."""
    if isinstance(value, dict):
        return any(k == "trig" or _reads_trig(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_reads_trig(v) for v in value)
    return False


def date_tests(program: "Program") -> tuple[dict[str, list[_DateTest]], bool]:
    """The program's conditions that compare a fact's field with the as-of date or the
    horizon, by fact type; and whether the program is *blind*: it uses the as-of date in
    a way this analysis does not follow (then nothing is stable beyond tomorrow)."""
    tests: dict[str, list[_DateTest]] = {}
    blind = False
    for name, rule in program.definition.items():
        for condition in rule.get("all", []):
            for alias, test in condition.items():
                if alias == "trig":
                    continue
                parts = test["$and"] if isinstance(test, dict) and "$and" in test else [test]
                ftype = next((p["t"] for p in parts if isinstance(p, dict) and "t" in p
                              and isinstance(p["t"], str)), None)
                for part in parts:
                    if not isinstance(part, dict) or len(part) != 1:
                        continue
                    (op, body), = part.items()
                    if op.startswith("$"):
                        if not isinstance(body, dict) or len(body) != 1:
                            blind = blind or _reads_trig(body)
                            continue
                        (fld, rhs), = body.items()
                    else:
                        fld, rhs = op, body
                    if not _reads_trig(rhs):
                        continue
                    lin = _linear(rhs)
                    if lin is None or lin[2] or ftype is None:
                        blind = True
                        continue
                    coef, const, _ = lin
                    used = {k: v for k, v in coef.items() if v}
                    if len(used) != 1 or next(iter(used.values())) != 1 or \
                            next(iter(used)) not in ("asof", "horizon"):
                        blind = True
                        continue
                    tests.setdefault(ftype, []).append(_DateTest(fld, next(iter(used)), const))
    # An output (a derived fact's field, a finding's due date) computed from the as-of date.
    for plan in program.plans.values():
        if any(alias == "trig" for expr in plan.exprs.values() for alias, _ in expr.refs()):
            blind = True
    return tests, blind


def _counts_days_late(program: "Program") -> frozenset[str]:
    """Rules whose messages say how many days late a finding is: an open finding's
    message then changes every day."""
    out = set()
    for rule, versions in program.versions.items():
        for v in versions.values():
            texts = [v.message, v.message_open, v.message_warning, v.message_information,
                     v.message_met, *v.messages.values()]
            if any(t and "days_late" in t for t in texts):
                out.add(rule)
    return frozenset(out)


@lru_cache(maxsize=65536)
def _horizon_reaches(target: int, as_of: int, warn_days: int) -> int:
    """The first as-of date (ordinal) after `as_of` whose warning horizon is `target` or
    later (the horizon never falls as the as-of date moves on)."""
    def horizon(day: int) -> int:
        return vardagar.add_business_days(dt.date.fromordinal(day), warn_days).toordinal()
    lo, hi = as_of + 1, max(as_of + 1, target)      # horizon(d) >= d: `hi` reaches it
    if horizon(lo) >= target:
        return lo
    while hi - lo > 1:                               # horizon(lo) < target <= horizon(hi)
        mid = (lo + hi) // 2
        if horizon(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _next_half_year(as_of: dt.date) -> int:
    """The first day of the half-year (termin) after the one holding `as_of`."""
    return (dt.date(as_of.year, 7, 1) if as_of.month <= 6 else dt.date(as_of.year + 1, 1, 1)).toordinal()


class Stability:
    """Computes cases' stable-until days in a worker (one per Decider)."""

    def __init__(self, program: "Program", as_of: dt.date, warn_days: int):
        self.tests, self.blind = date_tests(program)
        self.counts_days_late = _counts_days_late(program)
        self.as_of = as_of.toordinal()
        self.warn_days = warn_days
        self.terms = "term" in program.needs
        try:
            self.horizon = vardagar.add_business_days(as_of, warn_days).toordinal()
        except ValueError:
            self.blind = True
            self.horizon = self.as_of

    def until(self, events: list[list[Any]], run: "CaseRun", findings: list[dict[str, Any]]) -> int | None:
        """The case's stable-until day (an ordinal; None: it changes only with new
        events). `events`: all the case's packed events, also those after the as-of date."""
        tomorrow = self.as_of + 1
        if self.blind or self.warn_days < 0:
            return tomorrow
        if any(f["actual"] is None and f["rule"] in self.counts_days_late for f in findings):
            return tomorrow
        first: int | None = None

        def edge(day: int) -> None:
            nonlocal first
            if first is None or day < first:
                first = day
        for e in events:
            if e[3] > self.as_of:
                edge(e[3])
        if self.terms:
            edge(_next_half_year(dt.date.fromordinal(self.as_of)))
        for fact in run.facts.values():
            for test in self.tests.get(fact.get("t"), ()):
                value = fact.get(test.field)
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
                now = self.as_of if test.which == "asof" else self.horizon
                # `value OP now + offset` can change only where now + offset reaches value
                # or passes it: at value - offset or one day later.
                crossing = value - test.offset
                if crossing <= now:
                    crossing += 1
                if crossing <= now:
                    continue
                if test.which == "asof":
                    edge(crossing)
                else:
                    try:
                        edge(_horizon_reaches(crossing, self.as_of, self.warn_days))
                    except ValueError:           # beyond the calendar: decide it every night
                        edge(tomorrow)
        # The case summary's facts (compliance/decide.py, `_summary`): a date still ahead
        # may turn e.g. a SIP process's `within_deadline` once passed.
        for facts in run.exports.values():
            for fact in facts:
                for key, value in fact.items():
                    if key not in ("id", "sid") and isinstance(value, int) and not isinstance(value, bool) \
                            and value >= self.as_of:
                        edge(max(value, tomorrow))
        if first is not None and first > dt.date.max.toordinal():
            return None
        return first


# --- in the scan: which cases to decide, and the outputs put together ---------------------------------

_FINDING_HEAD = re.compile(rb'^\{"id":"[^"]*","rule":"((?:[^"\\]|\\.)*)","case":"(?:[^"\\]|\\.)*",'
                           rb'"status":"((?:[^"\\]|\\.)*)"', re.M)


def tally_of(blocks: Iterable[bytes]) -> list[tuple[str, str]]:
    """(rule, status) of every finding line, in order (the scan's counts)."""
    out = []
    for block in blocks:
        for rule, status in _FINDING_HEAD.findall(block):
            out.append((_text(rule), _text(status)))
    return out


def _text(raw: bytes) -> str:
    return orjson.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()


def refresh_lateness(block: bytes, as_of: dt.date) -> tuple[bytes, bytes]:
    """A case's findings lines with the lateness counters of open findings (no `actual`)
    counted up to tonight's as-of date, exactly as `findings.finalize` counts them; and
    those open findings' lines alone (what the store is told of a reused case)."""
    if b'"actual":null' not in block:
        return block, b""
    from .findings import _business_days_late
    out, still_open = [], []
    for line in block.splitlines(keepends=True):
        if b'"actual":null' in line:
            f = orjson.loads(line)
            if f["actual"] is None:
                due = dt.date.fromisoformat(f["due"])
                f["days_late"] = (as_of - due).days
                f["business_days_late"] = _business_days_late(due, as_of)
                line = orjson.dumps(f, option=orjson.OPT_APPEND_NEWLINE)
                still_open.append(line)
        out.append(line)
    return b"".join(out), b"".join(still_open)


class _Cursor:
    """Walks blocks of lines in step with per-case byte counts (empty blocks left out)."""

    def __init__(self, blocks: list[bytes]):
        self.blocks, self.k, self.pos = blocks, 0, 0

    def take(self, n: int) -> bytes:
        if n == 0:
            return b""
        while self.pos >= len(self.blocks[self.k]):
            self.k, self.pos = self.k + 1, 0
        piece = self.blocks[self.k][self.pos:self.pos + n]
        self.pos += n
        return piece


@dataclass
class Reuse:
    """One scan's reuse of stored case results (with a store; `full`: none reused)."""
    store: "Store"
    context: str
    as_of: dt.date
    full: bool = False
    digests: dict[str, str] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)
    decided: list["CaseResult"] = field(default_factory=list)
    errored: set[str] = field(default_factory=set)
    # What the store must be told of tonight's findings (nightly.py stages it): every line of the
    # decided cases, and of the reused ones only the open findings, whose lateness
    # counters moved with the as-of date. The rest of a reused case stands as stored.
    recorded: list[bytes] = field(default_factory=list)

    def to_decide(self, cases: dict[str, list[str]]) -> dict[str, list[str]]:
        """The cases the engine must decide tonight; the others' stored results are kept."""
        from .state import case_results_for
        self.digests = {case: events_digest(packed) for case, packed in cases.items()}
        if not self.full:
            try:
                with self.store.read() as conn:
                    for stored in case_results_for(conn, self.digests, lines=False):
                        if stored.reusable(self.digests[stored.case], self.context, self.as_of):
                            self.reused.add(stored.case)
            finally:
                self.store.engine.dispose()     # workers may be forked again: no connection to share
        return {case: packed for case, packed in cases.items() if case not in self.reused}

    def _stored_lines(self, cases: list[str]) -> Iterator["CaseResult"]:
        """The reused cases' stored results with their lines, in the order given, read a
        chunk at a time. A result another scan replaced meanwhile is taken only if it may
        still be reused (the same test); one that is gone or may not is an error."""
        from .state import StateError, case_results_for
        try:
            with self.store.read() as conn:
                for chunk in chunks(cases, 1000):
                    got = {r.case: r for r in case_results_for(conn, chunk)}
                    for case in chunk:
                        stored = got.get(case)
                        if stored is None or not stored.reusable(self.digests[case], self.context, self.as_of):
                            raise StateError(f"{self.store.display}: ärendet {case!r} sparade resultat ändrades "
                                             "av en annan körning under den här; kör igen")
                        yield stored
        finally:
            self.store.engine.dispose()

    def merge(self, engine: "EngineResult") -> None:
        """Put tonight's decided cases and the reused ones together in case order, into
        `engine` (its blocks and tally), and keep the decided ones' results to store."""
        self.errored = {e["case"] for e in engine.errors}
        findings, evidence, summaries = _Cursor(engine.findings), _Cursor(engine.evidence), _Cursor(engine.summaries)
        fresh: dict[str, tuple[int | None, bytes, bytes, bytes]] = {}
        for case, until, nf, ne, ns in engine.per_case:
            fresh[case] = (until, findings.take(nf), evidence.take(ne), summaries.take(ns))
        if not self.reused:
            # Every case decided (--full, a first night): the engine's blocks, in case
            # order, are tonight's outputs as they are; only the results to store are kept.
            for case in sorted(fresh):
                self._keep_decided(case, *fresh[case])
            return
        out_f, out_e, out_s = _Blocks(), _Blocks(), _Blocks()
        stored_lines = self._stored_lines(sorted(self.reused))
        for case in sorted(set(fresh) | self.reused):
            got = fresh.get(case)
            if got is not None:
                until, f, e, s = got
                self._keep_decided(case, until, f, e, s)
            else:
                stored = next(stored_lines)
                f, still_open = refresh_lateness(stored.findings, self.as_of)
                e, s = stored.evidence, stored.summary
                if still_open:
                    self.recorded.append(still_open)
            out_f.append(f)
            out_e.append(e)
            out_s.append(s)
        stored_lines.close()
        engine.findings = out_f.done()
        engine.evidence = out_e.done()
        engine.summaries = out_s.done()
        engine.tally = tally_of(engine.findings)

    def _keep_decided(self, case: str, until: int | None, f: bytes, e: bytes, s: bytes) -> None:
        """A case decided tonight: its result to store, its findings to record."""
        from .state import CaseResult
        self.decided.append(CaseResult(case, self.digests[case], self.context,
                                       dt.date.fromordinal(until) if until is not None else None, f, e, s))
        self.recorded.append(f)

    def decided_details(self) -> tuple[list[bytes], list[bytes]]:
        """The summary and evidence lines of the cases decided tonight, in case order (the
        reused cases' stand as stored)."""
        return [r.summary for r in self.decided], [r.evidence for r in self.decided]

    def keep(self) -> list[str]:
        """The cases whose stored results stay: those in tonight's log that were decided
        (an engine error forgets the case's result: it is decided again next time)."""
        return [case for case in self.digests if case not in self.errored]

    def counts(self) -> dict[str, int]:
        return {"reused": len(self.reused), "decided": len(self.digests) - len(self.reused)}


class _Blocks:
    """Per-case pieces joined into blocks of about `size` cases as they come (empty
    blocks left out), so that the pieces and the blocks are not both held whole."""

    def __init__(self, size: int = 100) -> None:
        self.size, self.pieces, self.blocks = size, [], []

    def append(self, piece: bytes) -> None:
        self.pieces.append(piece)
        if len(self.pieces) >= self.size:
            self._join()

    def _join(self) -> None:
        block = b"".join(self.pieces)
        self.pieces = []
        if block:
            self.blocks.append(block)

    def done(self) -> list[bytes]:
        self._join()
        return self.blocks
