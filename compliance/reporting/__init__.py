"""Reports for people, from a scan folder and the unit register (outputs.md).

``build_reports(scan_dir, out_dir, units_path)`` writes, in Swedish:

- ``deviations/<case>__<unit>.docx``: the deviation report as a Word form, one beside
  each Markdown draft (from ``compliance/data/templates/avvikelse.docx``, filled by docxtpl);
- ``units/<unit>.xlsx`` and ``units/<unit>.csv``: the findings addressed to one unit;
- ``upcoming.xlsx``: the warnings (deadlines still open and at risk);
- ``overview.html``: the steering group's self-contained overview.

See docs/reports.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Mapping

from .scan_data import NotAScanFolder, load_scan, resolve_units_path, unit_name

__all__ = ["build_reports", "NotAScanFolder"]


def build_reports(scan_dir: Path, out_dir: Path | None = None,
                  units_path: Path | None = None, *,
                  review: Mapping[str, Mapping] | None = None,
                  run_date: dt.date | None = None) -> list[Path]:
    """Write every report for people; return the paths written, in a stable order.

    ``units_path`` defaults to the register the scan recorded in its manifest (when that
    file still exists); units the register does not know are shown by their ids.
    ``review`` is the state store's view of the findings, finding id -> {"status": the
    review decision, "new": new since the last run} (state.md); the unit lists and the
    overview show it, and a finding filed as a deviation, justified or a data error gets
    no Word draft. ``run_date`` (default today) is printed in the lists' titles.
    Raises :class:`NotAScanFolder` when ``scan_dir`` is not a scan's output folder.
    """
    # Imported here: matplotlib, openpyxl and docxtpl take a second to load, which every
    # other command (a nightly scan without --report) need not pay.
    from ..units import load_units
    from .contexts import deviation_contexts
    from .overview import write_overview
    from .tables import write_unit_lists, write_upcoming
    from .word import write_deviation_docx

    scan = load_scan(Path(scan_dir))
    out = Path(out_dir) if out_dir is not None else Path(scan_dir)
    out.mkdir(parents=True, exist_ok=True)
    units, cooperation = load_units(resolve_units_path(scan, units_path))
    written: list[Path] = []
    evidence = {e.get("id"): e for e in scan.evidence}
    drafted = scan
    if review:   # a finding filed as a deviation, justified or a data error gets no draft
        from dataclasses import replace
        from ..nightly import NO_DRAFT
        drafted = replace(scan, findings=[f for f in scan.findings
                                          if (review.get(f.get("id")) or {}).get("status") not in NO_DRAFT])
    for ctx in deviation_contexts(drafted, units, cooperation):
        written.append(write_deviation_docx(ctx, scan.manifest, out, evidence=evidence,
                                            label=lambda u: unit_name(units, u)))
    written += write_unit_lists(scan, units, out, review=review, run_date=run_date)
    written.append(write_upcoming(scan, units, out, run_date=run_date))
    written.append(write_overview(scan, units, out, review=review))
    return written
