"""Hostile and broken inputs: each is one Swedish line naming the file (and sheet, row or
element), never a traceback, within bounded memory; the other files are imported.

The files are made here, in the test's folder. Imports that could grow without bound run
as `compliance import` in a subprocess under an address-space limit (RLIMIT_AS), so a
regression shows as a failed test, not as a machine out of memory.
"""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.importers import SourceError, iter_source_records
from compliance.importers.cli import import_cmd

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ROOT / "fixtures" / "exports"
MEMORY_LIMIT = 768 << 20          # address space of the import process; it needs about 300 MB
XES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'
GOOD_EVENT = ('<event><string key="concept:name" value="sip.initiated"/>'
              '<date key="time:timestamp" value="2025-03-03T09:00:00+01:00"/>'
              '<string key="org:resource" value="soc"/></event>')
HEADER = "Ärende;Händelse;Datum;Enhet\r\n"


def import_in_subprocess(tmp_path: Path, *srcs: Path | str) -> subprocess.CompletedProcess:
    """`compliance import SRC... --out tmp/out.jsonl` with a memory limit."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    return subprocess.run(
        [sys.executable, "-m", "compliance", "import", *map(str, srcs), "--out", str(tmp_path / "out.jsonl")],
        capture_output=True, text=True, preexec_fn=limit, timeout=300, cwd=tmp_path)


def errors_of(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr.replace("XMLSyntaxError", ""), proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("compliance: ")]


def xlsx_with(sheet_xml: bytes | None = None, *, extra: dict[str, bytes] | None = None,
              compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A minimal workbook (one sheet) whose sheet part is `sheet_xml`."""
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        b'</Types>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        b'</Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        b'<sheet name="Export" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        b'</Relationships>',
        "xl/worksheets/sheet1.xml": sheet_xml if sheet_xml is not None else sheet(
            [["Ärende", "Händelse", "Datum", "Enhet"], ["K1", "SIP initierad", "2025-03-03", "soc"]]),
    }
    parts.update(extra or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def sheet(rows: list[list[str]], filler: bytes = b"") -> bytes:
    def cell(v: str) -> bytes:
        return b'<c t="inlineStr"><is><t>' + v.encode() + b"</t></is></c>"
    body = b"".join(b"<row>" + b"".join(map(cell, r)) + b"</row>" for r in rows)
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<sheetData>" + body + filler + b"</sheetData></worksheet>")


def good_csv(tmp_path: Path) -> Path:
    p = tmp_path / "good.csv"
    p.write_text(HEADER + "K1;SIP initierad;2025-03-03;soc\r\n", encoding="utf-8")
    return p


# ------------------------------------------------------------------- workbooks


def test_the_minimal_workbook_of_these_tests_imports(tmp_path):
    """The builder makes a readable workbook: what fails below fails for its defect."""
    p = tmp_path / "ok.xlsx"
    p.write_bytes(xlsx_with())
    [rec] = iter_source_records(p, None)
    assert rec.error is None and rec.data["case"] == "K1"


@pytest.mark.parametrize("name, make, expected", [
    ("empty.xlsx", lambda: b"", "filen är tom"),
    ("not-a-zip.xlsx", lambda: b"Arende;Handelse\nK1;x\n", "inte en zip-fil"),
    ("encrypted.xlsx", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000, "lösenordsskyddad"),
    ("truncated.xlsx", lambda: (EXPORTS / "standard-sv.xlsx").read_bytes()[:3000], "avkortad"),
    ("zip-bomb.xlsx", lambda: xlsx_with(sheet([["Ärende", "Händelse", "Datum"]], b"<row/>" * 10_000_000)),
     "zip-bomb"),
    ("one-huge-cell.xlsx", lambda: xlsx_with(sheet([["Ärende", "Händelse", "Datum"],
                                                    ["K1", os.urandom(1_500_000).hex(), "2025-03-03"]])),
     "en cell är större än 1 MiB"),
    ("many-parts.xlsx", lambda: xlsx_with(extra={f"x/{i}.bin": b"" for i in range(10_001)},
                                          compress=zipfile.ZIP_STORED), "delar"),
    ("millions-of-rows.xlsx", lambda: xlsx_with(sheet([["Ärende", "Händelse", "Datum"]], b"<row/>" * 2_000_000)),
     "har fler än 1048576 rader"),
])
def test_hostile_workbooks_are_one_line_each(tmp_path, name, make, expected):
    bad = tmp_path / name
    bad.write_bytes(make())
    proc = import_in_subprocess(tmp_path, good_csv(tmp_path), bad)
    errors = errors_of(proc)
    assert proc.returncode == 1
    assert len(errors) == 1 and errors[0].startswith(f"compliance: {bad}: ") and expected in errors[0], errors
    # the good file was imported all the same
    assert [json.loads(x)["case"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == ["K1"]
    assert "good.csv: 1 rader, 1 händelser, 0 avvisade" in proc.stderr


def test_rows_and_cells_beyond_the_limits(tmp_path, monkeypatch):
    """Rows per sheet (Excel's 1 048 576) and the length of one cell (32 767 characters),
    tried with small limits: the row limit stops the file before it is read, an overlong
    cell rejects its row naming the column."""
    from compliance.importers import rows as row_conversion, xlsxsource
    p = tmp_path / "rows.xlsx"
    rows = [["Ärende", "Händelse", "Datum", "Enhet"]] + [["K1", "SIP initierad", "2025-03-03", "soc"]] * 50
    p.write_bytes(xlsx_with(sheet(rows)))
    monkeypatch.setattr(xlsxsource, "MAX_ROWS", 40)
    with pytest.raises(SourceError, match=r"blad 'Export': har 51 rader \(högst 40"):
        list(iter_source_records(p, None))
    monkeypatch.setattr(row_conversion, "MAX_CELL_CHARS", 20)
    csv = tmp_path / "long.csv"
    csv.write_text(HEADER + "K1;SIP initierad;2025-03-03;" + "x" * 25 + "\r\n", encoding="utf-8")
    [rec] = iter_source_records(csv, None)
    assert rec.error == "kolumn 'Enhet': cellen har 25 tecken (högst 20)"


# ------------------------------------------------------------------- XES


def deep(levels: int) -> str:
    return (XES_HEAD + '<trace><string key="concept:name" value="K1"/>' + GOOD_EVENT
            + "<event>" + '<container key="c">' * levels + "</container>" * levels + "</event></trace></log>")


BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE log [\n<!ENTITY lol "lol">\n'
                  + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">\n'
                            for i in range(1, 10))
                  + ']>\n<log><trace><string key="concept:name" value="K1"/>'
                  + '<event><string key="concept:name" value="sip.initiated"/>'
                  + '<date key="time:timestamp" value="2025-03-03T09:00:00+01:00"/>'
                  + '<string key="comment" value="&lol9;"/><string key="x">&lol9;</string></event></trace></log>')


def xxe(target: Path) -> str:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY xxe SYSTEM "file://{target}">]>\n'
            '<log><trace><string key="concept:name" value="K1"/><event>'
            '<string key="concept:name" value="sip.initiated"/>'
            '<date key="time:timestamp" value="2025-03-03T09:00:00+01:00"/>'
            '<string key="comment">&xxe;</string><string key="c2" value="&xxe;"/></event></trace></log>')


@pytest.mark.parametrize("name, make, expected", [
    ("deep-100000.xes", lambda tmp: deep(100_000), "nivåer djupt (högst 32)"),
    ("deep-600.xes", lambda tmp: deep(600), "nivåer djupt"),
    ("deep-255.xes", lambda tmp: deep(255), "nivåer djupt"),
    ("billion-laughs.xes", lambda tmp: BILLION_LAUGHS, "ogiltig XML"),
    ("xxe.xes", lambda tmp: xxe(tmp / "secret.txt"), "ogiltig XML"),
    ("not-xml.xes", lambda tmp: "Det här är ingen XML-fil\n", "ogiltig XML"),
    ("not-xes.xes", lambda tmp: '<?xml version="1.0"?><html><body/></html>', "ingen XES-fil"),
    ("truncated.xes", lambda tmp: (EXPORTS / "cases.xes").read_text("utf-8")[:20_000], "ogiltig XML"),
    ("huge-attribute.xes", lambda tmp: XES_HEAD + '<trace><string key="concept:name" value="K1"/><event>'
     + '<string key="comment" value="' + "x" * 11_000_000 + '"/></event></trace></log>', "ogiltig XML"),
    ("wide-event.xes", lambda tmp: XES_HEAD + '<trace><string key="concept:name" value="K1"/><event>'
     + '<string key="k" value="v"/>' * 2000 + "</event></trace></log>", "fler än 1000 element"),
])
def test_hostile_xes_files_are_one_line_each(tmp_path, name, make, expected):
    (tmp_path / "secret.txt").write_text("HEMLIGT-INNEHÅLL\n", encoding="utf-8")
    bad = tmp_path / name
    bad.write_text(make(tmp_path), encoding="utf-8")
    proc = import_in_subprocess(tmp_path, good_csv(tmp_path), bad)
    errors = errors_of(proc)
    assert proc.returncode == 1
    assert len(errors) == 1 and errors[0].startswith(f"compliance: {bad}: ") and expected in errors[0], errors
    outputs = (tmp_path / "out.jsonl").read_text() + (tmp_path / "out.rejects.jsonl").read_text()
    assert "HEMLIGT" not in outputs + proc.stderr and "lollol" not in outputs
    assert [json.loads(x)["case"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == ["K1"]


def test_a_xes_file_that_breaks_part_way_counts_not_at_all(tmp_path):
    """A truncated export: the events before the break are not imported either (a half
    case would give false findings), and the file is named with the line."""
    p = tmp_path / "cut.xes"
    p.write_text(XES_HEAD + '<trace><string key="concept:name" value="K1"/>' + GOOD_EVENT * 3
                 + "</trace><trace><event>", encoding="utf-8")
    res = CliRunner().invoke(import_cmd, [str(p), str(good_csv(tmp_path)), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1
    assert f"compliance: {p}: ogiltig XML" in res.output and "de 3 rader som lästes före felet räknas inte" in res.output
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1


def test_a_trace_beyond_its_limit(tmp_path, monkeypatch):
    from compliance.importers import xes
    monkeypatch.setattr(xes, "MAX_TRACE_EVENTS", 5)
    p = tmp_path / "long.xes"
    p.write_text(XES_HEAD + '<trace><string key="concept:name" value="K1"/>' + GOOD_EVENT * 6
                 + "</trace></log>", encoding="utf-8")
    with pytest.raises(SourceError, match="har fler än 5 händelser"):
        list(iter_source_records(p, None))


def test_the_case_may_come_after_the_events_of_its_trace(tmp_path):
    p = tmp_path / "late.xes"
    p.write_text(XES_HEAD + "<trace>" + GOOD_EVENT * 2 + '<string key="concept:name" value="K9"/></trace>'
                 + "<trace>" + GOOD_EVENT + "</trace></log>", encoding="utf-8")
    recs = list(iter_source_records(p, None))
    assert [r.data["case"] for r in recs[:2]] == ["K9", "K9"]
    assert recs[2].error == "trace: attribut 'concept:name' (ärende) saknas"


# ------------------------------------------------------------------- CSV, names, disks


def test_broken_csv_files(tmp_path):
    missing = tmp_path / "missing-columns.csv"
    missing.write_text("Ärende;Händelse\r\nK1;SIP initierad\r\n", encoding="utf-8")
    nul = tmp_path / "binary.csv"
    nul.write_bytes(HEADER.encode() + b"K1;SIP initierad;2025-03-03;soc\r\n\x00\x01\x02\r\n")
    quote = tmp_path / "open-quote.csv"
    quote.write_bytes(HEADER.encode() + b'K1;"SIP initierad;2025-03-03;soc\r\n' + b"K1;x;y;z\r\n" * 120_000)
    res = CliRunner().invoke(import_cmd, [str(missing), str(nul), str(quote), str(good_csv(tmp_path)),
                                          "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [x for x in res.output.splitlines() if x.startswith("compliance: ")]
    assert errors == [
        f"compliance: {missing}: kolumn 'Datum' saknas i rubrikraden (mapping standard-sv; rubriker: 'Ärende', 'Händelse')",
        f"compliance: {nul}: är ingen textfil (innehåller NUL-tecken); en CSV-export väntas",
        f"compliance: {quote}: rad 2: CSV kan inte läsas: ett fält är längre än 1048576 tecken "
        "(ett citattecken som aldrig avslutas?)",
    ]
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1


def test_a_fifo_and_standard_input_are_refused_saying_what_they_are(tmp_path):
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    proc = import_in_subprocess(tmp_path, fifo, "-", good_csv(tmp_path))
    assert proc.returncode == 1
    assert errors_of(proc) == [
        f"compliance: {fifo}: är en namngiven pipe (FIFO), ingen vanlig fil; spara exporten som en fil först",
        "compliance: -: standardinmatning ('-') stöds inte; spara exporten som en fil och ange filen",
    ]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1


def test_a_folder_imports_its_exports_and_lists_the_rest(tmp_path):
    """`compliance import fixtures/exports` (and a glob of it) reads the four exports and
    passes over anything else, listed, not as an error."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for p in EXPORTS.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "make_exports.py").write_text("print('ett skript')\n", encoding="utf-8")
    (folder / "README").write_text("läs mig\n", encoding="utf-8")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.csv").write_text("nothing", encoding="utf-8")
    glob = sorted(str(p) for p in folder.iterdir() if not p.name.startswith("."))   # what `exports/*` gives
    for args in ([str(folder)], glob):
        res = CliRunner().invoke(import_cmd, [*args, "--out", str(tmp_path / "o.jsonl")])
        assert res.exit_code == 0, res.output
        assert f"{folder / 'make_exports.py'}: hoppas över (okänd filändelse '.py'" in res.output
        assert f"{folder / 'README'}: hoppas över (okänd filändelse '(ingen)'" in res.output
        assert "x.csv" not in res.output
        assert res.output.count("händelser, ") == 5       # the four exports and the total


class _FullDisk:
    """A file object whose writes fail once `room` bytes are written, like a full disk."""

    def __init__(self, path, mode="r", buffering=-1, **kw):
        self._f = open(path, mode, buffering=buffering, **kw)
        self.room = 2000

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def test_a_full_disk_names_the_file_that_could_not_be_written(tmp_path, monkeypatch):
    import compliance.importers.cli as cli
    monkeypatch.setattr(cli, "open", _FullDisk, raising=False)
    out = tmp_path / "log.jsonl"
    res = CliRunner().invoke(import_cmd, [str(EXPORTS / "standard-sv.utf8-bom.csv"), "--out", str(out)])
    assert res.exit_code == 1
    assert res.output.strip() == f"compliance: {out}: kan inte skrivas (No space left on device)"
    assert sorted(p.name for p in tmp_path.iterdir()) == []      # no temporary file left behind
