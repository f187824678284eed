"""The reports for people, made from the store for one request: a unit's list (xlsx/csv),
a draft (docx and Markdown) and the steering group's overview.

The report code (`compliance.reporting`, `compliance.deviations`) reads a scan folder;
here a `Scan` is put together from the store instead — the newest run's findings with
their review status, the rules as the manifest describes them, the newest run's changes,
and the events and case summaries the store keeps for them (the evidence timeline) — so
that the app's downloads are the very same documents as `compliance report` writes.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from .. import __version__
from .. import calendar as vardagar
from ..reporting.scan_data import Scan
from ..state.changes import change_lines
from ..state.review import ReviewedFinding, reviewed_findings
from ..state.schema import case_summaries, runs
from ..state.store import Store
from ..units import Unit
from ..escaping import finding_id_text
from .rulebook import RuleBook


@dataclass(frozen=True)
class Download:
    body: bytes
    filename: str
    media_type: str


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSV = "text/csv; charset=utf-8"


def _case_material(conn, case_ids: list[str] | None) -> tuple[list[dict], list[dict]]:
    """The evidence events and case summaries the newest run kept (schema 0004): of these
    cases, or (None) the summaries of every case in the log and no events (the overview
    counts cases; only drafts need events)."""
    from ..state.evidence import evidence_of, summary_of
    if case_ids is None:
        rows = conn.execute(select(case_summaries.c.summary).order_by(case_summaries.c.case)).scalars()
        return [], [orjson.loads(text) for text in rows]
    by_case = evidence_of(conn, case_ids)
    summaries = [summary_of(conn, c) for c in case_ids]
    return ([row for c in case_ids for row in by_case.get(c, [])],
            [s for s in summaries if s is not None])


def store_scan(store: Store, rulebook: RuleBook, *, units: tuple[str, ...] | None = None,
               case: str | None = None, with_changes: bool = False,
               with_material: bool = True) -> tuple[Scan, dict[str, dict]]:
    """The newest run as a Scan (its present findings, of `units`/`case` if given), and the
    review view the reports take (finding id -> {"status", "new"})."""
    with store.read() as conn:
        run = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(1)).mappings().first()
        items: list[ReviewedFinding] = list(reviewed_findings(conn, store.dialect, units=units,
                                                              which="present", case=case))
        # the newest run's changes: for the overview, which shows every unit's
        changes = (list(change_lines(conn, run["id"], store.dialect))
                   if with_changes and run and units is None and case is None else None)
        evidence, cases = ([], []) if not with_material else _case_material(
            conn, None if units is None and case is None else sorted({i.finding["case"] for i in items}))
    findings = [i.finding for i in items]
    manifest: dict[str, Any] = {
        "tool": {"name": "bus-compliance", "version": __version__},
        "as_of": run["as_of"].isoformat() if run else None,
        "profile": {"name": run["profile"]} if run else None,
        "rules": rulebook.summaries(),
        "rules_digest": run["rules_digest"] if run else None,
        "calendar": vardagar.CALENDAR_SOURCE,
        "inputs": run["inputs"] if run else [],
        "counts": run["counts"] if run else {},
    }
    scan = Scan(dir=Path("."), manifest=manifest, findings=findings, evidence=evidence, cases=cases,
                changes=changes)
    review = {i.id: {"status": i.review.status, "new": i.new_since_last_run} for i in items}
    return scan, review


def unit_list(store: Store, rulebook: RuleBook, unit: str, units: dict[str, Unit], fmt: str) -> Download | None:
    """The unit's list as `compliance report` writes it (xlsx or csv); None if it has no findings."""
    from ..reporting.tables import write_unit_lists
    scan, review = store_scan(store, rulebook, units=(unit,), with_material=False)
    if not scan.findings:
        return None
    with tempfile.TemporaryDirectory(prefix="granskning-") as tmp:
        written = write_unit_lists(scan, units, Path(tmp), review=review)
        path = next(p for p in written if p.suffix == f".{fmt}")
        return Download(path.read_bytes(), f"{path.stem}.{fmt}", XLSX if fmt == "xlsx" else CSV)


@dataclass(frozen=True)
class Draft:
    context: dict[str, Any]
    scan: Scan


def draft_for(store: Store, rulebook: RuleBook, finding: dict, units: dict[str, Unit],
              cooperation: dict[str, str]) -> Draft | None:
    """The draft deviation report that covers this finding, built as the scan builds its
    drafts (`compliance.deviations.DraftContent`) from the newest run's findings, evidence
    and case summary, with the review decisions; None when the finding wants no draft."""
    from ..deviations import DraftContent, case_drafts, run_date
    if finding.get("status") != "violation":       # drafts report breaches, not warnings
        return None
    scan, review = store_scan(store, rulebook, units=(finding.get("unit") or "",), case=finding["case"])
    content = DraftContent(scan.manifest, units, cooperation, run_date(), review)
    summary = next((s for s in scan.cases if s.get("case") == finding["case"]), None)
    findings = [f for f in scan.findings if f["case"] == finding["case"]]
    wanted = finding_id_text(finding["id"])
    for ctx in case_drafts(findings, scan.evidence, summary, content.routing, units, cooperation,
                           content.sources, content.written, content.as_of, review):
        if any(item["id"] == wanted for item in ctx["items"]):
            ctx["tool"] = content.tool
            return Draft(ctx, scan)
    return None


def draft_markdown(draft: Draft) -> str:
    from ..deviations import markdown_template, render_markdown
    return render_markdown(markdown_template(), draft.context).decode("utf-8")


def draft_docx(draft: Draft, label: Callable[[str], str] | None = None) -> Download:
    """The Word draft, rendered as the scan renders its drafts."""
    from ..reporting.word import write_deviation_docx
    with tempfile.TemporaryDirectory(prefix="granskning-") as tmp:
        path = write_deviation_docx(draft.context, draft.scan.manifest, Path(tmp))
        return Download(path.read_bytes(), path.name, DOCX)


def overview_html(store: Store, rulebook: RuleBook, units: dict[str, Unit]) -> str:
    """The steering group's overview of the newest run, the same page as overview.html."""
    from ..reporting.overview import render_overview
    scan, review = store_scan(store, rulebook, with_changes=True)
    return render_overview(scan, units, review=review)


def stockholm(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    import pendulum
    return pendulum.instance(moment).in_timezone("Europe/Stockholm").format("YYYY-MM-DD HH:mm")
