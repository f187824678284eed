"""Importers of case-system exports: CSV, XLSX, mappings, stable ids, pseudonymisation.

Personal numbers here are constructed at test time from Skatteverket's test-number
pattern (1912-12-12, serial 121x) with a computed Luhn check digit; none is real.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.importers import (SUPPORTED_SUFFIXES, MappingError, SourceError,
                                  iter_source_records, load_mapping)
from compliance.importers.cli import export_cmd, import_cmd
from compliance.importers.personnummer import (REDACTED, luhn_check_digit, luhn_ok,
                                               parse_personnummer, redact)

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ROOT / "fixtures" / "exports"
sys.path.insert(0, str(ROOT / "tools"))
import make_exports  # noqa: E402

HEADER = ["Ärende", "Personnummer", "Händelse", "Datum", "Tid", "Enhet", "Möte", "Mötestyp",
          "Planerat datum", "Mottagare", "Kanal", "Deltagare", "Kommentar"]
AS_OF = dt.date(2025, 12, 31)


# ----------------------------------------------------------------- helpers

def test_pnr(serial3: str = "121", century: str = "19", samordning: bool = False) -> str:
    """A synthetic 12-digit number 1912-12-12 (day+60 for samordning) with a valid Luhn digit."""
    day = "72" if samordning else "12"
    nine = f"1212{day}{serial3}"
    return f"{century}{nine[:6]}-{serial3}{luhn_check_digit(nine)}"


test_pnr.__test__ = False  # a helper, not a test


def write_csv(path: Path, rows: list[list[str]], header=HEADER, delimiter=";", encoding="utf-8-sig",
              newline="\r\n") -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    for r in rows:
        w.writerow(r + [""] * (len(header) - len(r)))
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def row(case="K1", event="Möte planerat", date="2025-03-14", time="", unit="soc", meeting="M1",
        kind="SIP", planned="2025-04-01", to="", channel="", attendees="", comment="", pnr=""):
    return [case, pnr, event, date, time, unit, meeting, kind, planned, to, channel, attendees, comment]


def records(path, mapping=None, key=None):
    return list(iter_source_records(path, mapping, key))


def local(at: str) -> tuple[str, str | None]:
    d, t = make_exports.local_parts(at)
    if t is not None and len(t) == 5:
        t += ":00"
    return d.isoformat(), t


def comparable(e: dict) -> dict:
    """An event without what an import cannot or need not reproduce."""
    out = {k: v for k, v in e.items() if k not in ("id", "at", "comment", "actions")}
    out["at"] = local(e["at"])
    return out


# ----------------------------------------------------------------- fixtures

FIXTURE_TABLES = ["standard-sv.cp1252.csv", "standard-sv.utf8-bom.csv", "standard-sv.xlsx"]


@pytest.mark.parametrize("name", FIXTURE_TABLES)
def test_fixture_tables_hold_the_jsonl_events(name):
    src = make_exports.source_log()
    expected = [comparable(e) for e in make_exports.load_events(src)]
    recs = records(EXPORTS / name)
    events = [r.data for r in recs if r.error is None]
    rejects = [r for r in recs if r.error is not None]
    dumps = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(dumps, map(comparable, events))) == sorted(map(dumps, expected))
    # the three deliberately bad rows, with their spreadsheet row numbers and columns
    assert [(r.line, r.error.split(":")[0]) for r in rejects] == [
        (5, "kolumn 'Personnummer'"), (10, "kolumn 'Händelse'"), (15, "kolumn 'Datum'")]
    assert len(recs) == len(expected) + 3
    assert [r.line for r in recs] == list(range(2, len(recs) + 2))


def test_fixture_tables_are_current():
    """The exports were made from the current JSONL fixture (else: run make_exports.py)."""
    rows, _ = make_exports.build_rows(make_exports.load_events(make_exports.source_log()))
    text = make_exports.csv_text(rows)
    assert (EXPORTS / "standard-sv.utf8-bom.csv").read_bytes() == text.encode("utf-8-sig")
    assert (EXPORTS / "standard-sv.cp1252.csv").read_bytes() == text.encode("cp1252")


def test_fixture_csv_and_xlsx_give_the_same_ids():
    ids = [[r.data["id"] for r in records(EXPORTS / n) if r.data] for n in FIXTURE_TABLES]
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0])) == len(ids[0])


def _finding_key(f):
    return (f["rule"], f["case"], f["meeting"], f["unit"], f["due"], f["actual"], f["status"],
            f["days_late"], f["business_days_late"])


@pytest.mark.parametrize("name", FIXTURE_TABLES + ["cases.xes"])
def test_scan_of_each_export_gives_the_jsonl_findings(name):
    scan = pytest.importorskip("compliance.scan")
    base = scan.run_scan([make_exports.source_log()], as_of=AS_OF, out_dir=None, workers=1)
    got = scan.run_scan([EXPORTS / name], as_of=AS_OF, out_dir=None, workers=1)
    assert base.findings
    assert sorted(map(_finding_key, got.findings)) == sorted(map(_finding_key, base.findings))


# ----------------------------------------------------------------- CSV dialects

def test_delimiters_encodings_and_quoted_fields(tmp_path):
    rows = [row(comment='säger "nej"; ringer\nigen', event="Möte planerat"),
            row(event="Kallelse skickad", to="Vårdnadshavare", channel="brev", kind="", planned="")]
    results = []
    for delim in (";", ",", "\t"):
        for enc in ("utf-8-sig", "utf-8", "cp1252"):
            p = write_csv(tmp_path / f"x{ord(delim)}{enc}.csv", rows, delimiter=delim, encoding=enc)
            recs = records(p)
            assert all(r.error is None for r in recs), [r.error for r in recs]
            results.append([r.data for r in recs])
    assert all(r == results[0] for r in results)
    first, second = results[0]
    assert first["comment"] == 'säger "nej"; ringer\nigen'
    assert second["to"] == "guardian" and second["channel"] == "letter"


def test_quoted_line_breaks_keep_spreadsheet_row_numbers(tmp_path):
    p = write_csv(tmp_path / "a.csv", [row(comment="a\nb\nc"), row(event="Nonsens"), row()])
    recs = records(p)
    assert [r.line for r in recs] == [2, 3, 4]
    assert recs[1].error == "kolumn 'Händelse': okänd händelse 'Nonsens'"


def test_dates_times_and_names(tmp_path):
    rows = [
        row(event="möte PLANERAT", date="2025-03-14", planned="01.04.2025"),
        row(event="  Möte   planerat ", date="14.03.2025", time="09:30"),
        row(event="MÖTE PLANERAT", date="2025-03-14 09:30"),
        row(event="Möte planerat", date="2025-03-14 09:30", time="10:15"),
        row(event="Möteplanerat", date="2025-03-14", time="9:05:30", kind="sip-uppFÖLJNING"),
    ]
    got = [r.data for r in records(write_csv(tmp_path / "d.csv", rows))]
    assert [g["at"] for g in got] == ["2025-03-14", "2025-03-14T09:30:00", "2025-03-14T09:30:00",
                                      "2025-03-14T10:15:00", "2025-03-14T09:05:30"]
    assert got[0]["date"] == "2025-04-01" and got[0]["type"] == "meeting.scheduled"
    assert got[4]["kind"] == "sip_followup"


def test_all_standard_names(tmp_path):
    m = load_mapping("standard-sv")
    names = {"Ärende öppnat": "case.opened", "SIP initierad": "sip.initiated",
             "Samtycke givet": "consent.given", "Samtycke återkallat": "consent.withdrawn",
             "Möte planerat": "meeting.scheduled", "Möte ombokat": "meeting.rescheduled",
             "Möte inställt": "meeting.cancelled", "Kallelse skickad": "invitation.sent",
             "Möte genomfört": "meeting.held", "BUS-individ aktualiserad": "bus_individ.requested",
             "Plan dokumenterad": "plan.documented", "Ärende avslutat": "case.closed"}
    from compliance.importers.mapping import norm
    for sv, canon in names.items():
        assert m.values["type"][norm(sv)] == canon
    assert {m.values["channel"][norm(k)] for k in ("E-post", "Brev", "Telefon")} == {"email", "letter", "phone"}
    p = write_csv(tmp_path / "c.csv", [row(event="Kallelse skickad", to="bup", channel="Fax")])
    assert records(p)[0].data["channel"] == "other"


def test_rejects_name_the_column(tmp_path):
    rows = [
        row(event="Fika"),                       # unknown event
        row(case=""),                            # missing case number
        row(date="2025-02-30"),                  # impossible date
        row(date="March 14"),                    # date in no known format
        row(kind="Styrgruppsmöte"),              # meeting type not in the mapping
        row(time="25:00"),                       # bad time
        row(meeting=""),                         # meeting.scheduled needs a meeting
        row(case=test_pnr()),                    # a personal number as case number
        [""] * 13,                               # empty row between others
        row(),
    ]
    recs = records(write_csv(tmp_path / "r.csv", rows))
    reasons = [r.error for r in recs]
    assert reasons[0] == "kolumn 'Händelse': okänd händelse 'Fika'"
    assert reasons[1] == "kolumn 'Ärende': ärendenummer saknas"
    assert reasons[2] == "kolumn 'Datum': ogiltigt datum '2025-02-30'"
    assert reasons[3] == "kolumn 'Datum': okänt datumformat 'March 14'"
    assert reasons[4] == "kolumn 'Mötestyp': okänd mötestyp 'Styrgruppsmöte'"
    assert reasons[5].startswith("kolumn 'Tid': ")
    assert reasons[6] == "kolumn 'Möte': saknas (behövs för meeting.scheduled)"
    assert reasons[7] == "kolumn 'Ärende': innehåller ett personnummer, inte ett ärendenummer"
    assert reasons[8] == "tom rad"
    assert reasons[9] is None
    assert [r.line for r in recs] == list(range(2, 12))
    assert all(test_pnr() not in r.raw for r in recs)


def test_extra_columns_are_kept_and_columns_may_move(tmp_path):
    header = ["Handläggare", "Datum", "Händelse", "Ärende", "Enhet"]
    p = write_csv(tmp_path / "e.csv", [["Anna", "2025-03-14", "SIP initierad", "K9", "soc"]], header=header)
    (rec,) = records(p)
    assert rec.data == {"id": rec.data["id"], "case": "K9", "type": "sip.initiated", "at": "2025-03-14",
                        "unit": "soc", "Handläggare": "Anna"}


def test_missing_required_column_is_a_source_error(tmp_path):
    p = write_csv(tmp_path / "m.csv", [["K1", "x"]], header=["Ärende", "Händelse"])
    with pytest.raises(SourceError, match="'Datum' saknas"):
        records(p)


def test_only_bad_rows_still_succeeds(tmp_path):
    p = write_csv(tmp_path / "bad.csv", [row(event="Fika"), row(date="igår")])
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text() == ""
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["file"], r["line"]) for r in rejects] == [(str(p), 2), (str(p), 3)]
    assert "2 rader, 0 händelser, 2 avvisade" in res.output
    assert "alla rader avvisades" in res.output


# ----------------------------------------------------------------- XLSX

def test_xlsx_real_dates_and_text_dates(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(["K1", None, "Möte planerat", dt.date(2025, 3, 14), "09:30", "soc", "M1", "SIP",
               dt.datetime(2025, 4, 1), None, None, None, None])
    ws.append(["K1", None, "Möte genomfört", "01.04.2025", dt.time(13, 0), "soc", "M1", None, None, None,
               None, "soc,bup", None])
    ws.append([12345, None, "SIP initierad", dt.datetime(2025, 3, 14, 8, 15), None, "soc"])
    ws.append([None] * 13)
    ws.append(["K1", None, "Fika", dt.date(2025, 3, 14)])
    wb.save(tmp_path / "w.xlsx")
    recs = records(tmp_path / "w.xlsx")
    assert recs[0].data["at"] == "2025-03-14T09:30:00" and recs[0].data["date"] == "2025-04-01"
    assert recs[1].data["at"] == "2025-04-01T13:00:00" and recs[1].data["attendees"] == ["soc", "bup"]
    assert recs[2].data["case"] == "12345" and recs[2].data["at"] == "2025-03-14T08:15:00"
    assert (recs[3].line, recs[3].error) == (5, "tom rad")
    assert (recs[4].line, recs[4].error) == (6, "kolumn 'Händelse': okänd händelse 'Fika'")


# ----------------------------------------------------------------- stable ids

def test_ids_survive_new_rows_before_and_reordering(tmp_path):
    today = [row(event="SIP initierad", kind="", planned="", meeting=""), row(), row(event="Möte genomfört",
             kind="", planned="", attendees="soc", date="2025-04-01")]
    tomorrow = [row(case="K0", event="SIP initierad", kind="", planned="", meeting="")] + today[::-1]
    a = {r.data["type"]: r.data["id"] for r in records(write_csv(tmp_path / "a.csv", today))}
    b = {r.data["type"]: r.data["id"] for r in records(write_csv(tmp_path / "b.csv", tomorrow)) if r.data["case"] == "K1"}
    assert a == b
    # the same rows through another encoding, delimiter and date format: same ids
    alt = [r[:3] + ["14.03.2025" if r[3] == "2025-03-14" else r[3]] + r[4:] for r in today]
    c = {r.data["type"]: r.data["id"] for r in records(write_csv(tmp_path / "c.csv", alt, delimiter=",", encoding="cp1252"))}
    assert c == a


def test_identical_rows_are_one_event_counted_once(tmp_path):
    """The same event twice in one export (a comment does not make another event) has one
    id and is imported once; the copy is counted as a duplicate, not rejected."""
    rows = [row(), row(), row(comment="annan kommentar"), row(planned="2025-04-02")]
    ids1 = [r.data["id"] for r in records(write_csv(tmp_path / "a.csv", rows))]
    ids2 = [r.data["id"] for r in records(write_csv(tmp_path / "b.csv", rows[::-1]))]
    assert ids1 == ids2[::-1]
    assert ids1[0] == ids1[1] == ids1[2] != ids1[3]
    assert re.fullmatch(r"K1-[a-p]{16}", ids1[0])
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(tmp_path / "a.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert [e["id"] for e in events] == [ids1[0], ids1[3]]
    assert "4 rader, 2 händelser, 0 avvisade; dubbletter: 2 (samma händelse på flera rader)" in res.output
    assert (tmp_path / "o.rejects.jsonl").read_text() == ""


# ----------------------------------------------------------------- personal numbers

def test_personnummer_validation():
    p12 = test_pnr("122")                       # 19121212-122x
    digits = p12.replace("-", "")
    assert luhn_ok(digits[2:])
    ref = dt.date(2025, 1, 1)
    a = parse_personnummer(p12)
    assert a.birth_date == dt.date(1912, 12, 12) and a.gender == "female"  # 2nd-to-last digit 2: even
    assert parse_personnummer("19121212-1212").gender == "male"
    assert parse_personnummer(digits).normalized == digits
    ten = digits[2:]
    assert parse_personnummer(ten, ref).birth_date == dt.date(2012, 12, 12)            # younger than 100
    assert parse_personnummer(ten[:6] + "+" + ten[6:], ref).birth_date == dt.date(1912, 12, 12)
    assert parse_personnummer(ten[:6] + "-" + ten[6:], ref).normalized == "20" + ten
    s = parse_personnummer(test_pnr(samordning=True))
    assert s.samordning and s.birth_date == dt.date(1912, 12, 12)
    bad_check = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    for bad, why in [(bad_check, "kontrollsiffra"), ("1912121", "10 eller 12"), ("19121312-1212", "ogiltigt personnummer"),
                     ("abc", "10 eller 12"), (p12.replace("-", "+"), "tio siffror")]:
        with pytest.raises(ValueError, match=why):
            parse_personnummer(bad)


def test_redaction():
    p = test_pnr()
    for text in (f"pnr {p} ring", f"pnr {p.replace('-', '')}.", f"{p[2:]}", f"x{p[2:].replace('-', '+')}y",
                 f"{p[2:].replace('-', ' ')}"):
        out = redact(text)
        assert REDACTED in out and not re.search(r"\d{6}", out), text
    assert redact("möte 2025-03-14 kl 09:30, rum 12") == "möte 2025-03-14 kl 09:30, rum 12"


def test_personnummer_column_is_validated_used_and_dropped(tmp_path):
    good, sam = test_pnr("122"), test_pnr("123", samordning=True)
    bad = good[:-1] + str((int(good[-1]) + 3) % 10)
    rows = [row(event="Ärende öppnat", meeting="", kind="", planned="", pnr=good,
                comment=f"Mamma uppgav {good[2:]} i telefon"),
            row(event="SIP initierad", meeting="", kind="", planned="", pnr=sam),
            row(event="SIP initierad", meeting="", kind="", planned="", pnr=bad)]
    p = write_csv(tmp_path / "p.csv", rows)
    recs = records(p)
    assert recs[0].data["child"] == {"birth_date": "1912-12-12", "gender": "female"}
    assert recs[0].data["comment"] == f"Mamma uppgav {REDACTED} i telefon"
    assert recs[1].data["child"]["gender"] == "male"
    assert recs[2].error == "kolumn 'Personnummer': ogiltigt personnummer (fel kontrollsiffra)"
    dump = json.dumps([(r.raw, r.data, r.error) for r in recs])
    for n in (good, sam, bad):
        for form in (n, n.replace("-", ""), n[2:], n[2:].replace("-", "")):
            assert form not in dump


def test_pseudonym_is_hmac_under_the_key_only(tmp_path):
    import hashlib
    import hmac
    good = test_pnr()
    p = write_csv(tmp_path / "k.csv", [row(event="Ärende öppnat", meeting="", kind="", planned="", pnr=good)])
    key = b"k" * 32
    child = records(p, key=key)[0].data["child"]
    digits = good.replace("-", "")
    assert child["pseudonym"] == "p-" + hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()[:32]
    assert child["pseudonym"][2:] not in hashlib.sha256(digits.encode()).hexdigest()
    assert records(p, key=b"other key, 16+ bytes")[0].data["child"]["pseudonym"] != child["pseudonym"]
    assert "pseudonym" not in records(p)[0].data["child"]
    # the same person in ten-digit form ('+': 100 or older) in another case: the same pseudonym
    p2 = write_csv(tmp_path / "k2.csv", [row(case="K2", event="Ärende öppnat", meeting="", kind="",
                                              planned="", pnr=good[2:].replace("-", "+"))])
    assert records(p2, key=key)[0].data["child"]["pseudonym"] == child["pseudonym"]


def test_cli_key_sources_and_notice(tmp_path, monkeypatch):
    good = test_pnr()
    p = write_csv(tmp_path / "k.csv", [row(event="Ärende öppnat", meeting="", kind="", planned="", pnr=good)])
    out = tmp_path / "o.jsonl"
    monkeypatch.delenv("COMPLIANCE_PSEUDONYM_KEY", raising=False)
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(out)])
    assert res.exit_code == 0 and "ingen pseudonymnyckel" in res.output
    assert "pseudonym" not in out.read_text()
    keyfile = tmp_path / "key"
    keyfile.write_bytes(b"a secret key of sufficient length\n")
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(out), "--key-file", str(keyfile)])
    assert res.exit_code == 0 and "pseudonym" in out.read_text()
    from_file = json.loads(out.read_text())["child"]["pseudonym"]
    monkeypatch.setenv("COMPLIANCE_PSEUDONYM_KEY", "a secret key of sufficient length")
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(out)])
    assert json.loads(out.read_text())["child"]["pseudonym"] == from_file
    monkeypatch.setenv("COMPLIANCE_PSEUDONYM_KEY", "short")
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(out)])
    assert res.exit_code == 1 and "för kort" in res.output and "Traceback" not in res.output


def _luhn_valid_numbers(text: str) -> list[str]:
    found = []
    for m in re.finditer(r"(?<!\d)(\d{2})?(\d{6})[-+ ]?(\d{4})(?!\d)", text):
        ten = m.group(2) + m.group(3)
        month, day = int(ten[2:4]), int(ten[4:6])
        if 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91) and luhn_ok(ten):
            found.append(m.group(0))
    return found


def test_no_output_of_an_import_holds_a_personal_number(tmp_path):
    """Import every fixture (and a file full of synthetic numbers) and grep all outputs."""
    nums = [test_pnr(s) for s in ("121", "122", "123", "124")] + [test_pnr("125", samordning=True)]
    rows = [row(event="Ärende öppnat", meeting="", kind="", planned="", pnr=nums[0], comment=f"se {nums[1]}"),
            row(event="Kallelse skickad", pnr=nums[2][2:], to=nums[3], kind="", planned="",
                comment=f"{nums[4].replace('-', '')}"),
            row(event="Fika", pnr=nums[1], comment=nums[0]),
            row(event="SIP initierad", meeting="", kind="", planned="", pnr="19121212-0000")]
    hdr = HEADER + ["Övrigt"]
    src = write_csv(tmp_path / "synthetic.csv", [r + [f"extra {nums[2]}"] for r in rows], header=hdr)
    out = tmp_path / "all.jsonl"
    srcs = [str(EXPORTS / n) for n in FIXTURE_TABLES + ["cases.xes"]] + [str(src)]
    res = CliRunner().invoke(import_cmd, [*srcs, "--out", str(out)])
    assert res.exit_code == 0, res.output
    xes_out = tmp_path / "all.xes"
    assert CliRunner().invoke(export_cmd, [str(out), "--out", str(xes_out)]).exit_code == 0
    outputs = [p for p in tmp_path.iterdir() if p.is_file() and p != src]
    assert {p.name for p in outputs} >= {"all.jsonl", "all.rejects.jsonl", "all.xes"}
    texts = [p.read_text("utf-8") for p in outputs] + [res.output]
    for text in texts:
        assert _luhn_valid_numbers(text) == []
        for n in nums + ["19121212-1212", "19121212-1213"]:
            for form in (n, n.replace("-", ""), n[2:], n[2:].replace("-", "")):
                assert form not in text
    assert REDACTED in texts[[p.name for p in outputs].index("all.jsonl")]


# ----------------------------------------------------------------- mappings

def test_custom_mapping(tmp_path):
    mapping = tmp_path / "procapita.toml"
    mapping.write_text('''
format = 1
name = "procapita-exempel"
[columns]
case = ["Dnr", "Diarienummer"]
type = "Aktivitet"
at = "Tidpunkt"
unit = "Utförare"
meeting = "MötesID"
attendees = "Närvarande"
[dates]
formats = ["%d/%m/%y %H.%M", "%Y%m%d"]
timezone = "UTC"
[options]
list_separator = "|"
extra_columns = "drop"
[values.type]
"SIP-möte hållet" = "meeting.held"
"Start SIP" = "sip.initiated"
[values.unit]
"BUP Farsta" = "bup-farsta"
"Socialtjänsten Skarpnäck" = "soc-skarpnack"
''', "utf-8")
    p = write_csv(tmp_path / "x.csv", [["D-1", "start sip", "20250314", "Socialtjänsten Skarpnäck", "", "", "x"],
                                       ["D-1", "SIP-möte hållet", "01/04/25 13.30", "socialtjänsten skarpnäck",
                                        "M7", "BUP Farsta|Socialtjänsten Skarpnäck", "y"]],
                  header=["Diarienummer", "Aktivitet", "Tidpunkt", "Utförare", "MötesID", "Närvarande", "Anteckning"],
                  delimiter=",", encoding="cp1252")
    a, b = (r.data for r in records(p, mapping))
    assert a == {"id": a["id"], "case": "D-1", "type": "sip.initiated", "at": "2025-03-14", "unit": "soc-skarpnack"}
    assert b["at"] == "2025-04-01T13:30:00Z" and b["attendees"] == ["bup-farsta", "soc-skarpnack"]
    assert b["unit"] == "soc-skarpnack" and "Anteckning" not in b


@pytest.mark.parametrize("text, key", [
    ('format = 1\n[columns]\ntype = "H"\nat = "D"\n', "columns.case"),
    ('[columns]\ncase = "Ä"\ntype = "H"\nat = 5\n', "columns.at"),
    ('[columns]\ncase = "Ä"\ntype = "H"\nat = "D"\n[values.type]\n"X" = "meeting.done"\n', 'values.type."X"'),
    ('[columns]\ncase = "Ä"\ntype = "H"\nat = "D"\n[dates]\nformats = ["%d %B %Y"]\n', "dates.formats"),
    ('[columns]\ncase = "Ä"\ntype = "H"\nat = "D"\n[options]\nseparator = ";"\n', "options.separator"),
    ('[columns]\ncase = "Ä"\ntype = "H"\nat = "D"\n[dates]\ntimezone = "CET"\n', "dates.timezone"),
    ('colums = 1\n', "colums"),
    ('[columns]\ncase = "Ä"\ntype = "Ä"\nat = "D"\n', "columns.type"),
    ('[columns\ncase = "Ä"\n', "ogiltig TOML"),
])
def test_broken_mapping_names_the_key(tmp_path, text, key):
    p = tmp_path / "m.toml"
    p.write_text(text, "utf-8")
    with pytest.raises(MappingError) as exc:
        load_mapping(p)
    msg = str(exc.value)
    assert key in msg and "\n" not in msg
    csvp = write_csv(tmp_path / "a.csv", [row()])
    res = CliRunner().invoke(import_cmd, [str(csvp), "--mapping", str(p), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1
    assert len(res.output.strip().splitlines()) == 1 and key in res.output and "Traceback" not in res.output


def test_unknown_mapping_name_and_shipped_ones():
    with pytest.raises(MappingError, match="standard-sv"):
        load_mapping("no-such-system")
    assert load_mapping(None).name == load_mapping("standard-sv").name == "standard-sv"
    assert SUPPORTED_SUFFIXES == (".csv", ".xlsx", ".xes")


@pytest.mark.parametrize("make", ["missing", "suffix", "garbage_xlsx", "empty_csv"])
def test_unreadable_input_is_one_line_exit_1(tmp_path, make):
    p = {"missing": tmp_path / "nope.csv", "suffix": tmp_path / "a.txt",
         "garbage_xlsx": tmp_path / "g.xlsx", "empty_csv": tmp_path / "e.csv"}[make]
    if make in ("suffix", "garbage_xlsx"):
        p.write_bytes(b"not a workbook")
    if make == "empty_csv":
        p.write_bytes(b"")
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1
    errors = [x for x in res.output.splitlines() if x.startswith("compliance: ")]
    assert len(errors) == 1 and "Traceback" not in res.output
    if make == "suffix":        # listed as skipped; then nothing is left to import
        assert "a.txt: hoppas över (okänd filändelse '.txt'" in res.output
        assert errors == ["compliance: inga filer att importera (läses: .csv, .xlsx, .xes)"]
    else:
        assert errors[0].startswith(f"compliance: {p}: ") and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()


def test_import_output_is_valid_canonical_jsonl(tmp_path):
    events = pytest.importorskip("compliance.events")
    from compliance.records import Record
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(EXPORTS / "standard-sv.cp1252.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == len(make_exports.load_events(make_exports.source_log()))
    for n, line in enumerate(lines, 1):
        got = events.parse_record(Record(str(out), n, line))
        assert not isinstance(got, events.Reject), got
    assert "305 rader" in res.output and "3 avvisade" in res.output


# ----------------------------------------------------------------- benchmark (opt-in)

def make_big_csv(path: Path, n: int) -> Path:
    """n rows of the standard export, Windows-1252, ';' (for the benchmark)."""
    types = ["SIP initierad", "Samtycke givet", "Möte planerat", "Kallelse skickad", "Möte genomfört"]
    with open(path, "w", encoding="cp1252", newline="") as f:
        f.write(";".join(HEADER) + "\r\n")
        for i in range(n):
            case = f"K-{i // 5:07d}"
            t = types[i % 5]
            d = dt.date(2024, 1, 1) + dt.timedelta(days=(i * 7) % 700)
            ds = d.strftime("%d.%m.%Y") if i % 2 else d.isoformat()
            extra = {"Möte planerat": "M1;SIP;" + (d + dt.timedelta(days=20)).isoformat() + ";;;;",
                     "Kallelse skickad": "M1;;;bup-farsta;E-post;;",
                     "Möte genomfört": "M1;;;;;soc, bup-farsta;"}.get(t, ";;;;;;")
            f.write(f"{case};;{t};{ds};{'09:30' if i % 3 == 0 else ''};soc;{extra}\r\n")
    return path


@pytest.mark.skipif(not os.environ.get("COMPLIANCE_BENCH"), reason="set COMPLIANCE_BENCH=1 (1M rows)")
def test_benchmark_one_million_rows(tmp_path):
    import resource
    import time
    src = make_big_csv(tmp_path / "big.csv", 1_000_000)
    t0 = time.perf_counter()
    res = CliRunner().invoke(import_cmd, [str(src), "--out", str(tmp_path / "big.jsonl")])
    took = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"1M rows: {took:.1f} s, peak RSS {rss:.0f} MB")
    assert res.exit_code == 0 and "1000000 händelser" in res.output
    assert took < 30 and rss < 500


@pytest.mark.parametrize("shape", ["regular", "stray quote", "bare carriage returns", "csv error"])
def test_parallel_csv_import_writes_exactly_what_the_sequential_one_writes(tmp_path, monkeypatch, shape):
    """A large CSV is converted on two processes; the outputs and the summary must be
    byte for byte those of one process: a row seen before (in another piece too) is a
    duplicate, counted, not written; rejects keep their row numbers, quoted line breaks
    and empty rows count. A file whose quoting is not regular (a stray quote) is read
    row by row instead."""
    from compliance.importers import parallel
    from compliance.importers.cli import run_import

    good = test_pnr("122")

    def block(b: int) -> list[list[str]]:
        case = f"K{b % 20}"                                  # every block's events twice in the file
        return [
            row(case=case),                                          # the same row ...
            row(case=case, event="Kallelse skickad", to="bup", channel="Brev", comment="rad 1\nrad 2; \"citat\""),
            row(case=case, event="Fika"),                            # reject: unknown event
            row(case=case, comment="annan kommentar"),               # ... again: a duplicate
            [""] * 13,                                               # empty row: a reject
            [""] * 13,
            row(case=case, event="Ärende öppnat", meeting="", kind="", planned="", pnr=good),
            row(case=case, event="SIP initierad", meeting="", kind="", planned="",
                pnr=good[:-1] + str((int(good[-1]) + 3) % 10)),     # reject: check digit
            row(case=case + "-2", event="Möte genomfört", attendees="soc, bup", time="09:30"),
        ]
    rows = [r for b in range(40) for r in block(b)] + [[""] * 13, [""] * 13]  # trailing empties
    src = write_csv(tmp_path / "big.csv", rows, encoding="cp1252")
    data = src.read_bytes()
    if shape == "stray quote":           # a quote inside an unquoted field, as people type
        data = data.replace(b";soc;", b';5" sk\xe4rm;', 3)
    elif shape == "bare carriage returns":
        data = data.replace(b"\r\nK1-2", b"\rK1-2", 5)         # rows ending in a lone CR
    elif shape == "csv error":           # a cell over the csv module's size limit, mid-file
        data = data[:len(data) // 2] + data[len(data) // 2:].replace(b"Fika", b"F" + b"i" * 200 + b"ka", 1)
    src.write_bytes(data)
    starts = parallel.row_starts(src, ";", 300)
    assert (starts is None) == (shape == "stray quote")   # else cut into many pieces
    assert starts is None or len(starts) > 20
    outputs = {}
    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 300)            # many pieces, in flight at once
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 7)
    limit = csv.field_size_limit(150 if shape == "csv error" else csv.field_size_limit())
    for workers in (1, 2):
        out = tmp_path / f"w{workers}" / "log.jsonl"
        said: list[str] = []
        try:
            totals = run_import((src,), None, None, out, echo=said.append, workers=workers)
        except SourceError as exc:
            outputs[workers] = (str(exc), said)
            continue
        finally:
            if workers == 2:
                csv.field_size_limit(limit)
        said = [s.replace(f"w{workers}", "wN") for s in said]
        outputs[workers] = (out.read_bytes(), (out.parent / "log.rejects.jsonl").read_bytes(),
                            said, {k: v for k, v in totals.items() if k != "rejects_path"})
    assert outputs[1] == outputs[2]
    if shape == "csv error":                 # the same message, naming the same row; nothing written
        message = outputs[2][1][0]
        assert "CSV kan inte läsas: ett fält är längre än 150 tecken" in message
        assert int(re.search(r"rad (\d+)", message).group(1)) > 150
        assert not (tmp_path / "w2" / "log.jsonl").exists()
        return
    events = [json.loads(x) for x in outputs[2][0].splitlines()]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    totals = outputs[2][3]
    assert totals["rows"] == 360 and totals["personnummer"] == 80
    if shape == "regular":
        assert {k: totals[k] for k in ("events", "rejects", "duplicates")} == \
            {"events": 80, "rejects": 160, "duplicates": 120}
        assert "dubbletter: 120 (samma händelse på flera rader)" in outputs[2][2][0]
        # a child born 1912 (the personal number's date) is implausible: one warning a case
        assert len([w for w in totals["warnings"] if "var 112 år" in w]) == 20
    assert totals["events"] + totals["rejects"] + totals["duplicates"] == totals["rows"]
    assert good not in outputs[2][0].decode() + outputs[2][1].decode("utf-8")


def test_row_starts_cut_only_between_rows(tmp_path):
    from compliance.importers.parallel import row_starts

    text = 'A;B\r\n1;"x\ny"\r\n2;"a""b"\n3;c\n'
    p = tmp_path / "c.csv"
    p.write_bytes(text.encode())
    starts = row_starts(p, ";", 1)
    rows_at = [text.encode()[:s].count(b"\n") for s in starts]
    assert starts[0] == len("A;B\r\n") and starts[-1] == len(text.encode())
    assert len(text.encode()[:starts[1]].split(b'"')) % 2 == 1     # never inside quotes
    assert rows_at == sorted(rows_at)
    p.write_bytes(b'A;B\n1;5" x\n')
    assert row_starts(p, ";", 1) is None                            # a stray quote
    p.write_bytes(b'A;B\r1;2\n3;4\n')
    assert row_starts(p, ";", 1) is None                            # header ends at a lone CR
