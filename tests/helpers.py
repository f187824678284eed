"""Helpers for the tests: small logs written by hand."""

from __future__ import annotations

import json
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
SPEC_EXAMPLES = Path(__file__).resolve().parent / "spec_examples"
KEYS = ("rule", "case", "status", "event", "meeting", "unit", "due", "actual",
        "days_late", "business_days_late")


def ev(eid: str, etype: str, at: str, case: str = "K1", unit: str | None = "soc", **fields) -> str:
    """One canonical event as a JSONL line."""
    data = {"id": eid, "case": case, "type": etype, "at": at}
    if unit is not None:
        data["unit"] = unit
    data.update(fields)
    return json.dumps(data, ensure_ascii=False)


def violations(result, rule: str | None = None) -> list[dict]:
    return [{k: f[k] for k in KEYS} for f in result.findings
            if f["status"] == "violation" and (rule is None or f["rule"] == rule)]




def docx_text(path: Path) -> str:
    """All text a reader of a Word file sees: paragraphs, table cells, header and footer."""
    from docx import Document
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    for s in doc.sections:
        parts += [p.text for p in s.footer.paragraphs] + [p.text for p in s.header.paragraphs]
    return "\n".join(parts)
