"""Rule files: an obligation as data, in dated versions, next to the sentences it encodes.

A rule file (`compliance/data/rules/<id>.toml`) holds everything an obligation means:

- `id`, `title`, the `profiles` (agreements) it belongs to, and `[draft]`: who writes the
  deviation report to whom (deviations.md);
- `[[version]]`s, as OpenFisca keeps dated parameter values: each with `valid_from` (and
  `valid_to` where it ended), its messages, its `params` and the `sources` it cites from
  the source register (`compliance/sources.py`). An obligation is judged by the version
  in force on its due date; one that fell due when no version was in force gives nothing;
- `[[derive]]`: facts the rule derives for its own use (e.g. the 30-day clock, whose
  deadline is `roll_forward(start + $within_days)`);
- `[[when]]`: the patterns of a breach (status `violation`), of a deadline coming up
  (`warning`), of information (`information`), or of an obligation met (`met`, for the
  replay and the statistics), and what a match reports (`emit`).

A derived fact type may be numbered (`rank`): each fact gets its place, from 1, among the
case's facts of its type in a field's order (within groups of equal fields), so that a
rule finds "the next one" by an equality (`n == x.n + 1`), which durable-rules looks up by
hash, instead of comparing every pair: a case's cost stays close to linear in its events.

Concepts several rules share (which meeting counts, consent in force) are defined once in
`_definitions.toml` beside the rules: derived facts (`[[define]]`) and named patterns
(`[patterns.NAME]`, used in a rule as `{ use = "NAME", arg = "expression" }`).

The condition language is in `compliance/patterns.py`; `compliance/compiler.py` turns all
of this into durable-rules rulesets. Nothing here runs. A key the engine does not honour
is an error naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .patterns import PatternError, parse_condition, parse_expr

STATUSES = ("violation", "warning", "information", "met")
EMIT_KEYS = ("event", "meeting", "unit", "due", "actual", "to", "ref")   # `to`, `ref`: for the message only
DEFINITIONS_FILE = "_definitions.toml"


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- patterns ---------------------------------------------------------------------------------

class FactPattern(_Strict):
    """One fact of a pattern: `{ as = "h", fact = "meeting.held", where = [...] }`, a
    negation `{ none = true, fact = ..., where = [...] }`, or the use of a named pattern
    `{ use = "consent-in-force", day = "h.day" }`."""
    alias: str | None = Field(default=None, alias="as")
    fact: str | None = None
    none: bool = False
    where: list[str] = []
    use: str | None = None
    args: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _split_use(cls, data: Any) -> Any:
        if isinstance(data, dict) and "use" in data:
            known = {"use", "as"}
            return {"use": data["use"], "as": data.get("as"),
                    "args": {k: v for k, v in data.items() if k not in known}}
        return data

    @model_validator(mode="after")
    def _shape(self) -> "FactPattern":
        if self.use is not None:
            if self.alias in ("s", "m", "trig", "sid", "id"):
                raise ValueError(f"aliaset {self.alias!r} är reserverat")
            return self
        if not self.fact:
            raise ValueError("ett faktum behöver `fact` (eller `use`)")
        if not self.none and not self.alias:
            raise ValueError("ett faktum som inte är `none` behöver `as`")
        if self.none and self.alias:
            raise ValueError("ett `none`-faktum kan inte ha `as`")
        if self.alias in ("s", "m", "trig", "sid", "id"):
            raise ValueError(f"aliaset {self.alias!r} är reserverat")
        for text in self.where:
            if "{" in text:
                continue      # a named pattern's argument: checked where the pattern is used
            try:
                parse_condition(text)
            except PatternError as exc:
                raise ValueError(str(exc)) from None
        return self


def _check_exprs(values: dict[str, str]) -> dict[str, str]:
    for key, text in values.items():
        try:
            parse_expr(text)
        except PatternError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return values


class Rank(_Strict):
    """A numbering of a derived fact type. The case's facts of the type with the same
    values of `within` are put in the order of `order` (facts equal there in the order of
    their other fields); `field` is then the fact's place in that order, from 1, or with
    `where` (`{ given = 1 }`) the number of facts up to and including it that have those
    values. `before` and `after` copy fields of the fact just before and just after it in
    the order into fields of this one (`missing` where there is none): `{ prev_day = "day" }`.
    `order`, `within`, `where` and the copied fields name fields of the fact's `set`."""
    field: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    order: str
    within: list[str] = []
    where: dict[str, int | str] = {}
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    missing: int = 0

    def new_fields(self) -> list[str]:
        return [self.field, *self.before, *self.after]


class Derive(_Strict):
    """A derived fact: each match of `facts` yields one fact of type `fact` with the
    fields of `set` (expressions over the match), and the numbers of `rank`. Several
    derives may yield one type (alternatives)."""
    fact: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    name: str = Field(default="", pattern=r"^[a-z0-9-]*$")
    doc: str = ""
    export: str = ""     # listed in the case summary (cases.jsonl) under this name
    facts: list[FactPattern] = Field(min_length=1)
    set: dict[str, str] = Field(min_length=1)
    rank: list[Rank] = []

    @field_validator("set")
    @classmethod
    def _exprs(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_exprs(v)

    @model_validator(mode="after")
    def _ranks(self) -> "Derive":
        made = [name for r in self.rank for name in r.new_fields()]
        for r in self.rank:
            for name in r.new_fields():
                if name in self.set or made.count(name) > 1:
                    raise ValueError(f"rank: fältet {name!r} finns redan")
            for name in (r.order, *r.within, *r.where, *r.before.values(), *r.after.values()):
                if name not in self.set:
                    raise ValueError(f"rank: {name!r} är inget fält i set ({', '.join(self.set)})")
        return self


class When(_Strict):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    status: Literal["violation", "warning", "information", "met"] = "violation"
    doc: str = ""
    each: dict[str, str] = {}
    facts: list[FactPattern] = Field(min_length=1)
    emit: dict[str, str]

    @field_validator("emit")
    @classmethod
    def _emit_keys(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(EMIT_KEYS)
        if unknown:
            raise ValueError(f"okända nycklar i emit: {sorted(unknown)} (kända: {', '.join(EMIT_KEYS)})")
        for key in ("event", "unit", "due"):
            if key not in v:
                raise ValueError(f"emit saknar {key!r}")
        return _check_exprs(v)


class NamedPattern(_Strict):
    """A pattern defined once and used by name; `alternatives` are OR-ed (each becomes a
    rule of its own: durable-rules cannot join with `|`). `{arg}` in a condition is
    replaced by the expression the user passes."""
    doc: str = ""
    args: list[str] = []
    alternatives: list[list[FactPattern]] = Field(min_length=1)


# --- versions, sources, routing ------------------------------------------------------------------

class Citation(_Strict):
    """A source a rule version rests on: an entry of the source register, the section,
    and the sentence quoted as it stands there."""
    ref: str = Field(min_length=1)
    section: str | None = None
    in_force_from: dt.date | None = None     # for law: "i lydelse från"
    quote: str | None = None


class Version(_Strict):
    valid_from: dt.date
    valid_to: dt.date | None = None
    message: str = Field(min_length=1)
    message_open: str | None = None          # a violation with nothing done (no `actual`)
    message_warning: str | None = None
    message_information: str | None = None
    message_met: str | None = None
    messages: dict[str, str] = {}            # a pattern's (`when` name) own message
    sources: list[Citation] = Field(min_length=1)
    params: dict[str, Any] = {}

    @field_validator("params")
    @classmethod
    def _day_counts(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if key.endswith("_days") and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"parametern {key!r} ska vara ett heltal >= 0, inte {value!r}")
        return v

    @model_validator(mode="after")
    def _period(self) -> "Version":
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} ligger före valid_from {self.valid_from}")
        return self

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def message_for(self, status: str, done: bool, when: str = "") -> str:
        if when in self.messages:
            return self.messages[when]
        if status == "violation":
            return self.message if done else (self.message_open or self.message)
        return getattr(self, f"message_{status}") or self.message


class DraftRouting(_Strict):
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
    affected: Literal["meeting-convener", "invitation-recipient", "case-invited-units", "none"] = "none"
    kinds: list[str] = []


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=1)
    doc: str = ""
    profiles: list[str] = ["core"]
    draft: DraftRouting = DraftRouting()
    version: list[Version] = Field(min_length=1)
    derive: list[Derive] = []
    when: list[When] = Field(min_length=1)

    # Filled by the loader, not from the file.
    file: str = ""
    sha256: str = ""

    @model_validator(mode="after")
    def _messages(self) -> "Rule":
        """Every status a pattern reports has its own wording in every version (a met
        obligation must never be told in a breach's words)."""
        for w in self.when:
            if w.status == "violation":
                continue
            for v in self.version:
                if w.name not in v.messages and getattr(v, f"message_{w.status}") is None:
                    raise ValueError(f"version {v.valid_from}: message_{w.status} saknas "
                                     f"(mönstret {w.name!r} har status {w.status!r})")
        return self

    @model_validator(mode="after")
    def _versions(self) -> "Rule":
        versions = sorted(self.version, key=lambda v: v.valid_from)
        for a, b in zip(versions, versions[1:]):
            if a.valid_to is None or a.valid_to >= b.valid_from:
                raise ValueError(f"versionerna {a.valid_from} och {b.valid_from} överlappar "
                                 f"(sätt valid_to på den äldre)")
            if set(a.params) != set(b.params):
                raise ValueError(f"versionerna {a.valid_from} och {b.valid_from} har olika parametrar")
        self.version = versions
        return self

    def version_on(self, day: dt.date) -> Version | None:
        """The version in force on `day`, or None."""
        return next((v for v in self.version if v.in_force(day)), None)

    def summary(self) -> dict[str, Any]:
        """The rule as the manifest and the reports show it."""
        from .sources import describe
        return {"id": self.id, "title": self.title, "file": self.file, "sha256": self.sha256,
                "draft": self.draft.model_dump(),
                "versions": [{"valid_from": v.valid_from.isoformat(),
                              "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                              "params": v.params, "sources": [describe(c) for c in v.sources]}
                             for v in self.version]}


class Definitions(_Strict):
    """The shared concepts (`_definitions.toml`)."""
    doc: str = ""
    define: list[Derive] = []
    patterns: dict[str, NamedPattern] = {}

    file: str = ""
    sha256: str = ""


@dataclass
class RuleSet:
    """Every rule of a rules folder, with the shared definitions they use."""
    folder: str
    rules: list[Rule]
    definitions: Definitions
    files: list[tuple[str, str]] = field(default_factory=list)   # (file name, sha256)

    def digest(self) -> str:
        h = hashlib.sha256()
        for name, sha in sorted(self.files):
            h.update(name.encode() + b"\0" + sha.encode() + b"\n")
        return h.hexdigest()

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# --- loading ------------------------------------------------------------------------------------

_MESSAGES = {
    "extra_forbidden": "okänd nyckel (motorn använder den inte)",
    "missing": "saknas",
    "string_type": "ska vara text",
    "list_type": "ska vara en lista",
    "dict_type": "ska vara en tabell",
    "date_from_datetime_parsing": "ska vara ett datum ÅÅÅÅ-MM-DD",
    "date_type": "ska vara ett datum ÅÅÅÅ-MM-DD",
    "date_parsing": "ska vara ett datum ÅÅÅÅ-MM-DD",
    "too_short": "får inte vara tom",
    "string_too_short": "får inte vara tom",
    "literal_error": "otillåtet värde",
    "string_pattern_mismatch": "otillåtna tecken (a–z, 0–9, -)",
}


def describe_error(exc: ValidationError) -> str:
    """A pydantic error as Swedish text naming each key."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(filen)"
        if err["type"] == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            msg = _MESSAGES.get(err["type"], err["msg"])
            if err["type"] == "literal_error":
                msg += f" (tillåtna: {err.get('ctx', {}).get('expected', '')})"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _load(path: Path, model: type[_Strict]) -> Any:
    """A TOML file as `model`, with its file name and digest; errors name file and key."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: regelfilen kan inte läsas: {exc}") from None
    try:
        loaded = model.model_validate(data)
    except ValidationError as exc:
        raise RuleError(f"{path}: {describe_error(exc)}") from None
    return loaded.model_copy(update={"file": path.name, "sha256": hashlib.sha256(raw).hexdigest()})


def load_rule(path: Path) -> Rule:
    rule = _load(path, Rule)
    if rule.id != path.stem:
        raise RuleError(f"{path}: id {rule.id!r} ska vara filens namn {path.stem!r}")
    return rule


def load_definitions(path: Path) -> Definitions:
    return _load(path, Definitions)


def default_rules_dir() -> Path:
    """The rule files shipped inside the package (`compliance/data/rules`)."""
    from .resources import rules_dir
    return rules_dir()


def load_ruleset(directory: Path | str | None = None) -> RuleSet:
    """Every rule file of a folder and its `_definitions.toml`, checked against each other
    and against the source register (a rule that uses an unknown fact, field, parameter,
    pattern or source is an error naming the file)."""
    directory = Path(directory) if directory else default_rules_dir()
    if not directory.is_dir():
        raise RuleError(f"{directory}: regelmappen finns inte")
    rules = [load_rule(p) for p in sorted(directory.glob("*.toml")) if not p.name.startswith("_")]
    if not rules:
        raise RuleError(f"{directory}: inga regelfiler (*.toml)")
    defs_path = directory / DEFINITIONS_FILE
    definitions = load_definitions(defs_path) if defs_path.is_file() else Definitions()
    files = [(r.file, r.sha256) for r in rules]
    if definitions.file:
        files.append((definitions.file, definitions.sha256))
    ruleset = RuleSet(str(directory), rules, definitions, files)
    from .sources import check_citations
    from .compiler import check_ruleset
    for rule in rules:
        check_citations(rule, directory / rule.file)
    check_ruleset(ruleset)
    return ruleset
