"""Reading a scan folder for the reports; the unit register is `compliance.units`.

Everything a report shows passes through :func:`clean_text`: it drops characters XML
cannot hold and blanks anything shaped like a Swedish personal number, so that no report
ever carries one even if an export put one where a pseudonym belongs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..dates_sv import to_date
from ..escaping import finding_id_text  # noqa: F401 (re-exported: one rule for ids in every report)
from ..units import Unit, unit_label
from ..vocabulary import EVENT_NAMES_SV as EVENT_TYPES_SV, STATUS_SV  # noqa: F401 (re-exported)
from ..privacy import PERSONAL_NUMBER_RE, REDACTED, clean, clean_text, safe_name  # noqa: F401 (re-exported)

REQUIRED_FILES = ("manifest.json", "findings.jsonl")


class NotAScanFolder(Exception):
    """The folder given is not the output of `compliance scan`."""


def unit_name(units: Mapping[str, Unit], unit_id: str | None) -> str:
    """A unit as a report names it: the register's name, else its id (cleaned)."""
    return clean_text(unit_label(units, unit_id or None))


def _jsonl(path: Path):
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise NotAScanFolder(f"{path}: rad {n} är inte JSON ({exc.msg})") from None


def read_jsonl(path: Path) -> list[dict]:
    return list(_jsonl(path))


class JsonlRows:
    """The objects of a .jsonl file, read afresh each time they are walked: the overview
    walks a large scan's hundred thousand cases twice and need not keep them in memory."""

    def __init__(self, path: Path):
        self.path = path
        self._len: int | None = None

    def __iter__(self):
        return (row for row in _jsonl(self.path) if isinstance(row, dict))

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len


@dataclass
class Scan:
    dir: Path
    manifest: dict
    findings: list[dict]
    evidence: list[dict]
    cases: list[dict] | JsonlRows
    # changes.jsonl of a scan with a state store (state.md): None when the scan had none
    changes: list[dict] | None = None

    @property
    def as_of(self):
        return to_date(self.manifest.get("as_of"))

    def rule_meta(self) -> dict[str, dict]:
        return {r.get("id"): r for r in self.manifest.get("rules") or [] if isinstance(r, dict)}


def check_scan_folder(scan_dir: Path) -> None:
    """Raise NotAScanFolder unless `scan_dir` holds what a scan writes."""
    if not scan_dir.is_dir():
        raise NotAScanFolder(f"{scan_dir}: mappen finns inte")
    missing = [f for f in REQUIRED_FILES if not (scan_dir / f).is_file()]
    if missing:
        raise NotAScanFolder(f"{scan_dir}: är ingen skanningsmapp (saknar {', '.join(missing)})")


def load_scan_manifest(scan_dir: Path) -> dict:
    """The scan folder's manifest.json; NotAScanFolder when it is not a scan's folder."""
    scan_dir = Path(scan_dir)
    check_scan_folder(scan_dir)
    try:
        manifest = json.loads((scan_dir / "manifest.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotAScanFolder(f"{scan_dir / 'manifest.json'}: är inte giltig JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise NotAScanFolder(f"{scan_dir / 'manifest.json'}: är inget JSON-objekt")
    return manifest


def load_scan(scan_dir: Path, lean: bool = False) -> Scan:
    """The scan folder's files as lists. ``lean`` (for the lists and the overview, which
    do not show the evidence): evidence.jsonl is left unread and the cases are read when
    walked (:class:`JsonlRows`); a million-event scan's would take half a gigabyte."""
    scan_dir = Path(scan_dir)
    manifest = load_scan_manifest(scan_dir)
    changes = scan_dir / "changes.jsonl"
    return Scan(
        dir=scan_dir,
        manifest=manifest,
        findings=[f for f in read_jsonl(scan_dir / "findings.jsonl") if isinstance(f, dict)],
        evidence=([e for e in read_jsonl(scan_dir / "evidence.jsonl") if isinstance(e, dict)]
                  if not lean else []),
        cases=(JsonlRows(scan_dir / "cases.jsonl") if lean else
               [c for c in read_jsonl(scan_dir / "cases.jsonl") if isinstance(c, dict)]),
        changes=([c for c in read_jsonl(changes) if isinstance(c, dict)]
                 if changes.is_file() else None),
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


# --- the state store's view of a finding (state.md, "What the reports do with it") -------

# Review decisions as the lists and the overview name them.
REVIEW_SV = {
    "open": "Öppen",
    "acknowledged": "Kvitterad",
    "deviation-filed": "Avvikelse anmäld",
    "justified": "Motiverad",
    "data-error": "Fel i underlaget",
    "reopen": "Öppen (återöppnad)",
}
REVIEW_ORDER = ("open", "reopen", "acknowledged", "deviation-filed", "justified", "data-error")
# Decisions that take a finding off the unit's open list (it stays, further down).
CLOSED_REVIEW = frozenset({"deviation-filed", "justified", "data-error"})


def review_sv(status: str | None) -> str:
    return REVIEW_SV.get(status or "open") or clean_text(status)


def finding_states(scan: Scan, review: Mapping[str, Mapping] | None) -> dict[str, dict] | None:
    """Finding id -> {"status", "new"} for the reports, or None for a scan without a store.

    ``review`` is what the state store knows (id -> {"status": decision, "new": bool}); a
    finding it does not mention is open. Without it, "new" comes from the scan's
    ``changes.jsonl`` when there is one.
    """
    if review is None and scan.changes is None:
        return None
    new_ids = {c.get("id") for c in scan.changes or [] if c.get("change") == "new"}
    states = {}
    for f in scan.findings:
        fid = f.get("id")
        given = (review or {}).get(fid) or {}
        states[fid] = {"status": str(given.get("status") or "open"),
                       "new": bool(given["new"]) if "new" in given else fid in new_ids}
    return states


def count_sv(n: int, one: str, many: str) -> str:
    """'1 avvikelse', '2 avvikelser', '0 avvikelser': a count with its noun in the right number."""
    return f"{n} {one if n == 1 else many}"
