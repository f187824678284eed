"""The list "Mina avvikelser": a user's findings with filters, counts by rule and pages.

The store gives the findings the user may see with their review status
(`compliance.state.reviewed_findings`, one read transaction); filtering, counting and
paging happen here, on at most a region's few thousand findings of a unit. Newest first:
the latest due date at the top, as in the unit lists.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import select

from .. import calendar as vardagar
from ..state.review import ReviewedFinding, reviewed_findings
from ..state.schema import runs
from ..state.store import Store

PAGE_SIZE = 100
MAX_DUE_WITHIN = 260          # a year of business days
REVIEW_FILTERS = {"open": "Att åtgärda", "present": "Alla aktuella", "all": "Alla, även lösta"}
STATUS_FILTERS = {"violation": "Avvikelse", "warning": "Varning"}


@dataclass(frozen=True)
class LatestRun:
    id: int
    as_of: dt.date
    ended_at: dt.datetime


def latest_run(store: Store) -> LatestRun | None:
    with store.read() as conn:
        row = conn.execute(select(runs.c.id, runs.c.as_of, runs.c.ended_at)
                           .order_by(runs.c.id.desc()).limit(1)).first()
    return LatestRun(row.id, row.as_of, row.ended_at) if row else None


@dataclass(frozen=True)
class ListFilter:
    """The list's filters, from the query string; a value that makes no sense is ignored."""

    rule: str | None = None
    status: str | None = None
    review: str = "open"
    new: bool = False
    due_within: int | None = None
    unit: str | None = None
    page: int = 1

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> "ListFilter":
        def text(name: str) -> str | None:
            value = (q.get(name) or "").strip()
            return value[:200] or None

        def number(name: str, low: int, high: int) -> int | None:
            value = text(name)
            if value is None or not (value.isascii() and value.isdigit()):   # not "²"
                return None
            return min(max(int(value), low), high)

        status = text("status")
        review = text("granskning") or "open"
        return cls(rule=text("regel"), status=status if status in STATUS_FILTERS else None,
                   review=review if review in REVIEW_FILTERS else "open",
                   new=text("ny") == "1", due_within=number("inom", 0, MAX_DUE_WITHIN),
                   unit=text("enhet"), page=number("sida", 1, 1_000_000) or 1)

    def query(self, **change: Any) -> dict[str, str]:
        """The query string of this filter with some values changed (for links)."""
        values = {"regel": self.rule, "status": self.status,
                  "granskning": None if self.review == "open" else self.review,
                  "ny": "1" if self.new else None,
                  "inom": None if self.due_within is None else str(self.due_within),
                  "enhet": self.unit, "sida": None if self.page == 1 else str(self.page)}
        names = {"rule": "regel", "status": "status", "review": "granskning", "new": "ny",
                 "due_within": "inom", "unit": "enhet", "page": "sida"}
        for key, value in change.items():
            values[names[key]] = value
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class FindingList:
    rows: list[ReviewedFinding]
    total: int                                  # after the filters, before paging
    page: int
    pages: int
    by_rule: list[tuple[str, str, int]]         # (rule id, title, count) under the other filters
    units: list[str]                            # units present in the user's findings
    as_of: dt.date | None
    filter: ListFilter
    titles: dict[str, str] = field(default_factory=dict)


def _business_days_until(as_of: dt.date, due: str) -> int | None:
    """Business days from the as-of date to `due` (None: already past, or outside the calendar)."""
    try:
        day = dt.date.fromisoformat(due)
        if day < as_of:
            return None
        return vardagar.business_days_between(as_of, day)
    except ValueError:
        return None


def _newest_first(items: list[ReviewedFinding]) -> None:
    """The latest due date first; on one day, by case, rule, unit and id."""
    items.sort(key=lambda i: (i.finding.get("case") or "", i.finding.get("rule") or "",
                              i.finding.get("unit") or "", i.id))
    items.sort(key=lambda i: i.finding.get("due") or "", reverse=True)


def finding_list(store: Store, units: tuple[str, ...] | None, flt: ListFilter,
                 as_of: dt.date | None) -> FindingList:
    """The page of findings `flt` asks for, among those addressed to `units` (None: all)."""
    which = "all" if flt.review == "all" else "present"
    with store.read() as conn:
        items = list(reviewed_findings(conn, store.dialect, units=units, which=which))
    titles = {i.finding["rule"]: i.finding.get("title") or i.finding["rule"] for i in items}
    unit_ids = sorted({i.finding.get("unit") or "" for i in items})
    if flt.review == "open":
        items = [i for i in items if i.is_open]
    if flt.unit is not None:
        items = [i for i in items if i.finding.get("unit") == flt.unit]
    if flt.status is not None:
        items = [i for i in items if i.finding.get("status") == flt.status]
    if flt.new:
        items = [i for i in items if i.new_since_last_run]
    if flt.due_within is not None and as_of is not None:
        items = [i for i in items
                 if (n := _business_days_until(as_of, i.finding["due"])) is not None and n <= flt.due_within]
    counts = Counter(i.finding["rule"] for i in items)
    by_rule = sorted(((r, titles.get(r, r), n) for r, n in counts.items()), key=lambda t: (-t[2], t[1]))
    if flt.rule is not None:
        items = [i for i in items if i.finding["rule"] == flt.rule]
    _newest_first(items)
    pages = max(1, math.ceil(len(items) / PAGE_SIZE))
    page = min(flt.page, pages)
    return FindingList(items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], len(items), page, pages,
                       by_rule, unit_ids, as_of, flt, titles)
