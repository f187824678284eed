"""The deviation-report contexts, shared with the Markdown drafts (compliance.deviations)."""

from __future__ import annotations

from typing import Mapping

from ..units import Unit
from .scan_data import Scan


def deviation_contexts(scan: Scan, units: Mapping[str, Unit], cooperation: dict) -> list[dict]:
    """One context per draft (case, receiving unit), exactly as the drafts were built."""
    from compliance.deviations import build_contexts

    sources = {r["id"]: {v["valid_from"]: v.get("sources", []) for v in r.get("versions", [])}
               for r in scan.manifest.get("rules", [])}
    return build_contexts(scan.findings, scan.evidence, scan.cases, sources,
                          units, cooperation, scan.as_of)
