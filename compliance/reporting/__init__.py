"""Reports for people, from a scan folder and the unit register (outputs.md).

``build_reports(scan_dir, out_dir, units_path)`` writes, in Swedish:

- ``deviations/*.md`` and ``*.docx``: the deviation drafts, Markdown and Word
  (``compliance.deviations.write_drafts``; ``docx=False`` for Markdown only);
- ``units/<unit>.xlsx`` and ``units/<unit>.csv``: the findings addressed to one unit;
- ``upcoming.xlsx``: the warnings (deadlines still open and at risk);
- ``overview.html``: the steering group's self-contained overview.

See docs/reports.md.
"""

from __future__ import annotations

from pathlib import Path

from .scan_data import NotAScanFolder, Scan, load_register, load_scan, load_scan_manifest, resolve_units_path

__all__ = ["build_reports", "NotAScanFolder"]


def build_reports(scan_dir: Path, out_dir: Path | None = None,
                  units_path: Path | None = None, docx: bool = True, workers: int = 2,
                  progress=None, decisions=None, drafts: bool = True) -> list[Path]:
    """Write every report for people; return the paths written, in a stable order.

    ``units_path`` defaults to the register the scan recorded in its manifest (when that
    file still exists); units the register does not know are shown by their ids.
    ``docx=False`` writes the drafts as Markdown only; ``progress(total)`` may give a
    progress bar for the drafts; ``decisions`` maps finding ids to review decisions;
    ``drafts=False`` leaves the drafts to the caller (a scan that wrote them already).
    Raises :class:`NotAScanFolder` when ``scan_dir`` is not a scan's output folder.
    """
    # Imported here: matplotlib, openpyxl and docxtpl take a second to load, which every
    # other command (a nightly scan without --report) need not pay.
    from ..deviations import run_date, write_drafts
    from .overview import write_overview
    from .tables import write_unit_lists, write_upcoming

    # The drafts first, read case by case, before the whole scan is loaded for the
    # tables: the drafts' worker processes are forked small.
    head = Scan(Path(scan_dir), load_scan_manifest(Path(scan_dir)), [], [], [])
    out = Path(out_dir) if out_dir is not None else Path(scan_dir)
    out.mkdir(parents=True, exist_ok=True)
    register = load_register(resolve_units_path(head, units_path))
    written: list[Path] = []
    if drafts:
        written += write_drafts(scan_dir, register, run_date(), formats={"md", "docx"} if docx else {"md"},
                                decisions=decisions, workers=workers, progress=progress,
                                out_dir=out).paths()
    scan = load_scan(Path(scan_dir))
    written += write_unit_lists(scan, register, out)
    written.append(write_upcoming(scan, register, out))
    written.append(write_overview(scan, register, out))
    return written
