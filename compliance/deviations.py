"""Draft deviation reports (utkast till avvikelserapport), one per case and receiving unit.

They follow the regional form (Avvikelseblankett för BUS-samverkan) and the 7-step process
of seed 001: the reporting unit's manager (chef A) sends the report to the receiving unit's
manager (chef B), who replies with copies to the steering group's convener and the BUS
secretariat; the steering group decides ("Avslutning av ärendet").

The reporting unit is the unit that initiated the case's SIP (else opened the case). When
it is the receiving unit itself, the field is left for the sender to fill in.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import jinja2

from .dates_sv import date_sv, day_texts
from .privacy import redact, safe_name
from .units import Unit, unit_label
from .vocabulary import EVENT_NAMES_SV, RECIPIENT_SV

from .resources import templates_dir

TEMPLATES = templates_dir()



def _unit(units: dict[str, Unit], unit_id: str | None) -> dict[str, Any]:
    u = units.get(unit_id or "")
    return {"id": unit_id, "name": unit_label(units, unit_id),
            "manager": u.manager if u and u.manager else "ansvarig chef (fylls i)"}


def rule_sources(rules: list[Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Rule id -> version (valid_from) -> its cited sources, as the drafts show them."""
    return {r["id"]: {v["valid_from"]: v["sources"] for v in r["versions"]}
            for r in (rule.summary() for rule in rules)}


def build_contexts(findings: list[dict[str, Any]], evidence: list[dict[str, Any]],
                   cases: list[dict[str, Any]], sources: dict[str, list[dict[str, Any]]],
                   units: dict[str, Unit], cooperation: dict[str, str],
                   as_of: dt.date) -> list[dict[str, Any]]:
    """The content of every draft: one per (case, receiving unit) with violations.
    `sources`: rule id -> quoted sources (`rule_sources`, or a scan's manifest)."""
    events = {(e["case"], e["id"]): e for e in evidence}
    initiator = {c["case"]: c.get("initiator") for c in cases}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in findings:
        if f["status"] == "violation":
            groups.setdefault((f["case"], f["unit"] or ""), []).append(f)
    contexts = []
    _, as_of_iso, as_of_sv = day_texts(as_of.toordinal())
    for (case, unit_id), items in sorted(groups.items()):
        reporter = initiator.get(case)
        reporting = _unit(units, reporter) if reporter and reporter != unit_id else {
            "id": None, "name": "rapporterande verksamhet (fylls i)", "manager": "chef A (fylls i)"}
        ids = list(dict.fromkeys(e for f in items for e in f["evidence"]))
        timeline = []
        for eid in ids:
            e = events.get((case, eid))
            if e is None:
                continue
            timeline.append({**e, "type_sv": EVENT_NAMES_SV.get(e["type"], e["type"]),
                             "unit_name": unit_label(units, e.get("unit")),
                             "to_name": RECIPIENT_SV.get(e.get("to") or "", unit_label(units, e["to"]))
                             if e.get("to") else None,
                             "date_sv": date_sv(e["date"])})
        timeline.sort(key=lambda e: (e["date"], e["time"] or "", e["id"]))
        contexts.append({
            "filename": f"{safe_name(case)}__{safe_name(unit_id)}",
            "case": case, "date": as_of_iso, "date_sv": as_of_sv,
            "reporting_unit": reporting, "receiving_unit": _unit(units, unit_id),
            "bus_secretariat": cooperation.get("bus_secretariat", ""),
            "steering_group_convener": cooperation.get("steering_group_convener", ""),
            "items": [{
                "rule": f["rule"], "title": f.get("title") or f["rule"],
                "rule_version": f.get("rule_version"), "due": f["due"], "actual": f["actual"],
                "due_sv": date_sv(f["due"]), "actual_sv": date_sv(f["actual"]),
                "days_late": f["days_late"], "business_days_late": f["business_days_late"],
                "message": f["message"], "meeting": f["meeting"], "event": f["event"],
                "sources": sources.get(f["rule"], {}).get(f.get("rule_version"), []),
            } for f in items],
            "timeline": timeline,
        })
    return contexts


class _Environment(jinja2.Environment):
    """`item.title` in a template looks up the dict key first: the contexts are dicts, and
    Jinja's default (attribute first, then key) costs a failed getattr every time."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def environment() -> jinja2.Environment:
    """Templates of compliance/data/templates/; every value a template prints passes through `redact`."""
    return _Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                        trim_blocks=True, lstrip_blocks=True, finalize=redact)


class DraftWriteError(Exception):
    """A draft could not be written (disk full, no permission): the scan cannot finish."""


class DraftWriter:
    """Renders the Markdown drafts in the scan's workers and writes them in the scan's
    main process.

    Rendering is spread over the worker processes, right after each case is decided.
    The files are created by one process only: creating many files in one folder from
    several processes at once made each creation several times slower (the folder is
    locked for every new name), and the main process is otherwise idle while the workers
    decide. A batch's drafts reach the disk only when the whole batch was decided, so a
    worker that crashes leaves no half-written set behind.

    The rendered text passes through the template's `finalize` hook: no value shaped like
    a personal number reaches a draft.
    """

    def __init__(self, folder: Path, rules: list[Any], units: dict[str, Unit],
                 cooperation: dict[str, str], as_of: dt.date):
        self.folder = Path(folder)
        self._prefix = os.path.join(str(self.folder), "")     # file names are joined to it
        self.template = environment().get_template("avvikelse.md.j2")
        # A template's globals are a ChainMap over the environment's, copied (in Python,
        # key by key) into every render's context: as a plain dict they cost far less.
        self.template.globals = dict(self.template.globals)
        self.sources = rule_sources(rules)
        self.units, self.cooperation, self.as_of = units, cooperation, as_of

    def render_case(self, findings: list[dict[str, Any]], evidence: list[dict[str, Any]],
                    summary: dict[str, Any]) -> list[tuple[str, bytes]]:
        """The case's drafts as (file name, UTF-8 text), one per receiving unit."""
        contexts = build_contexts(findings, evidence, [summary], self.sources, self.units,
                                  self.cooperation, self.as_of)
        return [(f"{ctx['filename']}.md", self.template.render(**ctx).encode("utf-8"))
                for ctx in contexts]

    def write(self, drafts: list[tuple[str, bytes]]) -> None:
        """Write rendered drafts into the folder; DraftWriteError when one cannot be."""
        prefix = self._prefix
        for name, data in drafts:
            self._write(prefix + name, data)

    def _write(self, path: str, data: bytes) -> None:
        # os-level calls: half the time of Path.write_bytes for a small file.
        try:
            fd = os.open(path, _CREATE, 0o644)
            try:
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        except OSError as exc:
            raise DraftWriteError(f"{path}: {exc.strerror or exc}") from None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
