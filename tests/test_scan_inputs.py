"""What `compliance scan` makes of messy inputs (issue 16): the same event in several files
and formats counts once, units are read by name, hostile files are one line each while
the other files are scanned, implausible birth dates are warnings, and no personal number
reaches any output."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.privacy import contains_personal_number, luhn_check_digit
from compliance.scan import run_scan, summary_lines
from helpers import ROOT, ev
from test_hostile_files import BILLION_LAUGHS, EXPORTS, deep, sheet, xlsx_with, xxe
from test_privacy import spelled_numbers

LOG = ROOT / "fixtures" / "log" / "cases.jsonl"
UNITS = ROOT / "fixtures" / "units.toml"
AS_OF = dt.date(2025, 12, 31)
HEADER = "Ärende;Personnummer;Händelse;Datum;Enhet\r\n"


def scan_cli(tmp_path: Path, *args: str | Path, memory: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    proc = subprocess.run([sys.executable, "-m", "compliance", "scan", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, preexec_fn=limit)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------- the same event once

def test_the_four_export_formats_scanned_together_give_the_findings_of_the_log():
    """CSV (two encodings), XLSX and XES of fixtures/log, scanned together: each event
    once, with the log's own ids (the XES keeps them; they sort before the rows' digests),
    so the findings are byte for byte those of the log."""
    base = run_scan([LOG], AS_OF, workers=1)
    merged = run_scan([EXPORTS], AS_OF, workers=1)
    assert len(base.findings) == 26
    assert merged.findings_lines == base.findings_lines
    assert merged.counts["events"] == base.counts["events"] == 302
    assert merged.counts["duplicates"] == 3 * 302
    assert merged.counts["rejects"] == 9            # the tables' three bad rows, in each of three
    c = merged.counts
    assert c["lines"] == c["events"] + c["rejects"] + c["blank"] + c["duplicates"]
    lines = summary_lines(merged)
    assert "dubbletter: 906 (samma händelse i flera filer); räknas en gång" in lines
    for name in ("standard-sv.cp1252.csv", "standard-sv.utf8-bom.csv", "standard-sv.xlsx"):
        assert f"  {EXPORTS / name}: dubbletter: 302 (samma händelse i flera filer)" in lines


def test_the_tables_before_the_xes_give_the_same_findings(tmp_path):
    """Whichever file comes first, the kept event has the smaller id (the log's own)."""
    first = tmp_path / "a-first.csv"
    shutil.copy(EXPORTS / "standard-sv.utf8-bom.csv", first)
    merged = run_scan([first, EXPORTS / "cases.xes"], AS_OF, workers=1)
    assert merged.findings_lines == run_scan([LOG], AS_OF, workers=1).findings_lines


def test_two_copies_of_an_export_give_the_findings_of_one_and_name_the_duplicates(tmp_path):
    copy = tmp_path / "kopia.csv"
    shutil.copy(EXPORTS / "standard-sv.cp1252.csv", copy)
    one, two = tmp_path / "one", tmp_path / "two"
    p1 = scan_cli(tmp_path, EXPORTS / "standard-sv.cp1252.csv", "--as-of", AS_OF, "--out", one)
    p2 = scan_cli(tmp_path, EXPORTS / "standard-sv.cp1252.csv", copy, "--as-of", AS_OF, "--out", two)
    assert p1.returncode == p2.returncode == 0, p2.stderr
    assert (one / "findings.jsonl").read_bytes() == (two / "findings.jsonl").read_bytes()
    assert (one / "cases.jsonl").read_bytes() == (two / "cases.jsonl").read_bytes()
    assert "dubbletter: 302 (samma händelse i flera filer); räknas en gång" in p2.stderr
    assert f"{copy}: dubbletter: 302 (samma händelse i flera filer)" in p2.stderr
    m = manifest(two)
    assert m["counts"]["duplicates"] == 302 and m["duplicates"] == {"other_files": 302, "same_file": 0}
    assert [(i["path"], i["duplicates"]) for i in m["inputs"]] == [
        (str(EXPORTS / "standard-sv.cp1252.csv"), 0), (str(copy), 302)]
    # the copy's three bad rows are rejects of their own: every row is accounted for
    assert len((two / "rejects.jsonl").read_text().splitlines()) == 6


def test_the_same_id_with_other_content_is_a_reject_naming_both_lines(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(ev("h1", "sip.initiated", "2025-03-03", case="K1") + "\n", encoding="utf-8")
    b.write_text(ev("h1", "sip.initiated", "2025-03-03", case="K1") + "\n"      # the same event: a duplicate
                 + ev("h1", "sip.initiated", "2025-03-04", case="K1") + "\n", encoding="utf-8")
    result = run_scan([a, b], AS_OF, workers=1)
    assert (result.counts["events"], result.counts["duplicates"]) == (1, 1)
    [reject] = result.rejects
    assert (reject["file"], reject["line"]) == (str(b), 2)
    assert reject["reason"] == f"fält 'id': händelse-id 'h1' finns redan med annat innehåll ({a}, rad 1)"
    assert json.loads(reject["raw"])["at"] == "2025-03-04"


# ------------------------------------------------------------------- units by name

def test_units_by_name_and_alias_and_the_unknown_ones(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([
        ev("e1", "sip.initiated", "2025-03-03", case="K1", unit="Björkhagens  SKOLA"),
        ev("e2", "meeting.scheduled", "2025-03-04", case="K1", unit="Björkhagsskolan", meeting="M1",
           kind="sip", date="2025-03-20"),
        ev("e3", "invitation.sent", "2025-03-10", case="K1", unit="skola-bjorkhagen", meeting="M1",
           to="Barn- och ungdomspsykiatrin Farsta"),
        ev("e4", "meeting.held", "2025-03-20", case="K1", unit="skola-bjorkhagen", meeting="M1",
           attendees=["Björkhagens skola", "BVC Okänd"]),
        ev("e5", "case.opened", "2025-03-01", case="K2", unit="Fritids Okänt"),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = scan_cli(tmp_path, log, "--units", UNITS, "--as-of", AS_OF, "--out", out, "--report")
    assert proc.returncode == 0, proc.stderr
    assert "okända verksamheter (finns inte i enhetsregistret): BVC Okänd, Fritids Okänt" in proc.stderr
    assert manifest(out)["unknown_units"] == [{"id": "BVC Okänd"}, {"id": "Fritids Okänt"}]
    findings = [json.loads(x) for x in (out / "findings.jsonl").read_text().splitlines()]
    late = [f for f in findings if f["rule"] == "invitation-notice"]
    assert [(f["unit"], f["meeting"]) for f in late] == [("skola-bjorkhagen", "M1")]   # the name became the id
    absent = {f["unit"] for f in findings if f["rule"] == "mandatory-attendance"}
    assert absent == {"bup-farsta"}
    assert not list((out / "deviations").glob("*Björkhagens*"))
    page = (out / "overview.html").read_text(encoding="utf-8")
    assert "Okända verksamheter" in page and "Fritids Okänt" in page

    strict = tmp_path / "strict"
    proc = scan_cli(tmp_path, log, "--units", UNITS, "--strict-units", "--as-of", AS_OF, "--out", strict)
    assert proc.returncode == 0, proc.stderr
    rejects = [json.loads(x) for x in (strict / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "fält 'attendees[1]': okänd verksamhet 'BVC Okänd' (finns inte i enhetsregistret)"),
        (5, "fält 'unit': okänd verksamhet 'Fritids Okänt' (finns inte i enhetsregistret)")]
    assert manifest(strict)["counts"]["events"] == 3


def test_strict_units_needs_a_register(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(ev("e1", "case.opened", "2025-03-03") + "\n", encoding="utf-8")
    proc = scan_cli(tmp_path, log, "--strict-units", "--out", tmp_path / "o")
    assert proc.returncode == 2 and "--strict-units kräver --units" in proc.stderr


# ------------------------------------------------------------------- birth dates

def test_implausible_birth_dates_are_warnings_in_the_summary_and_the_manifest(tmp_path):
    src = tmp_path / "p.csv"
    ok = "121212-121" + luhn_check_digit("121212121")
    src.write_text(HEADER + "K1;19121212-1212;Ärende öppnat;2025-03-03;soc\r\n"
                   + f"K2;{ok};Ärende öppnat;2025-03-03;soc\r\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = scan_cli(tmp_path, src, "--as-of", AS_OF, "--out", out)
    assert proc.returncode == 0, proc.stderr
    warning = ("ärende K1: barnet var 112 år när ärendet öppnades 2025-03-03 (över 25); "
               "kontrollera personnumret (fel sekel?)")
    assert f"varning: {warning}" in proc.stderr and "K2" not in proc.stderr
    assert manifest(out)["birth_date_warnings"] == [warning]


# ------------------------------------------------------------------- hostile files

def test_hostile_files_are_one_line_each_and_the_rest_is_scanned(tmp_path):
    (tmp_path / "secret.txt").write_text("HEMLIGT-INNEHÅLL\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "K1;;SIP initierad;2025-03-03;soc\r\n", encoding="utf-8")
    bad = {
        "zip-bomb.xlsx": xlsx_with(sheet([["Ärende", "Händelse", "Datum"]], b"<row/>" * 10_000_000)),
        "truncated.xlsx": (EXPORTS / "standard-sv.xlsx").read_bytes()[:3000],
        "encrypted.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000,
        "deep.xes": deep(600).encode(),
        "billion-laughs.xes": BILLION_LAUGHS.encode(),
        "xxe.xes": xxe(tmp_path / "secret.txt").encode(),
        "truncated.xes": (EXPORTS / "cases.xes").read_bytes()[:20_000],
        "missing-columns.csv": "Ärende;Händelse\r\nK1;SIP initierad\r\n".encode(),
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    readme = tmp_path / "README.txt"
    readme.write_text("exports\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = scan_cli(tmp_path, tmp_path, "--as-of", AS_OF, "--out", out, memory=1536 << 20)
    assert proc.returncode == 1, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("FEL: ")]
    assert sorted(x.split(":")[1].strip() for x in errors) == sorted(str(tmp_path / n) for n in bad), errors
    assert proc.stderr.rstrip().splitlines()[-1] == \
        f"compliance: {len(bad)} filer kunde inte läsas; utdata bygger på de övriga"
    assert f"{readme}: hoppas över (okänd filändelse '.txt'" in proc.stderr
    # the good file was scanned and written; the bad ones count not at all
    m = manifest(out)
    assert [i["path"] for i in m["inputs"]] == [str(good)]
    assert m["counts"]["events"] == 1 and len(m["unreadable_inputs"]) == len(bad)
    written = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.json*"))
    assert "HEMLIGT" not in written + proc.stderr and "lollol" not in written


def test_with_a_state_store_an_unreadable_file_writes_nothing(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "K1;;SIP initierad;2025-03-03;soc\r\n", encoding="utf-8")
    bad = tmp_path / "truncated.xlsx"
    bad.write_bytes((EXPORTS / "standard-sv.xlsx").read_bytes()[:3000])
    out = tmp_path / "out"
    proc = scan_cli(tmp_path, good, bad, "--as-of", AS_OF, "--out", out, "--state", tmp_path / "state.db")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(f"compliance: {bad}: ") and "avkortad" in lines[0]
    assert lines[1].startswith("compliance: med --state skrivs inget")
    assert not out.exists()


def test_nothing_readable_is_exit_1_with_nothing_written(tmp_path):
    bad = tmp_path / "not-xml.xes"
    bad.write_text("ingen XML\n", encoding="utf-8")
    proc = scan_cli(tmp_path, bad, tmp_path / "saknas.jsonl", "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert [x.split(":")[1].strip() for x in proc.stderr.splitlines()] == [
        str(tmp_path / "saknas.jsonl"), str(bad)]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------- no personal number

def _texts(root: Path) -> dict[str, str]:
    """Every file under `root` as text (Word and Excel files member by member), with the
    file's own path as one more text: names are outputs too."""
    texts = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        texts[f"name:{rel}"] = rel
        if p.is_dir():
            continue
        if p.suffix in (".docx", ".xlsx"):
            with zipfile.ZipFile(p) as z:
                for member in z.namelist():
                    texts[f"{rel}!{member}"] = z.read(member).decode("utf-8", "replace")
        else:
            texts[rel] = p.read_bytes().decode("utf-8", "replace")
    return texts


HEX_DIGEST = re.compile(r"\b[0-9a-f]{16}(?:[0-9a-f]{48})?\b")
FIELDS = ["case", "unit", "meeting", "id", "to", "attendees", "text", "comment", "chair", "file"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spelled_numbers(), st.sets(st.sampled_from(FIELDS), min_size=1, max_size=3))
def test_no_output_of_a_scan_holds_a_number_put_into_any_field(number, where):
    """A personal number in any spelling, in any field of a log (or in a CSV export's
    Personnummer column, or the input's file name): no file the scan writes, with its
    reports, no file name, and nothing it prints holds it."""
    text, _ = number

    def put(field: str, value: str) -> str:
        return f"{value} {text}" if field in where else value

    events = [
        ev(put("id", "e1"), "sip.initiated", "2025-03-03", case=put("case", "K1"), unit=put("unit", "soc")),
        ev("e2", "meeting.scheduled", "2025-03-04", case=put("case", "K1"), unit=put("unit", "soc"),
           meeting=put("meeting", "M1"), kind="sip", date="2025-03-20", comment=put("comment", "x")),
        ev("e3", "invitation.sent", "2025-03-10", case=put("case", "K1"), unit=put("unit", "soc"),
           meeting=put("meeting", "M1"), to=put("to", "bup"), channel="email", text=put("text", "Kallelse")),
        ev("e4", "meeting.held", "2025-03-20", case=put("case", "K1"), unit=put("unit", "soc"),
           meeting=put("meeting", "M1"), attendees=[put("attendees", "soc")], chair=put("chair", "A")),
        # a case untouched by the number, so that there are findings, drafts and reports
        ev("f1", "sip.initiated", "2025-03-03", case="K9", unit="soc"),
        ev("f2", "meeting.held", "2025-03-20", case="K9", unit="soc", meeting="M9", kind="sip",
           attendees=["soc"]),
        ev("f3", "invitation.sent", "2025-03-19", case="K9", unit="soc", meeting="M9", to="bup",
           comment=put("comment", "y")),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        name = "export " + (text.replace("/", "-") if "file" in where else "") + ".jsonl"
        log = tmp / name
        log.write_text("\n".join(events) + "\n", encoding="utf-8")
        csv = tmp / "export.csv"
        csv.write_text(HEADER + f"K8;{text};Ärende öppnat;2025-03-03;soc\r\n", encoding="utf-8")
        out = tmp / "out"
        result = run_scan([log, csv], AS_OF, out_dir=out, workers=1, report=True)
        assert result.findings                        # something to report, so reports were written
        texts = _texts(out)
        texts["summary"] = "\n".join(summary_lines(result))
        assert len(texts) > 15
        for where_, content in texts.items():
            # digests (inputs' SHA-256, finding ids) are hex the scan made, not input: a run
            # of their digits can pass the check digit by chance
            content = HEX_DIGEST.sub("<digest>", content)
            assert not contains_personal_number(content), where_
            assert not contains_personal_number(html.unescape(content)), where_
