"""`changes.jsonl`: what a run changed, one finding a line, sorted like findings.jsonl.

Each line is the finding as findings.jsonl holds it (a resolved one: as it was last
seen), led by its `id` and `change` (`new`, `changed`, `resolved`, `reopened`); a
`changed` or `reopened` line also says which material fields differ from before:
`"fields": {"due": {"old": "2025-03-03", "new": "2025-03-10"}}`.

The database sorts (a million new findings on a store's first night take no memory):
by case, rule, due, event, meeting, unit and status as `findings.sort_key` does, in
code-point order (SQLite compares UTF-8 bytes; PostgreSQL is told `COLLATE "C"`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from .schema import finding_changes, findings

# The fields whose difference makes a finding `changed` (state.md); not the lateness
# counters, which grow with the as-of date.
MATERIAL_FIELDS = ("status", "due", "actual", "rule_version")


def code_point_order(expr: Any, dialect: str) -> Any:
    """A text expression sorted the way Python sorts strings."""
    return expr.collate("C") if dialect == "postgresql" else expr


def findings_order(dialect: str, due: Any = None, status: Any = None) -> list[Any]:
    """ORDER BY terms of findings.jsonl's order (findings.sort_key), ties by id."""
    f = findings.c
    text = [f.case, f.rule, f.due if due is None else due, func.coalesce(f.event, ""),
            func.coalesce(f.meeting, ""), func.coalesce(f.unit, ""), f.status if status is None else status,
            f.id]
    return [code_point_order(t, dialect) for t in text]


def change_lines(conn: Connection, run_id: int, dialect: str) -> Iterator[dict[str, Any]]:
    """The lines of changes.jsonl for one run, in order, streamed."""
    h, f = finding_changes, findings
    query = (select(h, f.c.data).join_from(h, f, h.c.finding_id == f.c.id).where(h.c.run_id == run_id)
             .order_by(*findings_order(dialect, due=h.c.due, status=h.c.status)))
    for row in conn.execution_options(yield_per=2000).execute(query).mappings():
        yield change_line(row)


def change_line(row: Any) -> dict[str, Any]:
    """One line from a finding_changes row joined with the finding's stored JSON."""
    data = orjson.loads(row["data"])
    line: dict[str, Any] = {"id": row["finding_id"], "change": row["change"]}
    for key, value in data.items():
        if key != "id":
            line[key] = value
    for name in MATERIAL_FIELDS:       # the values this run saw
        line[name] = row[name]
    if row["change"] in ("changed", "reopened"):
        fields = {name: {"old": row[f"old_{name}"], "new": row[name]}
                  for name in MATERIAL_FIELDS if row[f"old_{name}"] != row[name]}
        if fields:
            line["fields"] = fields
    return line


def write_changes(conn: Connection, run_id: int, path: Path, dialect: str) -> None:
    """Write changes.jsonl under a temporary name, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            for line in change_lines(conn, run_id, dialect):
                fh.write(orjson.dumps(line) + b"\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
