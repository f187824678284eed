"""The app's Jinja templates (`compliance/data/templates/web/`, found through
importlib.resources like every packaged file).

Autoescaping is on for every template: ids, unit names and reasons holding `<script>`
or quotes are shown as text. Every printed value also passes `redact`, so nothing shaped
like a personal number reaches a page; a finding's own id (16 hex digits, which may hold
ten digits in a row by chance) is printed through the `fid` filter, which marks it safe
from that.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
import pendulum
from markupsafe import Markup, escape

from ..dates_sv import date_sv
from ..privacy import redact
from ..reporting.scan_data import finding_id_text
from ..resources import data_path
from ..state.cli import CHANGE_LABELS, FIELD_LABELS
from ..state.decisions import DECISION_LABELS
from ..state.review import BEFORE_CHANGE, REVIEW_LABELS
from ..vocabulary import EVENT_NAMES_SV, STATUS_SV


def templates_dir() -> Path:
    return data_path("templates", "web")


def static_dir() -> Path:
    return data_path("templates", "web", "static")


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return redact(value)


def fid(value: Any) -> Markup:
    """A finding id, escaped, as it is (not redacted): the reports' rule."""
    return Markup(escape(finding_id_text(value)))


def stockholm(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return pendulum.instance(moment).in_timezone("Europe/Stockholm").format("YYYY-MM-DD HH:mm")


def late(finding: dict) -> str:
    """Business days late, as the list shows it: a warning's days left, or '–'."""
    n = finding.get("business_days_late")
    if not isinstance(n, int):
        return "–"
    if n > 0:
        return str(n)
    if finding.get("status") == "warning" and n < 0:
        return f"om {-n}"
    return "0" if n == 0 else "–"


def days(n: Any, one: str, many: str) -> str:
    """'1 dag', '3 dagar'."""
    return f"{n} {one if n == 1 else many}"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             autoescape=True, undefined=jinja2.StrictUndefined, finalize=_finalize,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fid=fid, stockholm=stockholm, date_sv=date_sv, late=late, days=days)
    env.globals.update(CHANGE_LABELS=CHANGE_LABELS, FIELD_LABELS=FIELD_LABELS, STATUS_SV=STATUS_SV, REVIEW_LABELS=REVIEW_LABELS, DECISION_LABELS=DECISION_LABELS,
                       EVENT_NAMES_SV=EVENT_NAMES_SV, BEFORE_CHANGE=BEFORE_CHANGE)
    return env
