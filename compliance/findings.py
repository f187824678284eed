"""Findings: what was not met, when it was due, how late, in one Swedish sentence.

A finding is addressed to one unit (the receiving unit of a deviation report). Its
lateness is counted both in calendar days and in business days (vardagar): a finding due
on Thursday 2025-06-19 and done on Tuesday 2025-06-24 is 5 days and 2 business days late,
because midsommarafton and the weekend do not count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import calendar as vardagar
from .dates_sv import date_sv

FIELDS = ("rule", "case", "status", "event", "meeting", "unit", "due", "actual",
          "days_late", "business_days_late", "evidence", "message", "rule_version", "title")

def finalize(raw: dict[str, Any], as_of: dt.date, meta: dict[str, Any]) -> dict[str, Any]:
    """A raw match (dates as day ordinals) -> the finding as findings.jsonl holds it."""
    due = dt.date.fromordinal(raw["due"])
    actual = dt.date.fromordinal(raw["actual"]) if raw.get("actual") else None
    until = actual or as_of
    template = meta["message"] if actual else meta["message_open"]
    values = {"meeting": raw.get("meeting") or "", "unit": raw.get("unit") or "",
              "due": date_sv(due), "actual": date_sv(actual), "case": raw["case"],
              "days_late": (until - due).days}
    values.update({k: v for k, v in meta.get("params", {}).items() if k not in values})
    finding = {
        "rule": raw["rule"], "case": raw["case"], "status": raw["status"],
        "event": raw.get("event"), "meeting": raw.get("meeting"), "unit": raw.get("unit"),
        "due": due.isoformat(), "actual": actual.isoformat() if actual else None,
        "days_late": (until - due).days,
        # Negative for a warning that is not yet due: business days left.
        "business_days_late": (vardagar.business_days_between(due, until) if until >= due
                               else -vardagar.business_days_between(until, due)),
        "evidence": raw.get("evidence", []),
        "message": template.format(**values),
        "rule_version": raw.get("rule_version"), "title": raw.get("title"),
    }
    return finding


def sort_key(f: dict[str, Any]) -> tuple:
    """The order of findings.jsonl: case, rule, due, event, meeting, unit."""
    return (f["case"], f["rule"], f["due"], f["event"] or "", f["meeting"] or "", f["unit"] or "",
            f["status"])
