"""Reports for people (outputs.md, issue 4), read back the way a reader would see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook

from compliance.reporting import build_reports
from compliance.reporting.cli import report
from compliance.dates_sv import date_sv, half_year_sv
from compliance.reporting.tables import UNIT_COLUMNS, neutralise

from helpers import docx_text

DATA = Path(__file__).parent / "data" / "scan_small"
UNITS = DATA / "units.toml"
HOSTILE = '=HYPERLINK("x")'
# 10 or 12 digits, with or without the separator: what a personal number looks like
PERSONAL_NUMBER = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")


RUN_DATE = "2026-01-07"      # the day the drafts are written (COMPLIANCE_RUN_DATE)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLIANCE_RUN_DATE", RUN_DATE)
        build_reports(DATA, out, UNITS)
    return out


def table_rows(path: Path, index: int) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in Document(str(path)).tables[index].rows]


def sheet_rows(path: Path) -> list[list]:
    """The list's header row and the rows below it (the title rows above left out)."""
    ws = load_workbook(path).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return rows[2:]


def all_output_text(root: Path) -> dict[Path, str]:
    texts = {}
    for p in sorted(root.rglob("*")):
        if p.suffix in (".docx", ".xlsx"):
            with zipfile.ZipFile(p) as z:
                texts[p] = "\n".join(re.sub(r"<[^>]+>", " ", z.read(n).decode("utf-8", "replace"))
                                     for n in z.namelist())
        elif p.is_file():
            texts[p] = p.read_text(encoding="utf-8-sig")
    return texts


# ---------------------------------------------------------------- Swedish dates

def test_swedish_dates():
    assert date_sv("2025-03-03") == "3 mars 2025"
    assert date_sv(dt.date(2025, 12, 31)) == "31 december 2025"
    assert date_sv("2025-06-20", weekday=True) == "fredag 20 juni 2025"
    assert date_sv(None) == ""
    assert half_year_sv((2025, 1)) == "jan–jun 2025"


# ---------------------------------------------------------------- Word

def test_one_docx_beside_each_draft(out):
    drafts = sorted(p.stem for p in (DATA / "deviations").glob("*.md"))
    docs = sorted(p.stem for p in (out / "deviations").glob("*.docx"))
    assert docs == drafts
    assert len(docs) == 7


def test_markdown_drafts_are_the_expected_files(out):
    """tests/data/scan_small/deviations holds what the drafts of this scan must say."""
    want = {p.name: p.read_text(encoding="utf-8") for p in (DATA / "deviations").glob("*.md")}
    got = {p.name: p.read_text(encoding="utf-8") for p in (out / "deviations").glob("*.md")}
    assert got == want


def test_docx_reads_as_the_regional_form(out):
    # bup-test (B) was invited to K-001's meeting M1, convened by soc-test (A), and stayed away
    path = out / "deviations" / "K-001__bup-test__från__soc-test.docx"
    text = docx_text(path)
    assert "Avvikelseblankett för BUS-samverkan" in text
    facts = dict((r[0], r[1]) for r in table_rows(path, 0))
    assert facts["Typ av avvikelse"] == "Avvikelse i BUS-samverkan"
    assert facts["Datum (utkastet skrivet)"] == "7 januari 2026"   # the run date, not the as-of date
    assert facts["Ärende (pseudonym)"] == "K-001"
    assert facts["Rapporterande verksamhet (A)"] == "Socialtjänsten Testby"
    assert facts["Ansvarig chef (A)"] == "Enhetschef Anna Exempel"
    assert facts["Mottagande verksamhet (B)"] == "BUP Testby"
    assert facts["Ansvarig chef (B)"] == "Enhetschef Bo Prov"
    # what was not met, its id, the quoted source with the agreement's name, the rule version
    assert "1. Alla kallade deltar i SIP-mötet (3 mars 2025)" in text
    assert "Fynd-id: eb1df86f87574aea · regel mandatory-attendance, version 2018-04-17" in text
    assert "Kallad verksamhet: BUP Testby" in text
    assert "Kallelsen skickades: 20 februari 2025" in text
    assert "Deltog: nej: verksamheten var kallad men uteblev från mötet" in text
    assert "Försening" not in text and "samma dag" not in text
    assert "”Samtliga aktörer som blir kallade till SIP är enligt lag skyldiga att komma" in text
    assert "— Lokal överenskommelse BUS Skarpnäck — Skarpnäcks stadsdelsförvaltning" in text
    # the evidence timeline, Swedish dates, in order, with the invitation's recipient
    timeline = table_rows(path, 1)
    assert timeline[0] == ["Datum", "Tid", "Händelse", "Verksamhet", "Möte", "Händelse-id"]
    assert timeline[1] == ["20 februari 2025", "09:01", "Kallelse skickad till BUP Testby",
                           "Socialtjänsten Testby", "M1", "K-001-6"]
    assert timeline[2][0] == "3 mars 2025" and timeline[2][2] == "Möte genomfört (SIP)"
    # the fields left for people, empty
    for heading in ("Förslag till åtgärd", "Svar från mottagande verksamhet", "Avslutning av ärendet"):
        assert heading in [p.text for p in Document(str(path)).paragraphs]
    for i in (2, 3, 4):
        rows = table_rows(path, i)
        assert all(r[1].strip() == "" for r in rows), rows
    assert "Styrgruppens beslut om åtgärder" in text
    # copies and the 7 steps
    assert "BUS-sekretariatet: BUS-sekretariatet Testby" in text
    assert "Sammankallande för BUS-styrgruppen: Stadsdelsdirektören i Testby" in text
    assert "7) Den nya informationen kommuniceras till berörda verksamheter." in text
    assert "Utkast skrivet 7 januari 2026 av bus-compliance 0.1.0 ur ärendeloggen, bedömd per 31 december 2025" in text
    assert "{{" not in text and "{%" not in text


def test_docx_several_items_and_late_days(out):
    text = docx_text(out / "deviations" / "K-002__bup-test__från__soc-test.docx")
    assert "1. Alla kallade deltar i SIP-mötet (5 februari 2025)" in text
    assert "2. Alla kallade deltar i SIP-mötet (10 april 2025)" in text
    late = docx_text(out / "deviations" / "K-001__soc-test__från__skola-test.docx")
    assert "Kallelsen gick till: Testskolan" in late
    assert "Skulle ha skickats senast: 10 februari 2025" in late
    assert "Skickades: 20 februari 2025" in late
    assert "Försening: 10 dagar (8 vardagar)" in late
    assert "Så räknades sista dagen: 2025-03-03 − 21 dagar = 2025-02-10" in late
    clock = docx_text(out / "deviations" / "K-001__soc-test__från__bup-test.docx")
    assert "meeting-within-30-days, version 2013-01-01" in clock
    assert "2025-01-10 + 30 dagar = 2025-02-09, söndag → måndag 2025-02-10" in clock


def test_docx_intern_draft_has_no_cooperation_form(out):
    path = out / "deviations" / "K-006__soc-test.docx"
    text = docx_text(path)
    assert "Intern avvikelse" in text and "Avvikelseblankett för BUS-samverkan" not in text
    facts = dict((r[0], r[1]) for r in table_rows(path, 0))
    assert facts["Typ av avvikelse"] == "Intern avvikelse"
    assert facts["Rapporterande verksamhet (A)"] == facts["Mottagande verksamhet (B)"] == "Socialtjänsten Testby"
    assert "Utredning och åtgärd" in text
    assert "Kopia till" not in text and "Svar från mottagande verksamhet" not in text


def test_docx_hostile_and_unknown_units(out):
    from compliance.escaping import draft_stem
    hostile = out / "deviations" / f"{draft_stem(HOSTILE, 'skola-test', 'soc-test')}.docx"
    assert dict((r[0], r[1]) for r in table_rows(hostile, 0))["Ärende (pseudonym)"] == HOSTILE
    unknown = out / "deviations" / "K-002__hab-okand__från__soc-test.docx"
    facts = dict((r[0], r[1]) for r in table_rows(unknown, 0))
    assert facts["Mottagande verksamhet (B)"] == "hab-okand"
    assert facts["Ansvarig chef (B)"] == "ansvarig chef (fylls i)"


def test_docx_template_is_edited_without_code(tmp_path):
    """A secretariat edits the template in Word; the next run uses the edited wording."""
    from compliance.reporting.contexts import deviation_contexts
    from compliance.reporting.scan_data import load_scan
    from compliance.units import load_units
    from compliance.reporting.word import TEMPLATES_DIR, write_deviation_docx
    tpl_dir = tmp_path / "reports"
    tpl_dir.mkdir()
    doc = Document(str(TEMPLATES_DIR / "avvikelse.docx"))
    title = next(p for p in doc.paragraphs if p.text == "Avvikelseblankett för BUS-samverkan")
    title.runs[0].text = "Avvikelseblankett – Testby kommun"
    doc.add_paragraph("Kontakt: {{ bus_secretariat }}")
    doc.save(str(tpl_dir / "avvikelse.docx"))
    drafts = deviation_contexts(load_scan(DATA), *load_units(UNITS), dt.date(2025, 3, 3))
    draft = next(d for d in drafts if d["filename"] == "K-001__bup-test__från__soc-test")
    path = write_deviation_docx(draft, {"as_of": "2025-12-31"}, tmp_path / "out", template_dir=tpl_dir)
    text = docx_text(path)
    assert "Avvikelseblankett – Testby kommun" in text
    assert "Kontakt: BUS-sekretariatet Testby" in text
    assert "3 mars 2025" in text


# ---------------------------------------------------------------- per-unit lists

def test_unit_files_only_for_units_with_findings(out):
    names = sorted(p.name for p in (out / "units").iterdir())
    assert names == sorted(f"{u}.{ext}" for u in ("bup-test", "hab-okand", "skola-test", "soc-test")
                           for ext in ("csv", "xlsx"))
    assert not (out / "units" / "hab-tom.xlsx").exists()


def test_unit_xlsx(out):
    path = out / "units" / "soc-test.xlsx"
    wb = load_workbook(path)
    ws = wb.active
    assert ws.title == "soc-test"
    assert ws["A1"].value.startswith("Socialtjänsten Testby (soc-test)")
    assert "Bedömningsdag 31 december 2025" in ws["A2"].value
    rows = sheet_rows(path)
    assert rows[0] == [c.header for c in UNIT_COLUMNS]
    assert rows[0][:3] == ["Förfallodag", "Status", "Regel"]
    body = rows[1:]
    assert len(body) == 4
    dues = [r[0] for r in body]
    assert all(isinstance(d, dt.datetime) for d in dues)  # real date cells
    assert dues == sorted(dues, reverse=True)  # newest first
    assert dues[-1].date() == dt.date(2024, 11, 4)
    assert ws["A4"].number_format == "yyyy-mm-dd"
    last = dict(zip(rows[0], body[-1]))
    assert last["Status"] == "Avvikelse" and last["Utfört"].date() == dt.date(2024, 11, 12)
    assert last["Dagar sent"] == 8 and last["Vardagar sent"] == 6
    assert dict(zip(rows[0], body[0]))["Status"] == "Varning"
    assert ws.freeze_panes == "A4"
    assert ws.auto_filter.ref == f"A3:J{ws.max_row}"
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert all(widths[col] >= 7 for col in "ABCDEFGHI")
    assert widths["I"] >= 40  # the Swedish sentence is readable
    assert all(widths[col] <= 60 for col in widths)


def test_hostile_text_cells_are_neutralised(out):
    for path in (out / "units").glob("*.xlsx"):
        ws = load_workbook(path).active
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (path, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert not c.value.startswith(("=", "+", "-", "@", "\t", "\r")), c.value
    rows = sheet_rows(out / "units" / "skola-test.xlsx")
    case_col = rows[0].index("Ärende")
    assert "'" + HOSTILE in [r[case_col] for r in rows[1:]]
    assert neutralise("-1+1") == "'-1+1" and neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("K-1") == "K-1"


def test_unit_csv_for_swedish_excel(out):
    raw = (out / "units" / "skola-test.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:len(UNIT_COLUMNS)] == [c.header for c in UNIT_COLUMNS]
    assert {"Regel-id", "Regelversion", "Underlag (händelser)"} <= set(rows[0])  # the audit columns too
    xlsx = sheet_rows(out / "units" / "skola-test.xlsx")
    assert len(rows) == len(xlsx) == 3
    assert [r[0] for r in rows[1:]] == ["2026-01-05", "2025-09-15"]
    assert rows[2][rows[0].index("Ärende")] == "'" + HOSTILE
    for row in rows[1:]:
        for cell in row:
            if not re.fullmatch(r"-?\d+", cell):  # numbers (days late) are numbers
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_unknown_unit_falls_back_to_id(out):
    wb = load_workbook(out / "units" / "hab-okand.xlsx")
    assert wb.active.title == "hab-okand"
    assert wb.active["A1"].value.startswith("hab-okand:")


# ---------------------------------------------------------------- upcoming

def test_upcoming(out):
    rows = sheet_rows(out / "upcoming.xlsx")
    header = rows[0]
    assert header[:3] == ["Senast", "Vardagar kvar", "Att göra"]
    assert {"Regel", "Ärende", "Möte", "Verksamhet"} <= set(header)
    body = [dict(zip(header, r)) for r in rows[1:]]
    assert len(body) == 2
    invite = next(r for r in body if r["Ärende"] == "K-004")
    # due 6 January 2026 is trettondedag jul: the last business day to send is the 5th
    assert invite["Senast"].date() == dt.date(2026, 1, 5)
    assert invite["Att göra"].startswith("Skicka kallelse till mötet M1 senast 5 januari 2026")
    assert invite["Verksamhet"] == "Socialtjänsten Testby"
    sip = next(r for r in body if r["Ärende"] == "K-005")
    assert sip["Att göra"].startswith("Håll SIP-mötet senast 5 januari 2026")
    assert sip["Verksamhet"] == "Testskolan"
    assert load_workbook(out / "upcoming.xlsx").active.freeze_panes == "A4"


# ---------------------------------------------------------------- overview

def test_overview_is_self_contained(out):
    page = (out / "overview.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*(["'])(?!#|data:)""", page)
    assert "@import" not in page and "url(" not in page.replace("url(#", "")
    assert "<svg" in page
    assert 'lang="sv"' in page
    for expected in ("Avvikelser per regel och verksamhet", "Upprepade uteblivanden",
                     "Antal SIP-processer", "Antal ärenden i BUS-individ", "SIP-möte inom 30 dagar"):
        assert expected in page


# ---------------------------------------------------------------- privacy, robustness

def test_no_personal_numbers_anywhere(out):
    texts = all_output_text(out)
    assert len(texts) >= 16
    for path, text in texts.items():
        assert not PERSONAL_NUMBER.search(text), (path, PERSONAL_NUMBER.search(text).group())
    # the scan data does hold one (a meeting id from a hostile export)
    assert PERSONAL_NUMBER.search((DATA / "findings.jsonl").read_text(encoding="utf-8"))


def test_rerun_gives_the_same_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    pa = build_reports(DATA, a, UNITS)
    pb = build_reports(DATA, b, UNITS)
    assert [p.relative_to(a) for p in pa] == [p.relative_to(b) for p in pb]
    for p in pa:
        q = b / p.relative_to(a)
        if p.suffix in (".docx", ".xlsx"):
            with zipfile.ZipFile(p) as za, zipfile.ZipFile(q) as zb:
                assert za.namelist() == zb.namelist()
                for name in za.namelist():
                    if name != "docProps/core.xml":  # timestamps
                        assert za.read(name) == zb.read(name), (p, name)
        else:
            assert p.read_bytes() == q.read_bytes(), p


def test_reports_in_the_scan_folder(tmp_path):
    scan = tmp_path / "scan"
    shutil.copytree(DATA, scan)
    build_reports(scan, scan, None)  # register from manifest.units_file
    for md in (scan / "deviations").glob("*.md"):
        assert md.with_suffix(".docx").exists()
    assert (scan / "units" / "bup-test.xlsx").exists()
    assert load_workbook(scan / "units" / "bup-test.xlsx").active["A1"].value.startswith("BUP Testby")


def test_without_register_ids_are_shown(tmp_path):
    scan = tmp_path / "scan"
    shutil.copytree(DATA, scan)
    (scan / "units.toml").unlink()
    build_reports(scan, tmp_path / "out", None)
    assert load_workbook(tmp_path / "out" / "units" / "bup-test.xlsx").active["A1"].value.startswith("bup-test:")
    facts = dict((r[0], r[1]) for r in table_rows(
        tmp_path / "out" / "deviations" / "K-001__bup-test__från__soc-test.docx", 0))
    assert facts["Mottagande verksamhet (B)"] == "bup-test"


def test_empty_scan(tmp_path):
    scan = tmp_path / "scan"
    scan.mkdir()
    (scan / "findings.jsonl").write_text("", encoding="utf-8")
    (scan / "manifest.json").write_text(json.dumps({"as_of": "2025-06-30", "rules": []}), encoding="utf-8")
    paths = build_reports(scan, tmp_path / "out", None)
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in paths)
    assert names == ["overview.html", "upcoming.xlsx"]
    page = (tmp_path / "out" / "overview.html").read_text(encoding="utf-8")
    assert "Skanningen är tom" in page
    assert "Skanningen innehåller inga avvikelser." in page
    rows = sheet_rows(tmp_path / "out" / "upcoming.xlsx")
    assert rows[1][0] == "Inga kommande tidsfrister i skanningen."


# ---------------------------------------------------------------- command line

def test_cli_report(tmp_path):
    result = CliRunner().invoke(report, [str(DATA), "--out", str(tmp_path / "o"), "--units", str(UNITS)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "overview.html").exists()


def test_cli_not_a_scan_folder(tmp_path):
    (tmp_path / "nothing").mkdir()
    for target in (tmp_path / "nothing", tmp_path / "missing"):
        result = CliRunner().invoke(report, [str(target), "--out", str(tmp_path / "o")])
        assert result.exit_code == 1
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "är ingen skanningsmapp" in lines[0] or "mappen finns inte" in lines[0]
