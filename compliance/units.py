"""The unit register (verksamhetsregister): who a unit is and who its manager (chef) is.

Deviation reports are addressed to a unit's manager; a unit that the register does not
know is shown by its id, so that a missing register never stops a scan. Case systems
often write a unit by its name (`Björkhagens skola`) rather than its id
(`skola-bjorkhagen`): a value that equals a unit's name or one of its `aliases`
(ignoring case and spaces) is read as its id (`UnitResolver`), and the units the log
names that the register does not know are listed, so that the register can be completed.

This is the one unit model of the project: the drafts, the reports and the readers of
the log all take their units from `UnitRegister`.
"""

from __future__ import annotations

import json
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .privacy import clean_text, quote


class UnitRegisterError(Exception):
    """The register file cannot be read; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    principal: str | None = None   # huvudman: kommun / region / privat
    kind: str | None = None        # socialtjänst, skola, bup, ...
    manager: str | None = None     # the chef who receives deviation reports
    aliases: tuple[str, ...] = ()  # other spellings the case systems use (e.g. the name)


DEFAULT_COOPERATION = {
    "bus_secretariat": "BUS-sekretariatet",
    "steering_group_convener": "Sammankallande för BUS-styrgruppen",
}
UNKNOWN_UNIT = "okänd enhet"
# Recipients of an invitation that are people, not units (event-log.md).
NOT_UNITS = frozenset({"guardian", "child"})


def name_key(text: str) -> str:
    """A unit name as compared: case, spaces and Unicode composition ignored."""
    text = unicodedata.normalize("NFC", text.replace("\ufeff", ""))
    return "".join(text.split()).casefold()


@dataclass
class UnitRegister:
    """The register as everything uses it: units by id, the cooperation contacts (BUS
    secretariat, steering group convener), and names and aliases to read ids by."""

    units: dict[str, Unit] = field(default_factory=dict)
    cooperation: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COOPERATION))
    path: Path | None = None
    by_name: dict[str, str] = field(default_factory=dict)   # name_key(name or alias) -> id

    def __bool__(self) -> bool:
        """Whether there is a register at all (without one, no unit is 'unknown')."""
        return self.path is not None or bool(self.units)

    def get(self, unit_id: str | None) -> Unit | None:
        return self.units.get(unit_id or "")

    def label(self, unit_id: str | None) -> str:
        """The unit's name for people, or its id when the register does not know it
        (safe for any report: no personal number)."""
        if not unit_id:
            return UNKNOWN_UNIT
        unit = self.units.get(unit_id)
        return clean_text(unit.name if unit and unit.name else unit_id)

    def manager(self, unit_id: str | None) -> str:
        unit = self.units.get(unit_id or "")
        return clean_text(unit.manager) if unit and unit.manager else ""

    def principal(self, unit_id: str | None) -> str:
        unit = self.units.get(unit_id or "")
        return clean_text(unit.principal) if unit and unit.principal else ""

    def kind(self, unit_id: str | None) -> str:
        unit = self.units.get(unit_id or "")
        return clean_text(unit.kind) if unit and unit.kind else ""

    def as_dict(self, unit_id: str | None) -> dict[str, str]:
        return {"id": clean_text(unit_id), "name": self.label(unit_id),
                "manager": self.manager(unit_id), "principal": self.principal(unit_id),
                "kind": self.kind(unit_id)}

    @property
    def bus_secretariat(self) -> str:
        return clean_text(self.cooperation.get("bus_secretariat") or DEFAULT_COOPERATION["bus_secretariat"])

    @property
    def steering_group_convener(self) -> str:
        return clean_text(self.cooperation.get("steering_group_convener")
                          or DEFAULT_COOPERATION["steering_group_convener"])

    def resolve(self, value: str) -> str | None:
        """The id a value names: the id itself, or the id whose name or alias it equals
        (ignoring case and spaces); None when the register does not know it."""
        if value in self.units:
            return value
        return self.by_name.get(name_key(value))

    def resolver(self, strict: bool = False) -> "UnitResolver":
        return UnitResolver(self, strict)


def load_register(path: Path | str | None) -> UnitRegister:
    """Read `units.toml` or `units.json`: `[[unit]]` entries (`id`, `name`, `principal`,
    `kind`, `manager`, `aliases`) and an optional `[cooperation]`. No path: an empty
    register (reports fall back to ids)."""
    if path is None:
        return UnitRegister()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise UnitRegisterError(f"{path}: enhetsregistret kan inte läsas: {exc}") from None
    entries = data.get("unit", data.get("units", [])) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UnitRegisterError(f"{path}: 'unit' ska vara en lista av enheter")
    units: dict[str, Unit] = {}
    by_name: dict[str, str] = {}
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise UnitRegisterError(f"{path}: enhet nr {i} saknar 'id'")
        uid = str(entry["id"])
        aliases = entry.get("aliases", [])
        if isinstance(aliases, str):
            aliases = [aliases]
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise UnitRegisterError(f"{path}: enhet {quote(uid)}: 'aliases' ska vara en lista av namn")
        if uid in units:
            raise UnitRegisterError(f"{path}: enhet {quote(uid)} finns två gånger")
        unit = Unit(id=uid, name=str(entry.get("name") or uid), principal=entry.get("principal"),
                    kind=entry.get("kind"), manager=entry.get("manager"), aliases=tuple(aliases))
        units[uid] = unit
    # Ids first: a name or alias never takes an id away from the unit that has it.
    for uid in units:
        by_name[name_key(uid)] = uid
    for uid, unit in units.items():
        for spelling in (unit.name, *unit.aliases):
            key = name_key(spelling)
            other = by_name.setdefault(key, uid)
            if other != uid and key != name_key(other):
                raise UnitRegisterError(
                    f"{path}: namnet {quote(spelling)} hör till både {quote(other)} och {quote(uid)}")
    cooperation = dict(DEFAULT_COOPERATION)
    if isinstance(data, dict) and isinstance(data.get("cooperation"), dict):
        cooperation.update({k: str(v) for k, v in data["cooperation"].items()})
    return UnitRegister(units=units, cooperation=cooperation, path=path, by_name=by_name)


def load_units(path: Path | str | None) -> tuple[dict[str, Unit], dict[str, str]]:
    """The register as (units by id, cooperation contacts) (see `load_register`)."""
    register = load_register(path)
    return register.units, register.cooperation


def unit_label(units: dict[str, Unit], unit_id: str | None) -> str:
    """The unit's name, or its id when the register does not know it."""
    if not unit_id:
        return UNKNOWN_UNIT
    unit = units.get(unit_id)
    return unit.name if unit else unit_id


# The fields of an event that hold unit ids (event-log.md); `to` may also be a person.
UNIT_FIELDS = ("unit", "to", "attendees", "scope", "from")


class UnitResolver:
    """Reads the unit fields of events against the register: a unit's name or alias
    becomes its id, and the units the register does not know are counted (`unknown`).

    With `strict`, an unknown unit makes the event a reject (`problem` says which field).
    Without a register nothing is resolved and nothing is unknown. One resolver serves a
    whole import or scan, so that `unknown` lists every file's units.
    """

    def __init__(self, register: UnitRegister | None = None, strict: bool = False) -> None:
        self.register = register if register is not None else UnitRegister()
        self.active = bool(self.register)
        self.strict = strict and self.active
        self.unknown: Counter[str] = Counter()
        self._cache: dict[str, str | None] = {}

    def unit(self, value: Any) -> tuple[Any, bool]:
        """(the id `value` names, whether the register knows it). Non-text values and
        people (`guardian`, `child`) pass unchanged and count as known."""
        if not self.active or type(value) is not str or not value or value in NOT_UNITS:
            return value, True
        got = self._cache.get(value, "")
        if got == "":
            got = self.register.resolve(value)
            if len(self._cache) < 100_000:
                self._cache[value] = got
        if got is None:
            return value, False
        return got, True

    def _resolve(self, name: str, value: Any) -> tuple[Any, tuple[str, str] | None]:
        """One unit field's value (text or a list) with ids for names; the first unknown
        unit in it as (field, value), noted in `unknown`."""
        if type(value) is not list:
            got, known = self.unit(value)
            if known:
                return got, None
            self.unknown[value] += 1
            return got, (name, value)
        items, problem = [], None
        for i, item in enumerate(value):
            got, known = self.unit(item)
            items.append(got)
            if not known:
                self.unknown[item] += 1
                problem = problem or (f"{name}[{i}]", item)
        return items, problem

    def resolve_fields(self, data: dict[str, Any]) -> tuple[str, str] | None:
        """Resolve the unit fields of an event in canonical shape (a dict, changed in
        place); unknown units are noted. With `strict`, returns the first unknown unit as
        (field, value), e.g. ('attendees[1]', 'BUP Farst'), for the reject (`reason`)."""
        if not self.active:
            return None
        problem = None
        for name in UNIT_FIELDS:
            value = data.get(name)
            if value is not None:
                data[name], unknown = self._resolve(name, value)
                problem = problem or unknown
        return problem if self.strict else None

    def resolve_event(self, event: Any) -> tuple[Any, tuple[str, str] | None]:
        """The same for a validated event model (frozen): (the event with ids for names
        where the register has them, or the event itself when nothing changed; None or,
        with `strict`, the first unknown unit as (field, value))."""
        if not self.active:
            return event, None
        data = event.__dict__
        extra = event.__pydantic_extra__ or {}
        changes: dict[str, Any] = {}
        problem = None
        for name in UNIT_FIELDS:
            attr = "from_" if name == "from" else name
            value = data[attr] if attr in data else extra.get(name)
            if value is not None:
                got, unknown = self._resolve(name, value)
                if got != value:
                    changes[attr] = got
                problem = problem or unknown
        if changes:
            event = event.model_copy(update=changes)   # extra fields go to the copy's extras
        return event, (problem if self.strict else None)

    @staticmethod
    def reason(where: str, value: Any) -> str:
        """The reject reason for an unknown unit under --strict-units; `where` names the
        field (`fält 'unit'`, `kolumn 'Enhet'`, `attribut 'org:resource'`)."""
        return f"{where}: okänd verksamhet {quote(value)} (finns inte i enhetsregistret)"

    def unknown_units(self) -> list[str]:
        """The unknown units seen, sorted, each as it was written (for the summary and the
        manifest; safe: no personal number)."""
        return sorted(clean_text(u) for u in self.unknown)

    def summary_line(self) -> str | None:
        """'okända verksamheter (finns inte i enhetsregistret): a, b' or None."""
        names = self.unknown_units()
        if not names:
            return None
        return f"okända verksamheter (finns inte i enhetsregistret): {', '.join(names)}"
