"""What a mapping may name: the event types and their fields, read off the event models.

The pydantic models in `compliance.events` are the one schema of an event. The importer
needs to know the same things before a row becomes a candidate event: which types exist,
which fields each has and needs, which values a closed field allows (händelsetyp,
mötestyp, kanal, ...). All of it is derived here from those models, so that a field or a
type added to a model is known to every mapping at once and no list can drift from it.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ..events import EVENT_MODELS, NOT_IDENTITY
from ..units import UNIT_FIELDS as UNIT_REGISTER_FIELDS

# Inputs of an export that are not event fields: a separate time column, the child's
# personal number (becomes child.birth_date/gender/pseudonym) and a free comment.
IMPORTER_INPUTS = ("at_time", "personnummer", "comment")
# Fields with their own conversion in `rows.RowConverter`; any other [columns] key is a
# plain text field (dotted keys such as "child.initials" make nested objects).
SPECIAL_FIELDS = (
    "id", "case", "type", "at", "at_time", "personnummer", "unit", "meeting", "kind",
    "date", "to", "channel", "attendees", "comment",
)
# The fields every mapping must have a column for (the rest of an event's identity).
REQUIRED_COLUMNS = ("case", "type", "at")
# Fields that hold unit ids: the unit register's own, and a plan's follow-up convener;
# a mapping's [values.unit] table applies to all of them.
UNIT_FIELDS = frozenset(UNIT_REGISTER_FIELDS) | {"follow_up.convener"}
# Mapped fields that are not part of what an event is (events.content_key): the importer
# sets them apart so that the fields of the identity come first. A comment is one too.
FREE_FIELDS = NOT_IDENTITY | {"comment"}


def _type_of(model: type[BaseModel]) -> str:
    return get_args(model.model_fields["type"].annotation)[0]


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields by the name an event uses (`from`, not `from_`) -> annotation."""
    return {f.alias or name: f.annotation for name, f in model.model_fields.items()}


def _choices(annotation: Any) -> tuple[str, ...] | None:
    """The values of a Literal field (also inside `X | None`); None for any other field."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        found = [_choices(a) for a in get_args(annotation) if a is not type(None)]
        if found and all(c is not None for c in found):
            return tuple(v for c in found for v in c)
    return None


def _parts(annotation: Any) -> list[Any]:
    """`X | None` -> [X]; anything else -> [it]."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_model(a: Any) -> bool:
    return isinstance(a, type) and issubclass(a, BaseModel)


def _is_dict(a: Any) -> bool:
    return a is dict or get_origin(a) is dict


def _is_text_list(a: Any) -> bool:
    return get_origin(a) is list and get_args(a) == (str,)


EVENT_TYPES: tuple[str, ...] = tuple(_type_of(m) for m in EVENT_MODELS)
# type -> its fields; and the nested models (the child) by the field that holds them
_FIELDS = {_type_of(m): _fields(m) for m in EVENT_MODELS}
_NESTED: dict[str, dict[str, Any]] = {}
_OPEN_OBJECTS: set[str] = set()     # objects of any shape (a plan's follow_up)
for _fs in _FIELDS.values():
    for _name, _ann in _fs.items():
        for _part in _parts(_ann):
            if _is_model(_part):
                _NESTED[_name] = _fields(_part)
            elif _is_dict(_part):
                _OPEN_OBJECTS.add(_name)


def _closed_values() -> dict[str, tuple[str, ...]]:
    """Field -> its allowed values, for a field that is a Literal in every model that has
    it (the type too: each model's own type is a Literal of one value)."""
    seen: dict[str, list[Any]] = {}
    for name, fields in [*_FIELDS.items(), *((f"{k}.", v) for k, v in _NESTED.items())]:
        prefix = name if name.endswith(".") else ""
        for fld, ann in fields.items():
            seen.setdefault(prefix + fld, []).append(_choices(ann))
    out: dict[str, tuple[str, ...]] = {}
    for fld, choices in seen.items():
        if all(c is not None for c in choices):
            out[fld] = tuple(dict.fromkeys(v for c in choices for v in c))
    return out


# Value tables whose unlisted values reject the row (closed vocabularies):
# type, kind, channel, by, form, child.gender.
CLOSED_VALUES: dict[str, tuple[str, ...]] = _closed_values()
# Fields that are a list of texts in every model that has them (attendees, scope).
LIST_FIELDS = frozenset(
    fld for fld in {f for fs in _FIELDS.values() for f in fs}
    if all(_is_text_list(p) for fs in _FIELDS.values() if fld in fs for p in _parts(fs[fld])))


# What an event type needs besides case/type/at (the model's required fields), checked
# by the importer so that the reason names the export's column rather than the field.
NEEDS: dict[str, tuple[str, ...]] = {
    _type_of(m): tuple(f.alias or name for name, f in m.model_fields.items()
                       if f.is_required() and (f.alias or name) not in ("id", "case", "type", "at"))
    for m in EVENT_MODELS
}
NEEDS = {t: need for t, need in NEEDS.items() if need}
# Required lists that a blank column leaves empty (a meeting held with no one listed):
# an empty list is a value, not a missing one.
EMPTY_LISTS: dict[str, tuple[str, ...]] = {
    t: tuple(f for f in need if f in LIST_FIELDS) for t, need in NEEDS.items()
    if any(f in LIST_FIELDS for f in need)}


def known_field(name: str) -> bool:
    """Whether a mapping may name `name` in [columns]: a field of some event type, a
    field of a nested object (`child.initials`; any key of an open object such as
    `follow_up.date`), or one of the importer's own inputs (`personnummer`)."""
    if name in IMPORTER_INPUTS:
        return True
    top, _, sub = name.partition(".")
    if not any(top in fields for fields in _FIELDS.values()):
        return False
    if not sub:
        return True
    return top in _OPEN_OBJECTS or sub in _NESTED.get(top, {})
