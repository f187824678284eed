"""A scan folder read case by case, for the drafts: memory flat in the size of the scan.

`findings.jsonl`, `evidence.jsonl` and `cases.jsonl` are all in case order (the scan
writes them so), so the three files are read side by side, one case at a time, and only
the cases with a violation are passed on, as their raw lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..units import Unit
from .scan_data import NotAScanFolder, Scan


@dataclass(frozen=True, slots=True)
class CaseLines:
    """One case's lines of the three files (JSON text, one object each)."""
    case: str
    findings: list[bytes]
    evidence: list[bytes]
    summary: bytes | None
    violations: int


class _Groups:
    """The lines of one JSONL file, grouped by `case`, checked to be in case order."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = path.open("rb") if path.exists() else None
        self.n = 0
        self.case: str | None = None       # the case of `line`, the first line not yet taken
        self.line: bytes | None = None
        self.obj: dict[str, Any] | None = None
        self._advance()

    def _advance(self) -> None:
        previous = self.case
        self.case = self.line = self.obj = None
        if self.fh is None:
            return
        for raw in self.fh:
            self.n += 1
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise NotAScanFolder(f"{self.path}: rad {self.n} är inte JSON ({exc})") from None
            case = obj.get("case") if isinstance(obj, dict) else None
            if not isinstance(case, str):
                raise NotAScanFolder(f"{self.path}: rad {self.n} saknar fältet case")
            if previous is not None and case < previous:
                raise NotAScanFolder(f"{self.path}: rad {self.n}: ärendena står inte i ordning "
                                     f"({case!r} efter {previous!r}); filen är inte en skannings utdata")
            self.case, self.line, self.obj = case, raw, obj
            return
        self.fh.close()
        self.fh = None

    def take(self, case: str) -> list[tuple[bytes, dict[str, Any]]]:
        """The lines of `case` (skipping earlier cases)."""
        while self.case is not None and self.case < case:
            self._advance()
        got = []
        while self.case == case:
            got.append((self.line, self.obj))
            self._advance()
        return got

    def groups(self) -> Iterator[tuple[str, list[tuple[bytes, dict[str, Any]]]]]:
        while self.case is not None:
            case = self.case
            yield case, self.take(case)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def scan_cases(scan_dir: Path) -> Iterator[CaseLines]:
    """The cases of a scan folder that have a violation, in case order."""
    scan_dir = Path(scan_dir)
    findings = _Groups(scan_dir / "findings.jsonl")
    evidence = _Groups(scan_dir / "evidence.jsonl")
    cases = _Groups(scan_dir / "cases.jsonl")
    try:
        for case, lines in findings.groups():
            violations = sum(1 for _, f in lines if f.get("status") == "violation")
            if not violations:
                continue
            summary = cases.take(case)
            yield CaseLines(case, [line for line, _ in lines], [line for line, _ in evidence.take(case)],
                            summary[0][0] if summary else None, violations)
    finally:
        for g in (findings, evidence, cases):
            g.close()


def deviation_contexts(scan: Scan, units: Mapping[str, Unit], cooperation: Mapping[str, str],
                       written: dt.date | None = None,
                       decisions: Mapping[str, Any] | None = None) -> list[dict]:
    """Every draft's context of a scan folder (for tests and small tools), exactly as
    `compliance.deviations.write_drafts` builds them."""
    from compliance.deviations import DraftContent, run_date

    content = DraftContent(scan.manifest, units, cooperation, written or run_date(), decisions)
    out = []
    for lines in scan_cases(scan.dir):
        out += content.case(lines)
    return out
