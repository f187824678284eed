"""Spreadsheets for unit heads: units/<unit>.xlsx + .csv and upcoming.xlsx (openpyxl, csv)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..dates_sv import date_sv, to_date
from .scan_data import STATUS_SV, Register, Scan, clean_text, safe_name

DATE_FORMAT = "yyyy-mm-dd"  # what Swedish Excel shows for dates (ÅÅÅÅ-MM-DD)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
MAX_WIDTH = 60

# (header, key, kind, width hint) — kind: date | int | text | wrap
UNIT_COLUMNS = [
    ("Förfallodag", "due", "date", None),
    ("Status", "status_sv", "text", None),
    ("Regel", "title", "text", 34),
    ("Ärende", "case", "text", None),
    ("Möte", "meeting", "text", None),
    ("Utfört", "actual", "date", None),
    ("Dagar sent", "days_late", "int", None),
    ("Vardagar sent", "business_days_late", "int", None),
    ("Beskrivning", "message", "wrap", MAX_WIDTH),
    ("Regel-id", "rule", "text", None),
    ("Regelversion", "rule_version", "text", None),
    ("Händelse", "event", "text", None),
    ("Underlag (händelser)", "evidence_text", "text", 30),
]

UPCOMING_COLUMNS = [
    ("Senast", "deadline", "date", None),
    ("Vardagar kvar", "business_days_left", "int", None),
    ("Att göra", "todo", "wrap", MAX_WIDTH),
    ("Regel", "title", "text", 34),
    ("Ärende", "case", "text", None),
    ("Möte", "meeting", "text", None),
    ("Verksamhet", "unit_name", "text", 28),
    ("Verksamhetens id", "unit", "text", None),
    ("Beskrivning", "message", "wrap", MAX_WIDTH),
    ("Regel-id", "rule", "text", None),
]


def neutralise(text: Any) -> str:
    """A text cell no spreadsheet will run: a leading =, +, -, @, tab or CR gets a '."""
    s = clean_text(text)
    return "'" + s if s.startswith(FORMULA_TRIGGERS) else s


def _cell_value(kind: str, value: Any):
    if kind == "date":
        return to_date(value)
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return neutralise(value)


def _display_len(value: Any) -> int:
    if isinstance(value, dt.date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0) if value is not None else 0


def write_xlsx(path: Path, columns, rows: list[dict], sheet_title: str, as_of: dt.date | None,
               title: str, empty_note: str | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(sheet_title)
    props = wb.properties
    props.title = clean_text(title)
    props.creator = "compliance"
    props.language = "sv-SE"
    if as_of:
        props.created = props.modified = dt.datetime.combine(as_of, dt.time())
    ws.append([c[0] for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=False)
    widths = [len(c[0]) + 4 for c in columns]  # room for the filter button
    for row in rows:
        values = [_cell_value(kind, row.get(key)) for _, key, kind, _ in columns]
        ws.append(values)
        r = ws.max_row
        for i, ((_, _, kind, hint), value) in enumerate(zip(columns, values)):
            cell = ws.cell(row=r, column=i + 1)
            if kind == "date":
                cell.number_format = DATE_FORMAT
            elif kind in ("text", "wrap") and value is not None:
                cell.data_type = "s"  # never a formula, whatever the text
            cell.alignment = Alignment(vertical="top", wrap_text=(kind == "wrap"))
            widths[i] = max(widths[i], min(_display_len(value) + 2, hint or MAX_WIDTH))
    for i, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = min(width, MAX_WIDTH)
    ws.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    if rows:
        ws.auto_filter.ref = f"A1:{last}{ws.max_row}"
    elif empty_note:
        ws.append([empty_note])
        ws["A2"].font = Font(italic=True)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def write_csv(path: Path, columns, rows: list[dict]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow([c[0] for c in columns])
    for row in rows:
        out = []
        for _, key, kind, _ in columns:
            v = _cell_value(kind, row.get(key))
            out.append("" if v is None else v.isoformat() if isinstance(v, dt.date) else str(v))
        w.writerow(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue().encode("utf-8-sig"))
    tmp.replace(path)
    return path


def _sheet_title(text: str) -> str:
    bad = set('[]:*?/\\')
    t = "".join("_" if ch in bad else ch for ch in clean_text(text)).strip("'") or "Blad"
    return t[:31]


def _sort_key(f: dict):
    return (f.get("due") or "9999", 0 if f.get("status") == "violation" else 1,
            str(f.get("case")), str(f.get("rule")), str(f.get("meeting") or ""), str(f.get("event") or ""))


def unit_rows(findings: Iterable[dict]) -> list[dict]:
    rows = []
    for f in sorted(findings, key=_sort_key):
        row = dict(f)
        row["status_sv"] = STATUS_SV.get(f.get("status"), f.get("status") or "")
        row["title"] = f.get("title") or f.get("rule")
        row["evidence_text"] = ", ".join(str(e) for e in f.get("evidence") or [])
        rows.append(row)
    return rows


def unit_key(unit_id: Any) -> str:
    return str(unit_id) if unit_id not in (None, "") else ""


def write_unit_lists(scan: Scan, register: Register, out_dir: Path) -> list[Path]:
    """units/<unit>.xlsx and .csv for each unit that has findings (none for the others)."""
    by_unit: dict[str, list[dict]] = {}
    for f in scan.findings:
        by_unit.setdefault(unit_key(f.get("unit")), []).append(f)
    written = []
    used: dict[str, str] = {}
    for uid in sorted(by_unit):
        stem = safe_name(uid) if uid else "utan-enhet"
        while stem in used and used[stem] != uid:  # two hostile ids that clean to one name
            stem += "_"
        used[stem] = uid
        rows = unit_rows(by_unit[uid])
        label = register.label(uid or None)
        written.append(write_xlsx(out_dir / "units" / f"{stem}.xlsx", UNIT_COLUMNS, rows,
                                  sheet_title=label, as_of=scan.as_of,
                                  title=f"Avvikelser och varningar för {label}"))
        written.append(write_csv(out_dir / "units" / f"{stem}.csv", UNIT_COLUMNS, rows))
    return written


def _roll_back(d: dt.date) -> dt.date:
    try:
        from compliance.calendar import roll_back
    except ImportError:  # pragma: no cover - the calendar ships with the project
        return d
    try:
        return roll_back(d)
    except ValueError:
        return d


def _business_days_left(as_of: dt.date | None, deadline: dt.date | None) -> int | None:
    if as_of is None or deadline is None:
        return None
    try:
        from compliance.calendar import business_days_between
        return business_days_between(as_of, deadline)
    except (ImportError, ValueError):
        return None


def todo_sv(rule: str | None, meeting: str | None, deadline: dt.date | None, message: str | None) -> str:
    when = date_sv(deadline)
    m = f" {clean_text(meeting)}" if meeting else ""
    if rule == "invitation-notice":
        return f"Skicka kallelse till mötet{m} senast {when} (sista vardag för kallelse tre veckor före mötet)."
    if rule == "meeting-within-30-days":
        return f"Håll SIP-mötet{m} senast {when} (inom 30 dagar)."
    return clean_text(message) or f"Åtgärda senast {when}."


def upcoming_rows(scan: Scan, register: Register) -> list[dict]:
    rows = []
    for f in scan.findings:
        if f.get("status") != "warning":
            continue
        due = to_date(f.get("due"))
        deadline = _roll_back(due) if due and f.get("rule") == "invitation-notice" else due
        rows.append(dict(
            f, deadline=deadline, title=f.get("title") or f.get("rule"),
            unit_name=register.label(f.get("unit")),
            business_days_left=_business_days_left(scan.as_of, deadline),
            todo=todo_sv(f.get("rule"), f.get("meeting"), deadline, f.get("message")),
        ))
    rows.sort(key=lambda r: (r["deadline"] or dt.date.max, str(r.get("unit")), str(r.get("case")),
                             str(r.get("rule")), str(r.get("meeting") or "")))
    return rows


def write_upcoming(scan: Scan, register: Register, out_dir: Path) -> Path:
    return write_xlsx(out_dir / "upcoming.xlsx", UPCOMING_COLUMNS, upcoming_rows(scan, register),
                      sheet_title="Kommande", as_of=scan.as_of,
                      title="Kommande tidsfrister",
                      empty_note="Inga kommande tidsfrister i skanningen.")
