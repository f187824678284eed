"""Reading a scan folder and the unit register for the reports.

Everything a report shows passes through :func:`clean_text`: it drops characters XML
cannot hold and blanks anything shaped like a Swedish personal number, so that no report
ever carries one even if an export put one where a pseudonym belongs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..dates_sv import to_date
from ..vocabulary import EVENT_NAMES_SV as EVENT_TYPES_SV, STATUS_SV  # noqa: F401 (re-exported)
from ..privacy import PERSONAL_NUMBER_RE, REDACTED, clean, clean_text, safe_name  # noqa: F401 (re-exported)

REQUIRED_FILES = ("manifest.json", "findings.jsonl")

DEFAULT_SECRETARIAT = "BUS-sekretariatet"
DEFAULT_CONVENER = "Sammankallande för BUS-styrgruppen"



class NotAScanFolder(Exception):
    """The folder given is not the output of `compliance scan`."""




@dataclass(frozen=True)
class UnitInfo:
    id: str
    name: str
    manager: str = ""
    principal: str = ""
    kind: str = ""


@dataclass
class Register:
    """The unit register as the reports use it; unknown units fall back to their ids."""

    units: dict[str, UnitInfo] = field(default_factory=dict)
    bus_secretariat: str = DEFAULT_SECRETARIAT
    steering_group_convener: str = DEFAULT_CONVENER
    raw_units: dict = field(default_factory=dict)
    raw_cooperation: dict = field(default_factory=dict)

    def label(self, unit_id: str | None) -> str:
        if not unit_id:
            return "okänd enhet"
        info = self.units.get(unit_id)
        return clean_text(info.name if info and info.name else unit_id)

    def manager(self, unit_id: str | None) -> str:
        info = self.units.get(unit_id or "")
        return clean_text(info.manager) if info else ""

    def as_dict(self, unit_id: str | None) -> dict:
        return {"id": clean_text(unit_id), "name": self.label(unit_id),
                "manager": self.manager(unit_id)}


def load_register(units_path: Path | None) -> Register:
    """The unit register (compliance.units); without a file, ids and default names."""
    from compliance.units import load_units

    units, cooperation = load_units(Path(units_path) if units_path is not None else None)
    reg = Register(
        units={str(k): UnitInfo(id=str(k), name=str(u.name or k), manager=str(u.manager or ""),
                                principal=str(u.principal or ""), kind=str(u.kind or ""))
               for k, u in units.items()},
        raw_units=units,
    )
    reg.bus_secretariat = clean_text(cooperation.get("bus_secretariat") or DEFAULT_SECRETARIAT)
    reg.steering_group_convener = clean_text(
        cooperation.get("steering_group_convener") or DEFAULT_CONVENER)
    reg.raw_cooperation = dict(cooperation, bus_secretariat=reg.bus_secretariat,
                               steering_group_convener=reg.steering_group_convener)
    return reg


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise NotAScanFolder(f"{path}: line {n} is not JSON ({exc.msg})") from None
    return rows


@dataclass
class Scan:
    dir: Path
    manifest: dict
    findings: list[dict]
    evidence: list[dict]
    cases: list[dict]

    @property
    def as_of(self):
        return to_date(self.manifest.get("as_of"))

    def rule_meta(self) -> dict[str, dict]:
        return {r.get("id"): r for r in self.manifest.get("rules") or [] if isinstance(r, dict)}


def load_scan_manifest(scan_dir: Path) -> dict:
    """The scan folder's manifest.json; NotAScanFolder when it is not a scan's folder."""
    scan_dir = Path(scan_dir)
    if not scan_dir.is_dir():
        raise NotAScanFolder(f"{scan_dir} is not a folder")
    missing = [f for f in REQUIRED_FILES if not (scan_dir / f).is_file()]
    if missing:
        raise NotAScanFolder(f"{scan_dir} is not a scan folder (missing {', '.join(missing)})")
    try:
        manifest = json.loads((scan_dir / "manifest.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotAScanFolder(f"{scan_dir / 'manifest.json'} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise NotAScanFolder(f"{scan_dir / 'manifest.json'} is not a JSON object")
    return manifest


def load_scan(scan_dir: Path) -> Scan:
    scan_dir = Path(scan_dir)
    manifest = load_scan_manifest(scan_dir)
    return Scan(
        dir=scan_dir,
        manifest=manifest,
        findings=[f for f in read_jsonl(scan_dir / "findings.jsonl") if isinstance(f, dict)],
        evidence=[e for e in read_jsonl(scan_dir / "evidence.jsonl") if isinstance(e, dict)],
        cases=[c for c in read_jsonl(scan_dir / "cases.jsonl") if isinstance(c, dict)],
    )


def resolve_units_path(scan: Scan, units_path: Path | None) -> Path | None:
    """--units if given, else the register the scan used (manifest units_file) if it exists."""
    if units_path is not None:
        return Path(units_path)
    recorded = scan.manifest.get("units_file")
    if isinstance(recorded, dict):  # {"path", "sha256"}
        recorded = recorded.get("path")
    if not recorded or not isinstance(recorded, str):
        return None
    for candidate in (Path(recorded), scan.dir / recorded):
        if candidate.is_file():
            return candidate
    return None
