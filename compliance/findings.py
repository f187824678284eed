"""Findings: what was not met, when it was due, how late, in one Swedish sentence.

A finding is addressed to one unit (the receiving unit of a deviation report). Its
lateness is counted both in calendar days and in business days (vardagar): a finding due
on Thursday 2025-06-19 and done on Tuesday 2025-06-24 is 5 days and 2 business days late,
because midsommarafton and the weekend do not count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from typing import Any

import orjson

from . import calendar as vardagar
from .dates_sv import day_texts


@lru_cache(maxsize=65536)
def _business_days_late(due: dt.date, until: dt.date) -> int:
    # Negative for a warning that is not yet due: business days left.
    between = vardagar.business_days_between
    if not (vardagar.MIN_YEAR <= due.year <= vardagar.MAX_YEAR):
        between = vardagar.weekdays_between      # a due date the arithmetic put outside the calendar
    return between(due, until) if until >= due else -between(until, due)


# A recipient in a message: a unit by its id, the guardian and the child in words.
_RECIPIENTS = {"guardian": "vårdnadshavaren", "child": "barnet"}


def finding_id(rule: str, case: str, event: str | None, meeting: str | None, unit: str | None) -> str:
    """The finding's stable identity (state.md): the same breach night after night.

    A digest of what identifies the breach, not of what may change about it (`due` moves
    when a meeting is rescheduled, a warning becomes a violation, a rule gets a new
    version). 16 hex digits (64 bits): no two of a region's findings share one.
    """
    key = orjson.dumps([rule, case, event or None, meeting or None, unit or None])
    return hashlib.sha256(key).hexdigest()[:16]


def finalize(raw: dict[str, Any], as_of: dt.date, template: str, params: dict[str, Any]) -> dict[str, Any]:
    """A raw match (dates as day ordinals) -> the finding as findings.jsonl holds it.

    `template` is the rule version's message for the finding's status (`Version.message_for`),
    filled with the version's parameters and the finding's values.
    """
    due, due_iso, due_sv = day_texts(raw["due"])
    if raw.get("actual"):
        actual, actual_iso, actual_sv = day_texts(raw["actual"])
        until = actual
    else:
        actual, actual_iso, actual_sv = None, None, ""
        until = as_of
    days_late = (until - due).days
    values = {**params, "meeting": raw.get("meeting") or "", "unit": raw.get("unit") or "",
              "to": _RECIPIENTS.get(raw.get("to") or "", raw.get("to") or ""), "ref": raw.get("ref") or "",
              "due": due_sv, "actual": actual_sv, "case": raw["case"], "days_late": days_late}
    return {
        "id": finding_id(raw["rule"], raw["case"], raw.get("event"), raw.get("meeting"), raw.get("unit")),
        "rule": raw["rule"], "case": raw["case"], "status": raw["status"],
        "event": raw.get("event"), "meeting": raw.get("meeting"), "unit": raw.get("unit"),
        "due": due_iso, "actual": actual_iso, "days_late": days_late,
        "business_days_late": _business_days_late(due, until),
        "evidence": raw.get("evidence", []),
        "message": template.format(**values),
        "rule_version": raw.get("rule_version"), "title": raw.get("title"),
        "basis": raw.get("basis"),
    }


def sort_key(f: dict[str, Any]) -> tuple:
    """The order of findings.jsonl: case, rule, due, event, meeting, unit."""
    return (f["case"], f["rule"], f["due"], f["event"] or "", f["meeting"] or "", f["unit"] or "",
            f["status"])
