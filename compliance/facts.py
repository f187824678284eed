"""A case's events as facts for the rules engine, in their order, and nothing decided.

Python prepares what a rules engine cannot: the events of a case in their order (date,
time, input order; events dated after the as-of date left out), dates as day ordinals
(`date.toordinal()`, so that rules compare plain integers), and one fact per element of a
list field. Which meeting counts, when consent is in force, when a clock starts: all of
that is in the rule files (`compliance/data/rules/`), decided by durable-rules.

The facts of an event have its type as their type (`t`), e.g. `meeting.held`, with
- `e` (the event's id), `seq` (its place in the case, from 1), `day` (its Stockholm date),
  `time` (seconds after local midnight, -1 for a date only) and `unit`;
- each field of its type in the event log (`meeting`, `kind`, `to`, `date`, …); a date as
  a day ordinal, a missing text as "" and a missing date as 0; the fields of an object
  flattened with `_` (`child_gender`, `follow_up_date`);
- for a list field, one fact of type `<event type>:<field>` per element, with `of` (the
  event's `seq`) and `value` (a text) or the element's own fields (an object);
- for a text field, the features a rule asks of it (`text__personal_number`, see
  `compliance.textfeatures`): 1 or 0, never the text.
Besides the events, the calendar: one `term` fact per half-year (termin: spring January–June,
autumn July–December) from the case's first event to the as-of date, with `start`, `end`,
`year`, `half` (1 or 2) and `label` ("2005-vt", "2005-ht").
Only the fact types and fields some rule uses are made (`needs`).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# A compact event, as the engine's workers receive it (a JSON array, decoded as a list):
# [order, id, type, date ordinal, seconds or -1, unit, fields]; dates in `fields` are ordinals.
CompactEvent = list[Any]

COMMON_FIELDS = frozenset({"e", "seq", "day", "time", "unit"})
_NOT_FIELDS = {"id", "case", "at", "type", "unit"}


@dataclass(frozen=True)
class FactType:
    """A kind of base fact: an event type, or the elements of one of its list fields."""
    name: str
    fields: frozenset[str] | None      # None: any field (elements that are objects)
    dates: frozenset[str]              # the fields that hold dates (as day ordinals)
    prefixes: tuple[str, ...] = ()     # flattened free-form objects: any `<prefix>_<key>`

    def has(self, field: str) -> bool:
        from .textfeatures import split
        feature = split(field)
        if feature is not None:
            field = feature[0]
        if self.fields is None or field in self.fields:
            return True
        return any(field.startswith(p + "_") for p in self.prefixes)


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


@lru_cache(maxsize=1)
def fact_types() -> dict[str, FactType]:
    """The base fact types, derived from the event models (compliance/events.py): one
    schema of the input, never written twice."""
    from pydantic import BaseModel

    from .events import EVENT_MODELS
    out: dict[str, FactType] = {}
    for model in EVENT_MODELS:
        etype = typing.get_args(model.model_fields["type"].annotation)[0]
        fields, dates, prefixes = set(COMMON_FIELDS), set(), []
        for name, info in model.model_fields.items():
            if name in _NOT_FIELDS:
                continue
            key = info.alias or name
            ann = _unwrap(info.annotation)
            origin = typing.get_origin(ann)
            if origin is list:
                (item,) = typing.get_args(ann) or (str,)
                item = _unwrap(item)
                if typing.get_origin(item) is dict or item is dict:
                    out[f"{etype}:{key}"] = FactType(f"{etype}:{key}", None, frozenset({"date"}))
                else:
                    out[f"{etype}:{key}"] = FactType(f"{etype}:{key}", frozenset({"of", "value"}), frozenset())
            elif isinstance(ann, type) and issubclass(ann, BaseModel):
                for sub, subinfo in ann.model_fields.items():
                    fields.add(f"{key}_{sub}")
                    if _unwrap(subinfo.annotation) is dt.date:
                        dates.add(f"{key}_{sub}")
                prefixes.append(key)
            elif origin is dict or ann is dict:
                prefixes.append(key)
            else:
                fields.add(key)
                if ann is dt.date:
                    dates.add(key)
        out[etype] = FactType(etype, frozenset(fields), frozenset(dates), tuple(prefixes))
    out["term"] = FactType("term", frozenset({"start", "end", "year", "half", "label"}), frozenset({"start", "end"}))
    return out


def terms(first: int, last: int) -> list[dict[str, Any]]:
    """The half-years (terminer) from the one holding day `first` to the one holding `last`."""
    a, b = dt.date.fromordinal(first), dt.date.fromordinal(last)
    out = []
    year, half = a.year, 1 if a.month <= 6 else 2
    while (year, half) <= (b.year, 1 if b.month <= 6 else 2):
        start = dt.date(year, 1 if half == 1 else 7, 1)
        end = dt.date(year, 6, 30) if half == 1 else dt.date(year, 12, 31)
        out.append({"t": "term", "start": start.toordinal(), "end": end.toordinal(), "year": year, "half": half,
                    "label": f"{year}-{'vt' if half == 1 else 'ht'}"})     # vårtermin, hösttermin
        year, half = (year, 2) if half == 1 else (year + 1, 1)
    return out


def order_events(events: list[CompactEvent], as_of: dt.date) -> list[CompactEvent]:
    """The case's events by date, then time, then input order; later than as-of dropped.

    A date-only event counts as the start of its day (before any timed event that day).
    """
    limit = as_of.toordinal()
    kept = [e for e in events if e[3] <= limit]
    kept.sort(key=lambda e: (e[3], e[4], e[0]))
    return kept


def _date_value(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).toordinal()
        except ValueError:
            return 0
    return 0


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(sub, (str, int, float, bool)) or sub is None:
                out[f"{prefix}_{key}"] = sub


def _feature(field: str, value: Any) -> int:
    from .textfeatures import FEATURES, split
    _, feature = split(field) or ("", "")
    return FEATURES[feature](value) if isinstance(value, str) and value else 0


def event_facts(ordered: list[CompactEvent], needs: dict[str, frozenset[str]],
                as_of: dt.date | None = None) -> tuple[list[dict[str, Any]], list[str | None]]:
    """The facts of a case's ordered events that the rules use, and for each fact the id
    of the event it comes from (its evidence; None for a calendar fact). Fact ids are left
    to the caller."""
    types_ = fact_types()
    facts: list[dict[str, Any]] = []
    sources: list[str | None] = []
    if "term" in needs and ordered and as_of is not None:
        for term in terms(ordered[0][3], as_of.toordinal()):
            facts.append(term)
            sources.append(None)
    for seq, (_, eid, etype, day, secs, unit, f) in enumerate(ordered, start=1):
        wanted = needs.get(etype)
        if wanted is not None:
            ft = types_[etype]
            fact: dict[str, Any] = {"t": etype}
            flat: dict[str, Any] | None = None
            for name in wanted:
                if name == "e":
                    fact["e"] = eid
                elif name == "seq":
                    fact["seq"] = seq
                elif name == "day":
                    fact["day"] = day
                elif name == "time":
                    fact["time"] = secs
                elif name == "unit":
                    fact["unit"] = unit or ""
                elif name in f:
                    value = f[name]
                    fact[name] = _date_value(value) if name in ft.dates else ("" if value is None else value)
                elif "__" in name:
                    fact[name] = _feature(name, f.get(name.partition("__")[0]))
                else:
                    if flat is None:
                        flat = {}
                        for prefix in ft.prefixes:
                            _flat(prefix, f.get(prefix), flat)
                    value = flat.get(name)
                    fact[name] = _date_value(value) if (name in ft.dates or name.endswith("_date")) \
                        else ("" if value is None else value)
            facts.append(fact)
            sources.append(eid)
        for key, items in f.items():
            child = f"{etype}:{key}"
            wanted = needs.get(child)
            if wanted is None or not isinstance(items, list):
                continue
            if all(isinstance(i, str) for i in items):
                items = list(dict.fromkeys(items))     # a unit listed twice attended once
            for item in items:
                if isinstance(item, dict):
                    fact = {"t": child, "of": seq}
                    for name in wanted:
                        if name != "of":
                            value = item.get(name)
                            fact[name] = _date_value(value) if name == "date" or name.endswith("_date") \
                                else ("" if value is None else value)
                else:
                    fact = {"t": child, "of": seq, "value": "" if item is None else item}
                facts.append(fact)
                sources.append(eid)
    return facts, sources
