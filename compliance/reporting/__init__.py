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

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Mapping

from .scan_data import NotAScanFolder, Scan, load_scan, load_scan_manifest, resolve_units_path

__all__ = ["build_reports", "NotAScanFolder"]


def build_reports(scan_dir: Path, out_dir: Path | None = None,
                  units_path: Path | None = None, *,
                  review: Mapping[str, Mapping] | None = None,
                  run_date: dt.date | None = None, docx: bool = True, drafts: bool = True,
                  workers: int = 2, progress: Callable[[int], Any] | None = None) -> list[Path]:
    """Write every report for people; return the paths written, in a stable order.

    ``units_path`` defaults to the register the scan recorded in its manifest (when that
    file still exists); units the register does not know are shown by their ids.
    ``review`` is the state store's view of the findings, finding id -> {"status": the
    review decision, "new": new since the last run, "reference": a filed deviation's}
    (state.md); the unit lists and the overview show it, and a finding filed as a
    deviation, justified or a data error gets no draft. ``run_date`` (default today, or
    COMPLIANCE_RUN_DATE) is the date on the drafts and in the lists' titles.
    ``docx=False`` writes the drafts as Markdown only; ``drafts=False`` leaves them to the
    caller (a scan that wrote them already); ``progress(total)`` may give a progress bar
    for the drafts. Raises :class:`NotAScanFolder` when ``scan_dir`` is not a scan's
    output folder.
    """
    # Imported here: matplotlib, openpyxl and docxtpl take a second to load, which every
    # other command (a nightly scan without --report) need not pay.
    from ..deviations import run_date as today, write_drafts
    from ..units import load_units
    from .overview import write_overview
    from .tables import write_unit_lists, write_upcoming

    run_date = run_date or today()
    # The drafts first, read case by case, before the whole scan is loaded for the
    # tables: the drafts' worker processes are forked small.
    head = Scan(Path(scan_dir), load_scan_manifest(Path(scan_dir)), [], [], [])
    out = Path(out_dir) if out_dir is not None else Path(scan_dir)
    out.mkdir(parents=True, exist_ok=True)
    units, cooperation = load_units(resolve_units_path(head, units_path))
    written: list[Path] = []
    if drafts:
        written += write_drafts(scan_dir, (units, cooperation), run_date,
                                formats={"md", "docx"} if docx else {"md"}, decisions=review,
                                workers=workers, progress=progress, out_dir=out).paths()
    scan = load_scan(Path(scan_dir), lean=True)   # the drafts were the ones to need the evidence
    written += write_unit_lists(scan, units, out, review=review, run_date=run_date)
    written.append(write_upcoming(scan, units, out, run_date=run_date))
    written.append(write_overview(scan, units, out, review=review))
    return written
