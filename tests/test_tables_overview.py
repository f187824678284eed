"""The unit lists, upcoming.xlsx, overview.html and `compliance report` as their readers
meet them (issue 14): printed lists that can be read, Swedish words, no formula run."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import json
import math
import os
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from openpyxl import Workbook, load_workbook

from compliance.reporting import NotAScanFolder, build_reports
from compliance.reporting.cli import report
from compliance.reporting.overview import GENDERS, indicators
from compliance.reporting.scan_data import Scan
from compliance.reporting.tables import (FORMULA_TRIGGERS, LINE_PT, neutralise, sheet_name,
                                         wrapped_lines)
from compliance.scan import run_scan

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = dt.date(2026, 1, 7)
HOSTILE = ["=1+1", "+46", "-2+3", "@SUM(A1)", "\tx", "\rx", " =1+1"]


@pytest.fixture(scope="module")
def fixtures_out(tmp_path_factory) -> Path:
    """The README's first command: the shipped fixtures, scanned and reported."""
    out = tmp_path_factory.mktemp("fixtures") / "out"
    run_scan([ROOT / "fixtures" / "log"], dt.date(2025, 12, 31), units_path=ROOT / "fixtures" / "units.toml",
             out_dir=out, workers=1)
    build_reports(out, out, ROOT / "fixtures" / "units.toml", run_date=RUN_DATE)
    return out


def finding(n: int, **kw) -> dict:
    f = {"id": f"{n:016x}", "rule": "invitation-notice", "case": f"K-{n}", "status": "violation",
         "event": f"K-{n}-1", "meeting": "M1", "unit": "soc", "due": "2025-03-03", "actual": "2025-03-05",
         "days_late": 2, "business_days_late": 2, "evidence": [f"K-{n}-1"], "message": "Kallelsen var sen.",
         "rule_version": "2003-01-01", "title": "Kallelse senast tre veckor före SIP-mötet"}
    f.update(kw)
    return f


def make_scan(folder: Path, findings: list[dict], cases: list[dict] = (), **manifest) -> Path:
    """A scan folder as `compliance scan` leaves it, with the findings given."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"as_of": "2025-12-31", "rules": [], **manifest}),
                                          encoding="utf-8")
    (folder / "findings.jsonl").write_text("".join(json.dumps(f) + "\n" for f in findings), encoding="utf-8")
    (folder / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return folder


def header_index(ws) -> int:
    """The row number of the column headers (below the title rows)."""
    return next(r[0].row for r in ws.iter_rows() if r[0].value in ("Förfallodag", "Senast", "Id"))


def table(ws) -> list[dict]:
    h = header_index(ws)
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=h)]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def run_required(tool: str) -> str:
    """The tool's path; a skip where it is missing, but a failure on CI (COMPLIANCE_CI=1)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install chromium libreoffice-calc-nogui poppler-utils)"
        if os.environ.get("COMPLIANCE_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


# ---------------------------------------------------------------- the unit lists

def test_list_opens_with_a_title_and_is_sorted_open_and_newest_first(fixtures_out):
    wb = load_workbook(fixtures_out / "units" / "soc-skarpnack.xlsx")
    ws = wb.worksheets[0]
    assert ws["A1"].value == "Socialtjänsten Skarpnäck, familjeenheten (soc-skarpnack): avvikelser och varningar"
    assert ws["A2"].value.startswith("Bedömningsdag 31 december 2025 · rapporten gjord 7 januari 2026 · ")
    assert "8 avvikelser, 1 varning" in ws["A2"].value   # none due before the rules were in force
    rows = table(ws)
    dues = [r["Förfallodag"] for r in rows]
    assert dues == sorted(dues, reverse=True)
    assert dues[0].year == 2026 and dues[-1].year == 2024
    assert rows[0]["Status"] == "Varning"
    # every row carries the finding's id, exactly as findings.jsonl has it
    ids = {f["id"] for f in map(json.loads, (fixtures_out / "findings.jsonl").read_text().splitlines())
           if f["unit"] == "soc-skarpnack"}
    assert {r["Id"] for r in rows} == ids


def test_sheet_names_are_the_unit_id_and_the_audit_sheet(fixtures_out):
    for path in (fixtures_out / "units").glob("*.xlsx"):
        names = load_workbook(path).sheetnames
        assert names == [path.stem, "Spårbarhet"], (path, names)
    assert load_workbook(fixtures_out / "upcoming.xlsx").sheetnames == ["Kommande", "Spårbarhet"]


def test_audit_columns_are_on_the_second_sheet_in_the_same_order(fixtures_out):
    wb = load_workbook(fixtures_out / "units" / "soc-skarpnack.xlsx")
    main, audit = table(wb.worksheets[0]), table(wb.worksheets[1])
    assert not {"Regel-id", "Regelversion", "Händelse", "Underlag (händelser)"} & set(main[0])
    assert [r["Id"] for r in audit] == [r["Id"] for r in main]
    assert [r["Ärende"] for r in audit] == [r["Ärende"] for r in main]
    assert all(r["Regel-id"] and r["Regelversion"] and r["Underlag (händelser)"] for r in audit)


def test_print_setup_fits_the_width_and_repeats_the_header(fixtures_out):
    for path in [fixtures_out / "upcoming.xlsx", *(fixtures_out / "units").glob("*.xlsx")]:
        for ws in load_workbook(path).worksheets:
            h = header_index(ws)
            assert ws.page_setup.orientation == "landscape"
            assert ws.sheet_properties.pageSetUpPr.fitToPage
            assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0  # not squeezed to a page
            assert ws.print_title_rows == f"${h}:${h}"
            assert ws.freeze_panes == f"A{h + 1}"


def test_rows_are_as_high_as_their_wrapped_text(fixtures_out):
    ws = load_workbook(fixtures_out / "units" / "soc-skarpnack.xlsx").worksheets[0]
    h = header_index(ws)
    headers = [c.value for c in ws[h]]
    col = "ABCDEFGHIJKLMN"[headers.index("Beskrivning")]
    width = ws.column_dimensions[col].width
    assert ws[f"{col}{h + 1}"].alignment.wrap_text
    for r in range(h + 1, ws.max_row + 1):
        text = ws[f"{col}{r}"].value
        # A line of Calibri holds at most about 1.2 characters per unit of column width.
        needed = math.ceil(len(text) / (width * 1.2))
        height = ws.row_dimensions[r].height or LINE_PT
        assert height >= LINE_PT * needed, (r, text, height)
    # the header row is as high as its wrapped headers ("Vardagar sent" on two lines)
    assert ws.row_dimensions[h].height >= 2 * LINE_PT


def test_a_short_row_keeps_the_default_height(tmp_path):
    scan = make_scan(tmp_path / "scan", [finding(1, title="Kort", message="Kort.")])
    build_reports(scan, tmp_path / "out", None)
    ws = load_workbook(tmp_path / "out" / "units" / "soc.xlsx").worksheets[0]
    assert ws.row_dimensions[header_index(ws) + 1].height is None


def test_wrapped_lines():
    assert wrapped_lines("kort", 20) == 1
    assert wrapped_lines("ett två tre fyra fem sex sju åtta nio tio", 12) == 5  # 10 a line
    assert wrapped_lines("rad ett\nrad två", 40) == 2
    assert wrapped_lines(None, 10) == wrapped_lines(dt.date(2025, 1, 1), 10) == 1


@given(st.text(alphabet=st.sampled_from("ab -\t\n\r\x0b"), max_size=60), st.integers(1, 40))
def test_a_row_is_as_high_as_textwrap_wraps_it(text, width):
    """The short cut for text that fits on one line gives the lines textwrap gives."""
    per_line = max(1, width - 2)
    assert wrapped_lines(text, width) == sum(max(1, len(textwrap.wrap(part, per_line)))
                                             for part in text.split("\n"))


def test_a_long_list_keeps_every_row_and_its_height(tmp_path):
    """A list written row by row keeps each row's height with its own row."""
    long = "ett två tre fyra fem sex sju åtta nio tio " * 6
    findings = [finding(n, case=f"K-{n:03d}", title="Kort", message=long if n % 3 == 0 else "Kort.",
                        due=f"2025-{1 + n % 12:02d}-01")
                for n in range(1, 301)]
    build_reports(make_scan(tmp_path / "scan", findings), tmp_path / "out", None)
    ws = load_workbook(tmp_path / "out" / "units" / "soc.xlsx").worksheets[0]
    h = header_index(ws)
    rows = table(ws)
    assert len(rows) == 300 and ws.auto_filter.ref == f"A{h}:J{h + 300}"
    for r, row in enumerate(rows, h + 1):
        tall = row["Beskrivning"] == long.strip() or row["Beskrivning"] == long
        assert (ws.row_dimensions[r].height or LINE_PT) > LINE_PT if tall else \
            ws.row_dimensions[r].height is None, (r, row["Beskrivning"])


def test_list_prints_readably_in_libreoffice(fixtures_out, tmp_path):
    """LibreOffice prints the list: text at a readable size, one page wide, no line of
    one row drawn over another (the wrapped descriptions used to overlap)."""
    soffice, pdftotext = run_required("soffice"), run_required("pdftotext")
    src = tmp_path / "list.xlsx"
    wb = load_workbook(fixtures_out / "units" / "soc-skarpnack.xlsx")
    del wb["Spårbarhet"]
    wb.save(src)
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to",
                    "pdf", "--outdir", str(tmp_path), str(src)], check=True, capture_output=True, timeout=180)
    xml = subprocess.run([pdftotext, "-bbox", str(tmp_path / "list.pdf"), "-"], check=True,
                         capture_output=True, text=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S)
    assert len(pages) == 1 and float(pages[0][0]) > float(pages[0][1])  # landscape, all rows on one page
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', pages[0][2])]
    assert "Id" in [w[4] for w in words] and max(w[2] for w in words) <= float(pages[0][0])
    heights = sorted(w[3] - w[1] for w in words)
    assert heights[len(heights) // 2] >= 8.0  # the body text is about 8 pt, not 6
    x0 = next(w[0] for w in words if w[4] == "Beskrivning")
    x1 = next(w[0] for w in words if w[4] == "Id")
    header_bottom = next(w[3] for w in words if w[4] == "Beskrivning")
    text = [w for w in words if x0 - 1 <= w[0] < x1 - 1 and w[1] > header_bottom]
    # no word drawn over another
    for i, a in enumerate(text):
        for b in text[i + 1:]:
            assert min(a[2], b[2]) - max(a[0], b[0]) < 1 or min(a[3], b[3]) - max(a[1], b[1]) < 3, (a, b)
    # each row's lines start at the row's top (the due date's line) and follow each other
    # at one line's pitch: a line that ran over from the row above would be off that grid
    tops = sorted({round(w[1], 1) for w in words if re.fullmatch(r"\d{4}-\d{2}-\d{2}", w[4]) and w[0] < x0})
    assert len(tops) == 9     # one due date a row: 8 violations and a warning
    line_tops = sorted({round(w[1], 1) for w in text})
    pitch = min(b - a for a, b in zip(line_tops, line_tops[1:]))
    assert pitch > 5
    for top in line_tops:
        row_top = max((t for t in tops if t <= top + 0.5), default=None)
        assert row_top is not None, top
        k = round((top - row_top) / pitch)
        assert abs(top - row_top - k * pitch) < 1.5, (top, row_top, pitch)


def test_upcoming_shows_the_whole_unit_name(fixtures_out):
    ws = load_workbook(fixtures_out / "upcoming.xlsx").worksheets[0]
    h = header_index(ws)
    headers = [c.value for c in ws[h]]
    assert headers[:4] == ["Senast", "Vardagar kvar", "Att göra", "Verksamhet"]
    cell = ws.cell(row=h + 1, column=4)
    assert cell.value == "Socialtjänsten Skarpnäck, familjeenheten"
    assert cell.alignment.wrap_text
    width = ws.column_dimensions["D"].width
    height = ws.row_dimensions[h + 1].height or LINE_PT
    assert height / LINE_PT * (width - 2) >= len(cell.value)  # it wraps, within the row's height


@pytest.mark.parametrize("text", HOSTILE)
def test_formulas_never_run_in_xlsx_or_csv(tmp_path, text):
    scan = make_scan(tmp_path / "scan", [finding(1, case=text, meeting=text, message=text, title=text),
                                         finding(2, status="warning", case=text, actual=None),
                                         finding(3, id=text)])   # an id that is not the scan's digest
    build_reports(scan, tmp_path / "out", None)
    for path in [tmp_path / "out" / "units" / "soc.xlsx", tmp_path / "out" / "upcoming.xlsx"]:
        cells = [c for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row]
        assert all(c.data_type != "f" for c in cells)
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert "'" + text in texts
        assert not any(t.lstrip(" ").startswith(FORMULA_TRIGGERS) for t in texts)
    raw = (tmp_path / "out" / "units" / "soc.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    cells = [c for row in rows[1:] for c in row]
    assert "'" + text in cells
    assert not any(c.lstrip(" ").startswith(FORMULA_TRIGGERS) for c in cells if not re.fullmatch(r"-?\d+", c))


@given(st.text())
def test_neutralised_text_never_starts_a_formula(text):
    assert not neutralise(text).lstrip(" ").startswith(FORMULA_TRIGGERS)


@given(st.text())
@settings(max_examples=200)
def test_any_sheet_name_is_one_excel_accepts(text):
    name = sheet_name(text)
    assert 1 <= len(name) <= 31
    assert not re.search(r"[\[\]:*?/\\]", name) and not name.startswith("'") and not name.endswith("'")
    Workbook().create_sheet(title=name)  # openpyxl refuses what Excel refuses


def test_long_and_odd_unit_ids_make_clean_sheet_names():
    assert sheet_name("soc-skarpnack") == "soc-skarpnack"
    assert sheet_name("Socialtjänsten Skarpnäck, familjeenheten") == "Socialtjänsten Skarpnäck, fami…"
    assert sheet_name("a/b:c*d?[e]") == "a_b_c_d__e_"
    assert sheet_name("'") == "Blad"


def test_a_digest_with_ten_digits_in_a_row_is_shown_whole(tmp_path):
    scan = make_scan(tmp_path / "scan", [finding(1, id="1234567890abcdef", case="19121212-1212")])
    build_reports(scan, tmp_path / "out", None)
    row = table(load_workbook(tmp_path / "out" / "units" / "soc.xlsx").worksheets[0])[0]
    assert row["Id"] == "1234567890abcdef"
    assert "1212" not in row["Ärende"]  # a personal number in a case id is still blanked


def test_review_status_and_new_with_a_state_store(tmp_path):
    findings = [finding(1, due="2025-01-10"), finding(2, due="2025-06-10"), finding(3, due="2025-03-10")]
    scan = make_scan(tmp_path / "scan", findings)
    review = {findings[1]["id"]: {"status": "justified", "new": False},
              findings[2]["id"]: {"status": "acknowledged", "new": True}}
    build_reports(scan, tmp_path / "out", None, review=review)
    rows = table(load_workbook(tmp_path / "out" / "units" / "soc.xlsx").worksheets[0])
    # open first (newest first among them), what the unit has dealt with last
    assert [(r["Ärende"], r["Granskning"], r["Ny sedan förra körningen"]) for r in rows] == [
        ("K-3", "Kvitterad", "Ny"), ("K-1", "Öppen", None), ("K-2", "Motiverad", None)]
    csv_rows = list(csv.reader(io.StringIO((tmp_path / "out" / "units" / "soc.csv").read_text("utf-8-sig")),
                               delimiter=";"))
    assert {"Granskning", "Ny sedan förra körningen"} <= set(csv_rows[0])
    # without a store, no such columns
    build_reports(scan, tmp_path / "plain", None)
    assert "Granskning" not in table(load_workbook(tmp_path / "plain" / "units" / "soc.xlsx").worksheets[0])[0]


def test_new_comes_from_changes_jsonl(tmp_path):
    findings = [finding(1), finding(2)]
    scan = make_scan(tmp_path / "scan", findings)
    (scan / "changes.jsonl").write_text(json.dumps({"id": findings[0]["id"], "change": "new"}) + "\n")
    build_reports(scan, tmp_path / "out", None)
    rows = {r["Ärende"]: r for r in table(load_workbook(tmp_path / "out" / "units" / "soc.xlsx").worksheets[0])}
    assert rows["K-1"]["Ny sedan förra körningen"] == "Ny" and rows["K-2"]["Ny sedan förra körningen"] is None
    page = (tmp_path / "out" / "overview.html").read_text(encoding="utf-8")
    assert "Ändringar sedan förra körningen" in page and "Ny: 1" in page


# ---------------------------------------------------------------- the overview

class Cells(HTMLParser):
    """The header cells of the page's tables: (text, title attribute)."""

    def __init__(self):
        super().__init__()
        self.th, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            self._open = ["", dict(attrs).get("title")]

    def handle_data(self, data):
        if self._open is not None:
            self._open[0] += data

    def handle_endtag(self, tag):
        if tag == "th" and self._open is not None:
            self.th.append(tuple(self._open))
            self._open = None


def test_overview_headers_are_swedish_with_the_id_as_tooltip(fixtures_out):
    page = (fixtures_out / "overview.html").read_text(encoding="utf-8")
    parser = Cells()
    parser.feed(page)
    rule_ids = {"consent-before-meeting", "invitation-notice", "mandatory-attendance",
                "meeting-within-30-days", "sip-before-bus-individ"}
    texts = [t for t, _ in parser.th]
    assert not rule_ids & set(texts)
    assert ("Kallelse senast tre veckor före SIP-mötet", "invitation-notice") in parser.th
    assert ("SIP-möte senast inom 30 dagar", "meeting-within-30-days") in parser.th


def test_overview_counts_in_singular_and_plural(tmp_path):
    one = make_scan(tmp_path / "one", [finding(1), finding(2, status="warning", actual=None)],
                    cases=[{"case": "K-1"}])
    build_reports(one, tmp_path / "o1", None)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "o1" / "overview.html").read_text("utf-8")))
    assert "1 avvikelse " in page and "1 varning (en tidsfrist" in page and "1 ärende" in page
    assert "1 verksamhet med avvikelser" in page
    assert not re.search(r"\b1 (avvikelser|varningar|ärenden|verksamheter)\b", page)
    two = make_scan(tmp_path / "two", [finding(1), finding(2)], cases=[{"case": "K-1"}, {"case": "K-2"}])
    build_reports(two, tmp_path / "o2", None)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "o2" / "overview.html").read_text("utf-8")))
    assert "2 avvikelser" in page and "0 varningar" in page and "2 ärenden" in page


def test_information_is_shown_apart_and_not_counted(tmp_path):
    scan = make_scan(tmp_path / "scan", [
        finding(1), finding(2, rule="age-scope", status="information", title="Barnets ålder utanför BUS",
                            unit="bup")])
    build_reports(scan, tmp_path / "out", None)
    page = (tmp_path / "out" / "overview.html").read_text(encoding="utf-8")
    assert "<h2>För information</h2>" in page
    info = page.split("<h2>För information</h2>")[1].split("<h2>")[0]
    assert "Barnets ålder utanför BUS" in info and 'title="age-scope"' in info
    matrix = page.split("<h2>Avvikelser per regel och verksamhet</h2>")[1].split("<h2>")[0]
    assert "age-scope" not in matrix and "bup" not in matrix
    assert re.search(r"<b>1</b>\s*avvikelse<", page)


def test_every_id_and_text_is_escaped(tmp_path):
    evil = '<script>alert(1)</script>"\'&'
    scan = make_scan(tmp_path / "scan", [
        finding(1, unit=evil, rule=evil, title=evil, case=evil),
        finding(2, unit=evil, status="information", rule=evil)], unknown_units=[evil])
    (scan / "changes.jsonl").write_text(json.dumps({"id": evil, "change": evil, "unit": evil}) + "\n")
    build_reports(scan, tmp_path / "out", None, review={"0000000000000001": {"status": evil}})
    page = (tmp_path / "out" / "overview.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'title="&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"' in page


def test_unknown_units_are_listed_when_the_manifest_has_them(tmp_path):
    scan = make_scan(tmp_path / "scan", [finding(1)],
                     unknown_units=["hab-okand", {"id": "vc-ny", "cases": 3, "events": 12}])
    build_reports(scan, tmp_path / "out", None)
    section = (tmp_path / "out" / "overview.html").read_text("utf-8").split("<h2>Okända verksamheter</h2>")[1]
    section = section.split("<h2>")[0]
    assert "hab-okand" in section and "vc-ny" in section
    assert "<th class=\"num\">Ärenden</th>" in section and "<td class=\"num\">12</td>" in section
    plain = make_scan(tmp_path / "plain", [finding(1)])
    build_reports(plain, tmp_path / "out2", None)
    assert "Okända verksamheter" not in (tmp_path / "out2" / "overview.html").read_text("utf-8")


def test_review_table_in_the_overview(tmp_path):
    findings = [finding(1), finding(2), finding(3, unit="bup")]
    scan = make_scan(tmp_path / "scan", findings)
    build_reports(scan, tmp_path / "out", None, review={
        findings[0]["id"]: {"status": "deviation-filed", "new": False},
        findings[2]["id"]: {"status": "open", "new": True}})
    page = (tmp_path / "out" / "overview.html").read_text("utf-8")
    section = page.split("<h2>Granskning</h2>")[1].split("<h2>")[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "Öppen Kvitterad Avvikelse anmäld Motiverad Fel i underlaget Ny sedan förra körningen" in text
    assert "soc 1 0 1 0 0 0" in text and "bup 1 0 0 0 0 1" in text
    assert "2 är öppna" in text
    assert re.search(r"<b>1</b>\s*ny sedan förra körningen", page)


DAYS = st.dates(dt.date(2003, 1, 1), dt.date(2026, 12, 31)).map(dt.date.isoformat)


@given(st.lists(st.fixed_dictionaries({
    "gender": st.sampled_from(["female", "male", "other", None]),
    "sip_processes": st.lists(st.fixed_dictionaries({
        "start": st.one_of(DAYS, st.just(""), st.none()),
        "within_deadline": st.sampled_from([True, False, None])}), max_size=3),
    "meetings": st.lists(st.fixed_dictionaries({
        "held": st.one_of(DAYS, st.none()), "kind": st.sampled_from(["sip", "sip_followup", "bus_individ"]),
        "meeting": st.sampled_from(["M1", "M2"]), "cancelled": st.booleans()}), max_size=3),
    "bus_individ_requests": st.lists(DAYS, max_size=2)}), max_size=12))
@settings(max_examples=60, deadline=None)
def test_indicators_count_each_case_in_its_half_year_and_year(cases):
    """The indicator tables agree with counting period by period, the slow way."""
    cases = [dict(c, case=f"K{n % 5}") for n, c in enumerate(cases)]   # some cases twice
    got = indicators(Scan(Path("."), {}, [], [], cases))

    def period_of(label, d):
        d = dt.date.fromisoformat(d)
        return label == f"Helår {d.year}" or label == f"{'jan–jun' if d.month <= 6 else 'jul–dec'} {d.year}"

    def gender(c):
        return c["gender"] if c["gender"] else "unknown"

    sips = [(p["start"], gender(c), (c["case"], n), p["within_deadline"])
            for c in cases for n, p in enumerate(c["sip_processes"]) if p["start"]]
    held = [(m["held"], gender(c), (c["case"], m["meeting"]), m["kind"])
            for c in cases for m in c["meetings"] if m["held"] and not m["cancelled"]]
    items = [[t[:3] for t in sips],
             [t[:3] for t in held if t[3] != "bus_individ"],
             [t[:3] for t in held if t[3] == "bus_individ"],
             [(t[0], t[1], t[2][0]) for t in held if t[3] == "bus_individ"]
             + [(d, gender(c), c["case"]) for c in cases for d in c["bus_individ_requests"]]]
    for table_, its in zip(got["tables"], items):
        for row in table_["rows"]:
            want = [len({k for d, g, k in its if g == gid and period_of(row["period"], d)}) for gid, _ in GENDERS]
            assert row["counts"] == want, (table_["title"], row)
    for row in got["share"]:
        mine = [t for t in sips if period_of(row["period"], t[0])]
        assert (row["decided"], row["within"], row["open"]) == (
            sum(t[3] is not None for t in mine), sum(t[3] is True for t in mine), sum(t[3] is None for t in mine))


def test_the_overview_counts_cases_read_from_the_file(tmp_path):
    """The reports read the cases when they count them (not kept in memory): every case
    counted, and a broken line named by file and line."""
    cases = [{"case": f"K-{n}", "gender": "female", "meetings": [
        {"meeting": "M1", "kind": "sip", "held": "2025-03-0%d" % (1 + n % 5)}]} for n in range(7)]
    scan = make_scan(tmp_path / "scan", [finding(1)], cases)
    build_reports(scan, tmp_path / "out", None)
    page = (tmp_path / "out" / "overview.html").read_text("utf-8")
    assert "· 7 ärenden</p>" in page
    with (scan / "cases.jsonl").open("a") as fh:
        fh.write("{inte json\n")
    with pytest.raises(NotAScanFolder, match=r"cases\.jsonl: rad 8 är inte JSON"):
        build_reports(scan, tmp_path / "out2", None, drafts=False)


def test_half_year_table_marks_the_gap(tmp_path):
    scan = make_scan(tmp_path / "scan", [finding(1, due="2005-03-01"), finding(2, due="2024-03-01")])
    build_reports(scan, tmp_path / "out", None)
    page = (tmp_path / "out" / "overview.html").read_text("utf-8")
    assert 'title="Inga avvikelser jul–dec 2005 – jul–dec 2023">…</th>' in page


# ---------------------------------------------------------------- compliance report

def test_report_refuses_a_folder_that_is_not_empty(tmp_path):
    out = tmp_path / "papers"
    out.mkdir()
    (out / "letter.txt").write_text("mine")
    result = CliRunner().invoke(report, [str(ROOT / "tests" / "data" / "scan_small"), "--out", str(out)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "mappen är inte tom" in lines[0] and str(out) in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["letter.txt"]


def test_report_replaces_a_previous_report(tmp_path):
    small = ROOT / "tests" / "data" / "scan_small"
    out = tmp_path / "out"
    assert CliRunner().invoke(report, [str(small), "--out", str(out)]).exit_code == 0
    stale = out / "units" / "gone-unit.xlsx"
    stale.write_bytes(b"old")
    result = CliRunner().invoke(report, [str(small), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"Rapporter: \d+ filer i .*\n", result.stderr)
    assert not stale.exists()  # a unit with nothing left keeps no old list
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_report_names_a_missing_units_file(tmp_path):
    missing = tmp_path / "enheter.toml"
    result = CliRunner().invoke(report, [str(ROOT / "tests" / "data" / "scan_small"), "--out",
                                         str(tmp_path / "out"), "--units", str(missing)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"compliance: {missing}: enhetsregistret finns inte (--units)"]
    assert not (tmp_path / "out").exists()


def test_report_on_a_full_disk_leaves_no_partial_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    import compliance.reporting.overview as overview

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(overview, "write_overview", full)  # the last report: all others written
    result = CliRunner().invoke(report, [str(ROOT / "tests" / "data" / "scan_small"), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"compliance: {out}: rapporterna kan inte skrivas: disken är full"]
    assert list(out.iterdir()) == []


def test_report_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(report, [str(ROOT / "tests" / "data" / "scan_small"), "--out",
                                             str(tmp_path / "new")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    for folder in (tmp_path / "new", tmp_path / "new" / "units", tmp_path / "new" / "deviations"):
        assert folder.stat().st_mode & 0o777 == 0o755, folder


def test_report_help_is_swedish():
    result = CliRunner().invoke(report, ["--help"])
    assert "Skriv rapporterna" in result.output and "Enhetsregister" in result.output
    assert "Folder for" not in result.output and "Write the reports" not in result.output
