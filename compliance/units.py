"""The unit register (verksamhetsregister): who a unit is and who its manager (chef) is.

Deviation reports are addressed to a unit's manager; a unit that the register does not
know is shown by its id, so that a missing register never stops a scan.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class UnitRegisterError(Exception):
    """The register file cannot be read; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    principal: str | None = None   # huvudman: kommun / region / privat
    kind: str | None = None        # socialtjänst, skola, bup, ...
    manager: str | None = None     # the chef who receives deviation reports


DEFAULT_COOPERATION = {
    "bus_secretariat": "BUS-sekretariatet",
    "steering_group_convener": "Sammankallande för BUS-styrgruppen",
}


def load_units(path: Path | str | None) -> tuple[dict[str, Unit], dict[str, str]]:
    """Read `units.toml` or `units.json`: `[[unit]]` entries and an optional `[cooperation]`."""
    if path is None:
        return {}, dict(DEFAULT_COOPERATION)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise UnitRegisterError(f"{path}: enhetsregistret kan inte läsas: {exc}") from None
    entries = data.get("unit", data.get("units", [])) if isinstance(data, dict) else data
    units: dict[str, Unit] = {}
    for i, entry in enumerate(entries or [], start=1):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise UnitRegisterError(f"{path}: enhet nr {i} saknar 'id'")
        units[str(entry["id"])] = Unit(
            id=str(entry["id"]), name=str(entry.get("name") or entry["id"]),
            principal=entry.get("principal"), kind=entry.get("kind"), manager=entry.get("manager"),
        )
    cooperation = dict(DEFAULT_COOPERATION)
    if isinstance(data, dict) and isinstance(data.get("cooperation"), dict):
        cooperation.update({k: str(v) for k, v in data["cooperation"].items()})
    return units, cooperation


def unit_label(units: dict[str, Unit], unit_id: str | None) -> str:
    """The unit's name, or its id when the register does not know it."""
    if not unit_id:
        return "okänd enhet"
    unit = units.get(unit_id)
    return unit.name if unit else unit_id
