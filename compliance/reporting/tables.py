"""Spreadsheets for unit heads: units/<unit>.xlsx + .csv and upcoming.xlsx (openpyxl, csv).

A list is read on screen and printed: each workbook opens with a title (the unit, the
as-of date, the day the report was made), then one row a finding with the columns a unit
head acts on; the columns an auditor traces a finding with (rule id and version, events)
are on a second sheet, "Spårbarhet", in the same order. Rows are as high as their wrapped
text, and a printout is one page wide with the header row repeated on every page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pendulum
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import DEFAULT_FONT, Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..dates_sv import date_sv, to_date
from ..escaping import unit_stem
from ..units import Unit
from .scan_data import (CLOSED_REVIEW, STATUS_SV, Scan, clean_text, count_sv, finding_id_text,
                        finding_states, review_sv, unit_name)

DATE_FORMAT = "yyyy-mm-dd"  # what Swedish Excel shows for dates (ÅÅÅÅ-MM-DD)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_LINE = Side(style="thin", color="A6A6A6")
BORDER = Border(left=_LINE, right=_LINE, top=_LINE, bottom=_LINE)
LINE_PT = 15.0       # one line of the default font (Calibri 11), Excel's default row height
TITLE_PT = 21.0      # the title line, 14 pt
FILTER_ROOM = 3      # characters the header's filter button covers
AUDIT_SHEET = "Spårbarhet"
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")  # what Excel refuses in a sheet name


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str       # date | int | text (text cells wrap) | id (a finding's id)
    max_width: int  # characters; longer text wraps onto more lines


def _date(header, key):
    return Column(header, key, "date", 11)


UNIT_COLUMNS = [
    _date("Förfallodag", "due"),
    Column("Status", "status_sv", "text", 12),
    Column("Regel", "title", "text", 24),
    Column("Ärende", "case", "text", 16),
    Column("Möte", "meeting", "text", 10),
    _date("Utfört", "actual"),
    Column("Dagar sent", "days_late", "int", 7),
    Column("Vardagar sent", "business_days_late", "int", 9),
    Column("Beskrivning", "message", "text", 46),
    Column("Id", "id", "id", 18),
]
# With a state store: after "Status", what the unit has decided and whether it is new.
REVIEW_COLUMNS = [
    Column("Granskning", "review_sv", "text", 14),
    Column("Ny sedan förra körningen", "new_sv", "text", 10),
]
UNIT_AUDIT_COLUMNS = [
    Column("Id", "id", "id", 18),
    _date("Förfallodag", "due"),
    Column("Ärende", "case", "text", 16),
    Column("Möte", "meeting", "text", 10),
    Column("Regel-id", "rule", "text", 26),
    Column("Regelversion", "rule_version", "text", 13),
    Column("Händelse", "event", "text", 16),
    Column("Underlag (händelser)", "evidence_text", "text", 40),
]

UPCOMING_COLUMNS = [
    _date("Senast", "deadline"),
    Column("Vardagar kvar", "business_days_left", "int", 9),
    Column("Att göra", "todo", "text", 40),
    Column("Verksamhet", "unit_name", "text", 26),
    Column("Regel", "title", "text", 24),
    Column("Ärende", "case", "text", 16),
    Column("Möte", "meeting", "text", 10),
    Column("Id", "id", "id", 18),
]
UPCOMING_AUDIT_COLUMNS = [
    Column("Id", "id", "id", 18),
    _date("Senast", "deadline"),
    Column("Ärende", "case", "text", 16),
    Column("Verksamhetens id", "unit", "text", 20),
    Column("Regel-id", "rule", "text", 26),
    Column("Regelversion", "rule_version", "text", 13),
    Column("Händelse", "event", "text", 16),
    Column("Underlag (händelser)", "evidence_text", "text", 30),
    Column("Beskrivning", "message", "text", 46),
]


def csv_columns(*sheets: list[Column]) -> list[Column]:
    """One flat table for the CSV: every column of the sheets, each once."""
    seen, out = set(), []
    for columns in sheets:
        for c in columns:
            if c.key not in seen:
                seen.add(c.key)
                out.append(c)
    return out


# --- cells ---------------------------------------------------------------------------------

def neutralise(text: Any) -> str:
    """A text cell no spreadsheet will run: a leading =, +, -, @, tab or CR (also after
    spaces) gets a '."""
    return _no_formula(clean_text(text))


def _no_formula(s: str) -> str:
    return "'" + s if s.lstrip(" ").startswith(FORMULA_TRIGGERS) else s


def _cell_value(kind: str, value: Any):
    if kind == "id":   # the scan's digest as it is; any other id is text from outside
        return _no_formula(finding_id_text(value)) or None
    if kind == "date":
        return to_date(value)
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return neutralise(value)


def _natural_width(value: Any) -> int:
    if isinstance(value, dt.date):
        return 10
    if value is None:
        return 0
    return max((len(line) for line in str(value).splitlines()), default=0)


def wrapped_lines(value: Any, width: float) -> int:
    """How many lines a wrapped cell `width` characters wide shows: the text wrapped at
    two characters less than the width, since a letter of Calibri is about as wide as the
    digit 0 that the width counts, and a line the sheet needs must never be missing."""
    if value is None or isinstance(value, (int, dt.date)):
        return 1
    per_line = max(1, int(width) - 2)
    return sum(1 if len(part) <= per_line and "\t" not in part   # fits: no need to wrap it
               else max(1, len(textwrap.wrap(part, per_line))) for part in str(value).split("\n"))


def sheet_name(text: Any) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, no leading or
    trailing apostrophe, not empty; a longer name is cut with an ellipsis."""
    name = SHEET_FORBIDDEN.sub("_", clean_text(text)).strip().strip("'").strip() or "Blad"
    if len(name) > 31:
        name = name[:30].rstrip() + "…"
    return "Blad_" if name.lower() == "history" else name   # 'History' is Excel's own


# --- workbooks -----------------------------------------------------------------------------

@dataclass
class Sheet:
    name: str
    columns: list[Column]
    rows: list[dict]
    title: str
    subtitle: str
    empty_note: str | None = None


# The cells' looks, as named styles made once a workbook: a cell takes one by name, where
# setting a font, border and alignment of its own made (and compared) new style objects
# for every cell, most of the time of a long list.
TITLE_STYLE, SUBTITLE_STYLE, NOTE_STYLE, HEADER_STYLE = "Lista titel", "Lista undertitel", "Lista not", "Lista rubrik"
CELL_STYLES = {"date": "Lista datum", "int": "Lista tal", "id": "Lista id", "text": "Lista text"}


def _add_styles(wb: Workbook) -> None:
    top = dict(border=BORDER, font=DEFAULT_FONT)   # the workbook's own font, as a plain cell has
    for style in (
        NamedStyle(TITLE_STYLE, font=Font(bold=True, size=14)),
        NamedStyle(SUBTITLE_STYLE, font=Font(italic=True)),
        NamedStyle(NOTE_STYLE, font=Font(italic=True)),
        NamedStyle(HEADER_STYLE, font=Font(bold=True), fill=HEADER_FILL, border=BORDER,
                   alignment=Alignment(vertical="top", wrap_text=True)),
        NamedStyle(CELL_STYLES["date"], number_format=DATE_FORMAT, alignment=Alignment(vertical="top"), **top),
        NamedStyle(CELL_STYLES["int"], alignment=Alignment(vertical="top"), **top),
        NamedStyle(CELL_STYLES["id"], alignment=Alignment(vertical="top"), **top),
        NamedStyle(CELL_STYLES["text"], alignment=Alignment(vertical="top", wrap_text=True), **top),
    ):
        wb.add_named_style(style)


def _cell(ws, value, style: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws)
    cell.style = style      # first: a date keeps the style's number format
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text
    return cell


def _fill_sheet(ws, sheet: Sheet) -> None:
    """Write one sheet row by row (openpyxl's write-only mode: a row is written out when
    appended and not kept, so a list of 50 000 findings takes as long per row as one of
    ten). Hence the order: the column widths, frozen panes and fit-to-page go first (they
    precede the rows in the file), each row's height just before the row."""
    columns = sheet.columns
    header_row = 3
    values = [[_cell_value(c.kind, row.get(c.key)) for c in columns] for row in sheet.rows]

    # Widths: the content, but at most the column's maximum; the header's longest word fits.
    widths = []
    for i, c in enumerate(columns):
        word = max(len(w) for w in c.header.split()) + FILTER_ROOM
        content = max((_natural_width(v[i]) + 2 for v in values), default=0)
        widths.append(max(word, min(content, c.max_width)))
    for i, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    ws.freeze_panes = f"A{header_row + 1}"
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    ws.row_dimensions[1].height = TITLE_PT
    ws.append([_cell(ws, sheet.title, TITLE_STYLE)])
    ws.append([_cell(ws, sheet.subtitle, SUBTITLE_STYLE)])
    ws.row_dimensions[header_row].height = LINE_PT * max(
        wrapped_lines(c.header, w - FILTER_ROOM + 2) for c, w in zip(columns, widths))
    ws.append([_cell(ws, c.header, HEADER_STYLE) for c in columns])

    styles = [CELL_STYLES[c.kind] for c in columns]
    for r, row_values in enumerate(values, header_row + 1):
        lines = max(map(wrapped_lines, row_values, widths))
        if lines > 1:
            ws.row_dimensions[r].height = LINE_PT * lines
        ws.append([_cell(ws, v, s) for v, s in zip(row_values, styles)])
        ws.row_dimensions.pop(r, None)   # written out with its row

    last_row = header_row + len(values)
    if values:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{last_row}"
    elif sheet.empty_note:
        ws.append([_cell(ws, sheet.empty_note, NOTE_STYLE)])

    # Printing: landscape A4, one page wide (as many pages long as it takes), the header
    # row on every page, the title and page number in the footer.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = 0.5
    ws.page_margins.bottom = 0.8
    ws.page_margins.footer = 0.3
    ws.oddFooter.left.text = sheet.title.replace("&", "&&")
    ws.oddFooter.right.text = "Sida &P av &N"


def write_xlsx(path: Path, sheets: list[Sheet], title: str, as_of: dt.date | None) -> Path:
    wb = Workbook(write_only=True)
    _add_styles(wb)
    for sheet in sheets:
        _fill_sheet(wb.create_sheet(sheet.name), sheet)
    props = wb.properties
    props.title = clean_text(title)
    props.creator = "compliance"
    props.language = "sv-SE"
    if as_of:
        props.created = props.modified = dt.datetime.combine(as_of, dt.time())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def write_csv(path: Path, columns: list[Column], rows: list[dict]) -> Path:
    """The list as Swedish Excel opens a CSV: ';' between fields, UTF-8 with a BOM."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow([c.header for c in columns])
    for row in rows:
        out = []
        for c in columns:
            v = _cell_value(c.kind, row.get(c.key))
            out.append("" if v is None else v.isoformat() if isinstance(v, dt.date) else str(v))
        w.writerow(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue().encode("utf-8-sig"))
    tmp.replace(path)
    return path


def _subtitle(as_of: dt.date | None, run_date: dt.date, counts: str) -> str:
    parts = [f"Bedömningsdag {date_sv(as_of)}" if as_of else "", f"rapporten gjord {date_sv(run_date)}",
             counts]
    return " · ".join(p for p in parts if p)


def today_stockholm() -> dt.date:
    return pendulum.now("Europe/Stockholm").date()


# --- the unit lists ------------------------------------------------------------------------

def status_sv(status: str | None) -> str:
    return STATUS_SV.get(status or "") or clean_text(status).capitalize()


def _sort_key(row: dict):
    """Open before what the unit has dealt with, then the newest due date first."""
    due = to_date(row.get("due"))
    return (row.get("review_status") in CLOSED_REVIEW, due is None, -due.toordinal() if due else 0,
            0 if row.get("status") == "violation" else 1, str(row.get("case")), str(row.get("rule")),
            str(row.get("meeting") or ""), str(row.get("event") or ""))


def unit_rows(findings: Iterable[dict], states: Mapping[str, dict] | None = None) -> list[dict]:
    rows = []
    for f in findings:
        row = dict(f)
        row["status_sv"] = status_sv(f.get("status"))
        row["title"] = f.get("title") or f.get("rule")
        row["evidence_text"] = ", ".join(str(e) for e in f.get("evidence") or [])
        if states is not None:
            state = states.get(f.get("id")) or {}
            row["review_status"] = state.get("status") or "open"
            row["review_sv"] = review_sv(row["review_status"])
            row["new_sv"] = "Ny" if state.get("new") else ""
        rows.append(row)
    rows.sort(key=_sort_key)
    return rows


def unit_key(unit_id: Any) -> str:
    return str(unit_id) if unit_id not in (None, "") else ""


def unit_file_stems(unit_ids: Iterable[str]) -> dict[str, str]:
    """The file-name stem of each unit's list (units/<stem>.xlsx): the one place unit file
    names are made (`compliance.escaping.unit_stem`: distinct ids never share a name, also
    ignoring case, and every name is safe on Windows). Findings without a unit go to
    `utan-enhet~0`, which no unit's name can be (a plain name has no `~`, a digest 16 hex
    digits)."""
    return {uid: unit_stem(uid) if uid else "utan-enhet~0" for uid in unit_ids}


def _unit_counts(rows: list[dict]) -> str:
    n = {s: sum(1 for r in rows if r.get("status") == s) for s in ("violation", "warning", "information")}
    parts = [count_sv(n["violation"], "avvikelse", "avvikelser"),
             count_sv(n["warning"], "varning", "varningar")]
    if n["information"]:
        parts.append(f"{n['information']} för information")
    return ", ".join(parts)


def write_unit_lists(scan: Scan, units: Mapping[str, Unit], out_dir: Path,
                     review: Mapping[str, Mapping] | None = None,
                     run_date: dt.date | None = None) -> list[Path]:
    """units/<unit>.xlsx and .csv for each unit that has findings (none for the others).

    ``review``: the state store's finding id -> {"status", "new"} (see finding_states);
    with it, or with a scan's changes.jsonl, the lists show each finding's review status
    and whether it is new since the last run.
    """
    run_date = run_date or today_stockholm()
    states = finding_states(scan, review)
    columns = UNIT_COLUMNS[:2] + REVIEW_COLUMNS + UNIT_COLUMNS[2:] if states is not None else UNIT_COLUMNS
    by_unit: dict[str, list[dict]] = {}
    for f in scan.findings:
        by_unit.setdefault(unit_key(f.get("unit")), []).append(f)
    stems = unit_file_stems(by_unit)
    written = []
    for uid in sorted(by_unit):
        rows = unit_rows(by_unit[uid], states)
        label = unit_name(units, uid)
        who = label if not uid or label == clean_text(uid) else f"{label} ({clean_text(uid)})"
        title = f"{who}: avvikelser och varningar"
        subtitle = _subtitle(scan.as_of, run_date, _unit_counts(rows))
        sheets = [Sheet(sheet_name(uid or "utan enhet"), columns, rows, title, subtitle),
                  Sheet(AUDIT_SHEET, UNIT_AUDIT_COLUMNS, rows, f"{who}: spårbarhet",
                        "Regelversion och händelser som varje rad bygger på, i samma ordning "
                        "som listan. " + subtitle)]
        if sheets[0].name.lower() == AUDIT_SHEET.lower():
            sheets[0].name += "_"
        stem = stems[uid]
        written.append(write_xlsx(out_dir / "units" / f"{stem}.xlsx", sheets, title, scan.as_of))
        written.append(write_csv(out_dir / "units" / f"{stem}.csv",
                                 csv_columns(columns, UNIT_AUDIT_COLUMNS), rows))
    return written


# --- upcoming deadlines --------------------------------------------------------------------

def _roll_back(d: dt.date) -> dt.date:
    from compliance.calendar import roll_back
    try:
        return roll_back(d)
    except ValueError:   # a year the calendar does not know
        return d


def _business_days_left(as_of: dt.date | None, deadline: dt.date | None) -> int | None:
    if as_of is None or deadline is None:
        return None
    from compliance.calendar import business_days_between
    try:
        return business_days_between(as_of, deadline)
    except ValueError:
        return None


def todo_sv(rule: str | None, meeting: str | None, deadline: dt.date | None, message: str | None) -> str:
    when = date_sv(deadline)
    m = f" {clean_text(meeting)}" if meeting else ""
    if rule == "invitation-notice":
        return f"Skicka kallelse till mötet{m} senast {when} (sista vardag för kallelse tre veckor före mötet)."
    if rule == "meeting-within-30-days":
        return f"Håll SIP-mötet{m} senast {when} (inom 30 dagar)."
    return clean_text(message) or f"Åtgärda senast {when}."


def upcoming_rows(scan: Scan, units: Mapping[str, Unit]) -> list[dict]:
    """The warnings, soonest deadline first: a to-do list for the coming days."""
    rows = []
    for f in scan.findings:
        if f.get("status") != "warning":
            continue
        due = to_date(f.get("due"))
        deadline = _roll_back(due) if due and f.get("rule") == "invitation-notice" else due
        rows.append(dict(
            f, deadline=deadline, title=f.get("title") or f.get("rule"),
            unit_name=unit_name(units, f.get("unit")),
            business_days_left=_business_days_left(scan.as_of, deadline),
            todo=todo_sv(f.get("rule"), f.get("meeting"), deadline, f.get("message")),
            evidence_text=", ".join(str(e) for e in f.get("evidence") or []),
        ))
    rows.sort(key=lambda r: (r["deadline"] or dt.date.max, str(r.get("unit")), str(r.get("case")),
                             str(r.get("rule")), str(r.get("meeting") or "")))
    return rows


def write_upcoming(scan: Scan, units: Mapping[str, Unit], out_dir: Path,
                   run_date: dt.date | None = None) -> Path:
    rows = upcoming_rows(scan, units)
    title = "Kommande tidsfrister"
    subtitle = _subtitle(scan.as_of, run_date or today_stockholm(),
                         count_sv(len(rows), "tidsfrist", "tidsfrister"))
    sheets = [Sheet("Kommande", UPCOMING_COLUMNS, rows, title, subtitle,
                    empty_note="Inga kommande tidsfrister i skanningen."),
              Sheet(AUDIT_SHEET, UPCOMING_AUDIT_COLUMNS, rows, f"{title}: spårbarhet", subtitle)]
    return write_xlsx(out_dir / "upcoming.xlsx", sheets, title, scan.as_of)
