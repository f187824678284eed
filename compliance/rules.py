"""Rule files (`rules/*.toml`): an obligation as data, next to the sentence it encodes.

A rule file holds the obligation's id, version (the date its wording took effect), Swedish
title and message, the quoted source sentences with their seed file, its parameters, and
its match patterns (`[[when]]`). A pattern is a list of facts to join, each with
conditions in a small language:

    "kind == $kind"               field compared with a parameter (`$name`)
    "m == mt.m"                   ... with a field of an earlier fact (`alias.field`)
    "day > mt.date - $notice_days"  ... with a sum or difference
    "to != $excused"              a list parameter: different from each element

`{ none = true, ... }` means "no such fact" (negation). `each = { kind = "meeting_kinds" }`
repeats the pattern for every value of a list parameter. `emit` says how a match becomes
a finding. `compliance.engine` compiles all of this onto durable-rules; nothing here runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


FACT_FIELDS: dict[str, set[str]] = {
    "mtg": {"m", "kind", "conv", "date", "planned", "held", "hseq", "cancelled", "sendby", "se", "e"},
    "inv": {"m", "to", "unit", "day", "e"},
    "att": {"m", "unit"},
    "given": {"seq", "day", "e"},
    "wd": {"seq", "day", "e"},
    "clock": {"start", "deadline", "unit", "e"},
    "req": {"day", "unit", "m", "e"},
    "trig": {"asof", "horizon"},
}
_COND = re.compile(r"^\s*([a-z_]+)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_TERM = re.compile(r"^(-?\d+|\$[a-z_]+|[a-z_]+\.[a-z_]+|'[^']*')$")


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the key."""


# --- the condition language -------------------------------------------------------------

Term = tuple  # ("int", n) | ("param", name) | ("ref", alias, field) | ("str", s)


@dataclass(frozen=True)
class Expr:
    """A sum of signed terms: `mt.date - $notice_days` -> [(+1, ref), (-1, param)]."""
    terms: tuple[tuple[int, Term], ...]


def parse_expr(text: str) -> Expr:
    tokens = re.split(r"\s+([+-])\s+", text.strip())
    terms, sign = [], 1
    for i, tok in enumerate(tokens):
        if i % 2 == 1:
            sign = 1 if tok == "+" else -1
            continue
        if not _TERM.match(tok):
            raise ValueError(f"kan inte tolka {tok!r} i {text!r}")
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
    return Expr(tuple(terms))


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    expr: Expr


def parse_condition(text: str) -> Condition:
    match = _COND.match(text)
    if not match:
        raise ValueError(f"villkoret {text!r} ska ha formen 'fält OP uttryck'")
    field, op, rhs = match.groups()
    return Condition(field, op, parse_expr(rhs))


# --- the schema ---------------------------------------------------------------------------

class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class FactPattern(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    alias: str | None = Field(default=None, alias="as")
    fact: str
    none: bool = False
    where: list[str] = []

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, v: str) -> str:
        if v not in FACT_FIELDS or v == "trig":
            raise ValueError(f"okänd fakta-typ {v!r} (kända: {', '.join(sorted(FACT_FIELDS))})")
        return v

    @model_validator(mode="after")
    def _alias(self) -> "FactPattern":
        if not self.none and not self.alias:
            raise ValueError("ett faktum som inte är `none` behöver `as`")
        if self.alias in ("s", "m", "trig"):
            raise ValueError(f"aliaset {self.alias!r} är reserverat")
        return self

    @property
    def conditions(self) -> list[Condition]:
        return [parse_condition(w) for w in self.where]


class When(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    status: Literal["violation", "warning"] = "violation"
    each: dict[str, str] = {}
    facts: list[FactPattern] = Field(min_length=1)
    emit: dict[str, str]

    @field_validator("emit")
    @classmethod
    def _emit_keys(cls, v: dict[str, str]) -> dict[str, str]:
        allowed = {"event", "meeting", "unit", "due", "actual"}
        unknown = set(v) - allowed
        if unknown:
            raise ValueError(f"okända nycklar i emit: {sorted(unknown)}")
        for key in ("event", "unit", "due"):
            if key not in v:
                raise ValueError(f"emit saknar {key!r}")
        return v


class DraftRouting(BaseModel):
    """Who writes the deviation report to whom (deviations.md). The receiving unit (B) is
    always the finding's `unit`; `affected` names the reporting unit (A):

    - `meeting-convener`: the convener of the finding's meeting;
    - `invitation-recipient`: the recipient of the finding's invitation when it is a unit
      (guardian and child are not units: then the draft is internal);
    - `case-invited-units`: the first unit, in the unit register's order, invited to the
      case's meetings of kind `kinds`, other than B;
    - `none`: no other unit is affected; an internal deviation (intern) to B's own head.
    When A turns out to be B itself, or no unit, the draft is internal too.
    """
    model_config = ConfigDict(extra="forbid")
    affected: Literal["meeting-convener", "invitation-recipient", "case-invited-units", "none"] = "none"
    kinds: list[str] = []


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    version: dt.date
    title: str = Field(min_length=1)
    profiles: list[str] = ["core"]
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    severity: Literal["violation", "warning"] = "violation"
    message: str = Field(min_length=1)
    message_open: str | None = None
    # For a deadline still not met whose day has passed on the as-of date (past tense:
    # "skulle ha hållits senast"); without it, message_open.
    message_past: str | None = None
    sources: list[Source] = Field(min_length=1)
    params: dict[str, Any] = {}
    draft: DraftRouting = DraftRouting()
    when: list[When] = Field(min_length=1)

    # Filled by the loader, not from the file.
    file: str = ""
    sha256: str = ""

    @field_validator("params")
    @classmethod
    def _day_counts(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if key.endswith("_days") and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"parametern {key!r} ska vara ett heltal >= 0, inte {value!r}")
        return v

    @model_validator(mode="after")
    def _check_patterns(self) -> "Rule":
        for w in self.when:
            aliases = {"trig": "trig"}
            for key, param in w.each.items():
                if not isinstance(self.params.get(param), list):
                    raise ValueError(f"when '{w.name}': each.{key} kräver listparametern {param!r}")
            for pat in w.facts:
                for cond in pat.conditions:
                    if cond.field not in FACT_FIELDS[pat.fact]:
                        raise ValueError(f"when '{w.name}': {pat.fact} har inget fält {cond.field!r}")
                    self._check_expr(w, cond.expr, aliases)
                if pat.alias:
                    aliases[pat.alias] = pat.fact
            for key, text in w.emit.items():
                self._check_expr(w, parse_expr(text), aliases)
        return self

    def _check_expr(self, w: When, expr: Expr, aliases: dict[str, str]) -> None:
        for _, term in expr.terms:
            if term[0] == "param" and term[1] not in self.params and term[1] not in w.each:
                raise ValueError(f"when '{w.name}': okänd parameter ${term[1]}")
            if term[0] == "param" and len(expr.terms) > 1 and term[1] in self.params:
                value = self.params[term[1]]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"when '{w.name}': ${term[1]} räknas med och ska vara ett heltal")
            if term[0] == "ref":
                fact = aliases.get(term[1])
                if fact is None:
                    raise ValueError(f"when '{w.name}': okänt alias {term[1]!r}")
                if term[2] not in FACT_FIELDS[fact]:
                    raise ValueError(f"when '{w.name}': {term[1]} ({fact}) har inget fält {term[2]!r}")

    def in_force(self, day: dt.date) -> bool:
        """Whether this rule version was in force on `day` (its profile's validity)."""
        if self.valid_from and day < self.valid_from:
            return False
        if self.valid_to and day > self.valid_to:
            return False
        return True

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version.isoformat(), "title": self.title,
                "sources": [s.model_dump() for s in self.sources], "draft": self.draft.model_dump(),
                "file": self.file,
                "sha256": self.sha256}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(filen)"
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def load_rule(path: Path) -> Rule:
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: regelfilen kan inte läsas: {exc}") from None
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleError(f"{path}: {_describe(exc)}") from None
    if rule.id != path.stem:
        raise RuleError(f"{path}: id {rule.id!r} ska vara filens namn {path.stem!r}")
    return rule.model_copy(update={"file": path.name, "sha256": hashlib.sha256(raw).hexdigest()})


def default_rules_dir() -> Path:
    """The rule files shipped inside the package (`compliance/data/rules`)."""
    from .resources import rules_dir
    return rules_dir()


def load_rules(directory: Path | str | None = None, profile: str = "core") -> list[Rule]:
    """All rule files of a folder that belong to `profile`, sorted by id."""
    directory = Path(directory) if directory else default_rules_dir()
    if not directory.is_dir():
        raise RuleError(f"{directory}: regelmappen finns inte")
    rules = [load_rule(p) for p in sorted(directory.glob("*.toml"))]
    if not rules:
        raise RuleError(f"{directory}: inga regelfiler (*.toml)")
    return [r for r in rules if profile in r.profiles or "core" in r.profiles]


def rules_digest(rules: list[Rule]) -> str:
    h = hashlib.sha256()
    for r in sorted(rules, key=lambda r: r.file):
        h.update(r.file.encode() + b"\0" + r.sha256.encode() + b"\n")
    return h.hexdigest()
