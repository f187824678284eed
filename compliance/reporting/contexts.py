"""The deviation-report contexts, shared with the Markdown drafts (compliance.deviations)."""

from __future__ import annotations

from pathlib import Path

from .scan_data import Register, Scan


def deviation_contexts(scan: Scan, register: Register) -> list[dict]:
    """One context per draft (case, receiving unit), exactly as the drafts were built."""
    from compliance.deviations import build_deviation_contexts

    return build_deviation_contexts(Path(scan.dir), register.raw_units, register.raw_cooperation)
