"""The small language of rule files: conditions on facts and the values a match yields.

A condition compares a field of the fact being matched with an expression:

    "kind == $kind"                  a parameter of the rule version (`$name`)
    "meeting == h.meeting"           a field of an earlier fact of the pattern (`alias.field`)
    "day > h.day - $notice_days"     a sum or difference of terms
    "to != $excused"                 a list parameter: different from each element
    "kind == 'sip'"                  a text constant

An expression (in `set` and `emit`) may also apply one calendar function to a date,
which only Python can do (the business-day calendar, the lengths of years):

    "roll_forward(start.day + $within_days)"   the next business day, if not one already
    "roll_back(p.date - $notice_days)"         the previous business day
    "roll($send_roll, p.date - $notice_days)"  as the parameter says: forward, back or none
    "add_business_days(h.day, $protocol_days)" the n-th business day after the date
    "add_years(c.child_birth_date, $max_age)"  the same day n years later (29 Feb -> 1 Mar)

Dates are day ordinals (`date.toordinal()`), so every comparison is of plain integers.
Nothing here runs a rule: `compliance.compiler` turns conditions into durable-rules
tests, and `evaluate` computes what a match yields.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
FUNCTIONS = ("roll_forward", "roll_back", "roll", "add_business_days", "add_years")

_COND = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_TERM = re.compile(r"^(-?\d+|\$[a-z_][a-z0-9_]*|[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*|'[^']*')$")
_CALL = re.compile(r"^(roll_forward|roll_back|roll|add_business_days|add_years)\((.*)\)$", re.S)
_PARAM = re.compile(r"^\$[a-z_][a-z0-9_]*$")


class PatternError(ValueError):
    """A condition or expression that cannot be parsed (the message says which)."""


# A term: ("int", n) | ("param", name) | ("ref", alias, field) | ("str", text)
Term = tuple


@dataclass(frozen=True)
class Expr:
    """A sum of signed terms, to which one calendar function may be applied.

    `mt.date - $notice_days` -> terms [(+1, ref mt.date), (-1, param notice_days)].
    `fn` is None, "roll", "add_business_days" or "add_years"; `arg` is the function's
    argument: for "roll" "forward" or "back", else a number; either may be
    ("param", name) to take it from a parameter.
    """
    terms: tuple[tuple[int, Term], ...]
    fn: str | None = None
    arg: Any = None

    @property
    def roll(self) -> Any:
        return self.arg if self.fn == "roll" else None

    def refs(self) -> list[tuple[str, str]]:
        """The (alias, field) pairs the expression reads."""
        return [(t[1], t[2]) for _, t in self.terms if t[0] == "ref"]

    def params(self) -> list[str]:
        names = [t[1] for _, t in self.terms if t[0] == "param"]
        if isinstance(self.arg, tuple):
            names.append(self.arg[1])
        return names


def parse_expr(text: str) -> Expr:
    """Parse an expression; raises PatternError naming the part it cannot read."""
    text = text.strip()
    call = _CALL.match(text)
    if call:
        name, inner = call.groups()
        arg: Any
        if name in ("roll_forward", "roll_back"):
            fn, arg = "roll", name[5:]
        elif name == "roll":
            first, sep, inner = inner.partition(",")
            if not sep or not _PARAM.match(first.strip()):
                raise PatternError(f"roll(...) ska ha formen roll($parameter, uttryck): {text!r}")
            fn, arg = "roll", ("param", first.strip()[1:])
        else:
            inner, sep, last = inner.rpartition(",")
            last = last.strip()
            if not sep or not (_PARAM.match(last) or re.fullmatch(r"-?\d+", last)):
                raise PatternError(f"{name}(...) ska ha formen {name}(uttryck, antal): {text!r}")
            fn, arg = name, ("param", last[1:]) if last.startswith("$") else int(last)
        body = parse_expr(inner)
        if body.fn is not None:
            raise PatternError(f"en funktion i en funktion går inte: {text!r}")
        return Expr(body.terms, fn, arg)
    tokens = re.split(r"\s+([+-])\s+", text)
    terms, sign = [], 1
    for i, tok in enumerate(tokens):
        if i % 2 == 1:
            sign = 1 if tok == "+" else -1
            continue
        if not _TERM.match(tok):
            raise PatternError(f"kan inte tolka {tok!r} i {text!r}")
        if tok.startswith("$"):
            term: Term = ("param", tok[1:])
        elif tok.startswith("'"):
            term = ("str", tok[1:-1])
        elif "." in tok:
            alias, field = tok.split(".", 1)
            term = ("ref", alias, field)
        else:
            term = ("int", int(tok))
        terms.append((sign, term))
    if not terms:
        raise PatternError(f"tomt uttryck: {text!r}")
    return Expr(tuple(terms))


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    expr: Expr


def parse_condition(text: str) -> Condition:
    match = _COND.match(text)
    if not match:
        raise PatternError(f"villkoret {text!r} ska ha formen 'fält OP uttryck' (OP: {', '.join(OPERATORS)})")
    field, op, rhs = match.groups()
    expr = parse_expr(rhs)
    if expr.fn is not None:
        raise PatternError(f"villkoret {text!r}: räkna datum i `set`, inte i ett villkor")
    return Condition(field, op, expr)


# --- evaluating what a match yields ---------------------------------------------------------

# (function, day ordinal, argument) -> day ordinal: the business-day calendar, in Python.
CalendarFn = Callable[[str, int, Any], int]


@dataclass(frozen=True)
class Basis:
    """How a computed date came about, for the deadline arithmetic in words
    (`compliance.explain`): counted from `start`, then `days` calendar days, business days
    or years added, then rolled (or not)."""
    start: int
    days: int = 0
    roll: str | None = None
    business_days: int | None = None
    years: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": dt.date.fromordinal(self.start).isoformat(), "days": self.days,
                               "roll": self.roll}
        if self.business_days is not None:
            out["business_days"] = self.business_days
        if self.years is not None:
            out["years"] = self.years
        return out


def _arg(expr: Expr, params: dict[str, Any]) -> Any:
    arg = expr.arg
    if isinstance(arg, tuple):
        arg = params[arg[1]]
    return arg


def evaluate(expr: Expr, match: dict[str, dict[str, Any]], params: dict[str, Any],
             calendar: CalendarFn) -> Any:
    """The value of `expr` for a match (alias -> fact fields)."""
    total: Any = None
    for sign, term in expr.terms:
        kind = term[0]
        if kind == "ref":
            value = match[term[1]].get(term[2])
        elif kind == "param":
            value = params[term[1]]
        else:
            value = term[1]
        if total is None:
            total = value if sign > 0 else -value
        else:
            total = total + value if sign > 0 else total - value
    if expr.fn is not None and total:
        arg = _arg(expr, params)
        if not (expr.fn == "roll" and arg in (None, "none")):
            total = calendar(expr.fn, total, arg)
    return total


def basis(expr: Expr, match: dict[str, dict[str, Any]], params: dict[str, Any],
          bases: Callable[[str, str], "Basis | None"]) -> Basis | None:
    """How the date `expr` yields was computed, or None when it is simply an event's day.

    `bases(alias, field)` gives the basis of a field of a matched fact (a derived date that
    was itself computed, e.g. a clock's deadline).
    """
    refs = [(sign, t) for sign, t in expr.terms if t[0] == "ref"]
    if len(refs) != 1 or refs[0][0] < 0:
        return None
    (_, ref), = refs
    days = sum(sign * (params[t[1]] if t[0] == "param" else t[1])
               for sign, t in expr.terms if t[0] in ("param", "int"))
    arg = _arg(expr, params) if expr.fn is not None else None
    if not days and (expr.fn is None or (expr.fn == "roll" and arg in (None, "none"))):
        return bases(ref[1], ref[2])     # a plain reference: whatever that date's basis is
    start = match[ref[1]].get(ref[2])
    if not isinstance(start, int) or not start:
        return None
    if expr.fn == "roll":
        return Basis(start, days, None if arg in (None, "none") else arg)
    if expr.fn == "add_business_days":
        return Basis(start, days, business_days=int(arg)) if not days else None
    if expr.fn == "add_years":
        return Basis(start, days, years=int(arg)) if not days else None
    return Basis(start, days)
