"""The small language of rule files: conditions on facts and the values a match yields.

A condition compares a field of the fact being matched with an expression:

    "kind == $kind"                  a parameter of the rule version (`$name`)
    "meeting == h.meeting"           a field of an earlier fact of the pattern (`alias.field`)
    "day > h.day - $notice_days"     a sum or difference of terms
    "to != $excused"                 a list parameter: different from each element
    "kind == 'sip'"                  a text constant

An expression (in `set` and `emit`) may also roll a date to a business day, which only
Python can do (the calendar):

    "roll_forward(start.day + $within_days)"   the next business day, if not one already
    "roll_back(p.date - $notice_days)"         the previous business day
    "roll($send_roll, p.date - $notice_days)"  as the parameter says: forward, back or none

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
ROLLS = ("roll_forward", "roll_back", "roll")

_COND = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_TERM = re.compile(r"^(-?\d+|\$[a-z_][a-z0-9_]*|[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*|'[^']*')$")
_CALL = re.compile(r"^(roll_forward|roll_back|roll)\((.*)\)$", re.S)


class PatternError(ValueError):
    """A condition or expression that cannot be parsed (the message says which)."""


# A term: ("int", n) | ("param", name) | ("ref", alias, field) | ("str", text)
Term = tuple


@dataclass(frozen=True)
class Expr:
    """A sum of signed terms, optionally rolled to a business day.

    `mt.date - $notice_days` -> terms [(+1, ref mt.date), (-1, param notice_days)].
    `roll` is None, "forward", "back", or ("param", name) for `roll($name, ...)`.
    """
    terms: tuple[tuple[int, Term], ...]
    roll: Any = None

    def refs(self) -> list[tuple[str, str]]:
        """The (alias, field) pairs the expression reads."""
        return [(t[1], t[2]) for _, t in self.terms if t[0] == "ref"]

    def params(self) -> list[str]:
        names = [t[1] for _, t in self.terms if t[0] == "param"]
        if isinstance(self.roll, tuple):
            names.append(self.roll[1])
        return names


def parse_expr(text: str) -> Expr:
    """Parse an expression; raises PatternError naming the part it cannot read."""
    text = text.strip()
    call = _CALL.match(text)
    if call:
        name, inner = call.groups()
        roll: Any = {"roll_forward": "forward", "roll_back": "back"}.get(name)
        if name == "roll":
            first, sep, inner = inner.partition(",")
            if not sep or not re.fullmatch(r"\s*\$[a-z_][a-z0-9_]*\s*", first):
                raise PatternError(f"roll(...) ska ha formen roll($parameter, uttryck): {text!r}")
            roll = ("param", first.strip()[1:])
        body = parse_expr(inner)
        if body.roll is not None:
            raise PatternError(f"en rullning i en rullning går inte: {text!r}")
        return Expr(body.terms, roll)
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
    if expr.roll is not None:
        raise PatternError(f"villkoret {text!r}: rulla datum i `set`, inte i ett villkor")
    return Condition(field, op, expr)


# --- evaluating what a match yields ---------------------------------------------------------

Roller = Callable[[int, str], int]   # (day ordinal, "forward" | "back") -> day ordinal


@dataclass(frozen=True)
class Basis:
    """How a computed date came about, for the deadline arithmetic in words
    (`compliance.explain`): counted from `start`, `days` added, then rolled (or not)."""
    start: int
    days: int
    roll: str | None

    def as_json(self) -> dict[str, Any]:
        return {"from": dt.date.fromordinal(self.start).isoformat(), "days": self.days, "roll": self.roll}


def evaluate(expr: Expr, match: dict[str, dict[str, Any]], params: dict[str, Any],
             roller: Roller) -> Any:
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
    roll = _roll_of(expr, params)
    if roll is not None and total:
        total = roller(total, roll)
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
    roll = _roll_of(expr, params)
    if not days and roll is None:
        return bases(ref[1], ref[2])     # a plain reference: whatever that date's basis is
    start = match[ref[1]].get(ref[2])
    if not isinstance(start, int) or not start:
        return None
    return Basis(start, days, roll)


def _roll_of(expr: Expr, params: dict[str, Any]) -> str | None:
    roll = expr.roll
    if isinstance(roll, tuple):
        roll = params[roll[1]]
        return None if roll in (None, "none") else roll
    return roll
