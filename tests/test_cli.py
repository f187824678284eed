"""The command line as a cron job or a person meets it: exit codes, messages, outputs."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, SPEC_EXAMPLES, ev

FIXTURES = ROOT / "fixtures"


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_scan_of_the_spec_example_writes_every_output(tmp_path):
    out = tmp_path / "out"
    proc = run("scan", str(SPEC_EXAMPLES / "core.jsonl"), "--as-of", "2025-12-31", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("findings.jsonl", "rejects.jsonl", "manifest.json", "evidence.jsonl", "cases.jsonl"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2025-12-31"
    assert manifest["counts"]["lines"] == 65 and manifest["counts"]["events"] == 65
    assert {r["id"] for r in manifest["rules"]} >= {"invitation-notice", "consent-before-meeting"}
    assert len(manifest["inputs"][0]["sha256"]) == 64 and manifest["rules_digest"]
    assert "holidays" in manifest["calendar"]
    assert "Brister per regel" in proc.stderr
    drafts = sorted(p.name for p in (out / "deviations").iterdir())
    # bup-farsta (B) stayed away from the meeting soc-skarpnack (A) convened (deviations.md)
    assert "P01__bup-farsta__från__soc-skarpnack.md" in drafts
    text = (out / "deviations" / "P01__bup-farsta__från__soc-skarpnack.md").read_text(encoding="utf-8")
    # cited by title, body, date and section: never by an internal file name
    assert "Samtliga aktörer som blir kallade till SIP" in text
    assert "Lokal överenskommelse BUS Skarpnäck" in text and "undertecknad 2018-04-17" in text
    assert "2 kap. 7 § socialtjänstlagen (2001:453)" in text
    assert ".txt" not in text and "001_" not in text
    assert "Avslutning av ärendet" in text and "BUS-sekretariatet" in text


def test_findings_are_byte_identical_on_rerun_and_on_reordered_input(tmp_path):
    lines = (SPEC_EXAMPLES / "core.jsonl").read_text(encoding="utf-8").splitlines()
    random.Random(7).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outs = []
    for n, src in enumerate([SPEC_EXAMPLES / "core.jsonl", SPEC_EXAMPLES / "core.jsonl", shuffled]):
        out = tmp_path / f"out{n}"
        assert run("scan", str(src), "--as-of", "2025-12-31", "--out", str(out)).returncode == 0
        outs.append((out / "findings.jsonl").read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_bad_lines_are_rejected_and_the_rest_is_scanned(tmp_path):
    log = tmp_path / "log.jsonl"
    good = ev("g1", "meeting.held", "2025-05-05", case="B1", meeting="M1", kind="sip", attendees=["soc"])
    log.write_bytes(b"\n".join([
        b"not json",
        good.encode(),
        b"\xff\xfe broken bytes",
        b"[1, 2]",
        b"",
        ev("g1", "case.opened", "2025-05-05", case="B1").encode(),          # duplicate id
        ev("x2", "meeting.held", "2025-02-30", case="B1", meeting="M2", attendees=[]).encode(),
        ev("x3", "meeting.held", "2025-03-01T10:00:00+25:00", case="B1", meeting="M2", attendees=[]).encode(),
        ev("x4", "meeting.held", "2025-03-01", case="B1", meeting="M2", attendees="soc").encode(),
        ev("x5", "meeting.hold", "2025-03-01", case="B1").encode(),
        b'{"id": "x6", "type": "case.opened", "at": "2025-03-01"}',
        b'"just a string"',
        b'{"id": "x7", "case": "B1", "type": "case.opened", "at": [2025]}',   # wrong types of `at`
        b'{"id": "x8", "case": "B1", "type": "case.opened", "at": {"d": 1}}',
        b'{"id": "x9", "case": "B1", "type": "case.opened", "at": 20250301}',
        ev("y1", "case.opened", "1900-01-05", case="B1").encode(),     # years the calendar lacks
        ev("y2", "case.opened", "0001-01-01T00:00:00+01:00", case="B1").encode(),
        ev("y3", "meeting.scheduled", "2025-01-02", case="B1", meeting="M9", kind="sip",
           date="9999-12-31").encode(),
    ]) + b"\n")
    out = tmp_path / "out"
    proc = run("scan", str(log), "--as-of", "2025-12-31", "--out", str(out))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    rejects = [json.loads(l) for l in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    by_line = {r["line"]: r["reason"] for r in rejects}
    assert sorted(by_line) == [1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    assert "JSON" in by_line[1] and "UTF-8" in by_line[3] and "objekt" in by_line[4]
    assert "'id'" in by_line[6] and "rad 2" in by_line[6]
    assert "'at'" in by_line[7] and "2025-02-30" in by_line[7]
    assert "'at'" in by_line[8]
    assert "'attendees'" in by_line[9] and "'type'" in by_line[10] and "'case'" in by_line[11]
    assert all("fält 'at'" in by_line[n] for n in (13, 14, 15, 16, 17))
    assert all("utanför kalendern" in by_line[n] for n in (16, 17, 18)) and "fält 'date'" in by_line[18]
    assert all(r["file"] == str(log) and "raw" in r for r in rejects)
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    assert counts == {**counts, "lines": 18, "events": 1, "rejects": 16, "blank": 1}
    # The one good line was scanned: a meeting with no consent.
    findings = [json.loads(l) for l in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [f["rule"] for f in findings] == ["consent-before-meeting"]


def test_a_line_of_50_megabytes_is_rejected_without_losing_the_others(tmp_path):
    log = tmp_path / "big.jsonl"
    with log.open("w", encoding="utf-8") as fh:
        fh.write(ev("a", "case.opened", "2025-01-01", case="Z") + "\n")
        fh.write('{"id": "huge", "case": "Z", "type": "case.opened", "at": "2025-01-01", "pad": "'
                 + "x" * 50_000_000 + '"\n')
        fh.write('{"id": "huge2", "case": "Z", "type": "nope", "at": "2025-01-01", "pad": "'
                 + "y" * 50_000_000 + '"}\n')
        fh.write(ev("b", "case.closed", "2025-01-02", case="Z") + "\n")
    out = tmp_path / "out"
    proc = run("scan", str(log), "--as-of", "2025-12-31", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    assert counts["events"] == 2 and counts["rejects"] == 2


def test_an_empty_file_scans_to_nothing(tmp_path):
    log = tmp_path / "empty.jsonl"
    log.write_bytes(b"")
    out = tmp_path / "out"
    proc = run("scan", str(log), "--as-of", "2025-12-31", "--out", str(out))
    assert proc.returncode == 0
    assert (out / "findings.jsonl").read_bytes() == b""


@pytest.mark.parametrize("args, words", [
    (["scan", "missing.jsonl", "--out", "o"], "finns inte"),
    (["scan", "{log}", "--rules", "{broken}", "--out", "o"], "invitation-notice.toml"),
    (["scan", "{log}", "--out", "/proc/forbidden/out"], "/proc/forbidden/out"),
    (["scan", "{log}", "--units", "{badunits}", "--out", "o"], "units"),
    (["scan", "{notes}", "--out", "o"], "okänd filändelse '.txt'"),
])
def test_a_scan_that_cannot_run_exits_1_with_one_line(tmp_path, args, words):
    log = tmp_path / "log.jsonl"
    log.write_text(ev("a", "case.opened", "2025-01-01") + "\n", encoding="utf-8")
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "invitation-notice.toml").write_text('id = "invitation-notice"\nversion = 12\n', encoding="utf-8")
    badunits = tmp_path / "units.toml"
    badunits.write_text("[[unit]\n", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a log\n", encoding="utf-8")
    args = [a.format(log=log, broken=broken, badunits=badunits, notes=notes) for a in args]
    proc = run(*args, cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr


def test_usage_errors_exit_2(tmp_path):
    assert run("scan").returncode == 2
    assert run("scan", "x.jsonl", "--out", "o", "--as-of", "2025-13-01").returncode == 2
    assert run("nonsense").returncode == 2


def test_an_out_folder_with_other_files_is_never_overwritten(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious", encoding="utf-8")
    proc = run("scan", str(SPEC_EXAMPLES / "core.jsonl"), "--out", str(out))
    assert proc.returncode == 1 and (out / "thesis.docx").read_text(encoding="utf-8") == "precious"


def test_a_failed_scan_leaves_the_previous_outputs_whole(tmp_path):
    out = tmp_path / "out"
    assert run("scan", str(SPEC_EXAMPLES / "core.jsonl"), "--as-of", "2025-12-31", "--out", str(out)).returncode == 0
    before = (out / "findings.jsonl").read_bytes()
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "x.toml").write_text("not toml [", encoding="utf-8")
    assert run("scan", str(SPEC_EXAMPLES / "core.jsonl"), "--rules", str(broken), "--out", str(out)).returncode == 1
    assert (out / "findings.jsonl").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_a_scan_killed_part_way_leaves_the_previous_outputs_whole(tmp_path):
    import signal
    import time
    out = tmp_path / "out"
    assert run("scan", str(SPEC_EXAMPLES / "core.jsonl"), "--as-of", "2025-12-31", "--out", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as fh:
        for n in range(60000):
            fh.write(ev(f"k{n}", "consent.given", "2025-01-01", case=f"K{n}") + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "compliance", "scan", str(big), "--out", str(out)],
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_calendar_command_prints_the_facts():
    proc = run("calendar", "2025-06-20", "2025-06-19")
    assert proc.returncode == 0
    assert "Midsommarafton" in proc.stdout and "2025-06-23" in proc.stdout
    year = run("calendar", "--year", "2005")
    assert "2005-06-06" in year.stdout and "2005-05-16" not in year.stdout
    assert "2004-05-31" in run("calendar", "--year", "2004").stdout


def test_rules_commands():
    listing = run("rules", "list")
    assert listing.returncode == 0 and "meeting-within-30-days" in listing.stdout
    show = run("rules", "show", "invitation-notice")
    assert "Kallelsen skickas senast tre veckor" in show.stdout and "notice_days = 21" in show.stdout
    assert run("rules", "validate").returncode == 0
    assert run("rules", "show", "nope").returncode == 1


def test_drafts_never_show_a_personal_number_shaped_id(tmp_path):
    # An export put a personal number where pseudonyms belong: such lines are rejects
    # (event-log.md), naming the field but not the number; a number-shaped id that is no
    # personal number (wrong check digit) is an ordinary id.
    from compliance.privacy import luhn_check_digit
    case = "20000101123" + luhn_check_digit("000101123")
    meeting = "20000101567" + luhn_check_digit("000101567")
    not_a_number = "20000101123" + str((int(case[-1]) + 1) % 10)       # a wrong check digit
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([
        ev("h1", "meeting.scheduled", "2025-03-01", case=case, meeting="M1", kind="sip", date="2025-03-31"),
        ev("h2", "meeting.held", "2025-03-31", case="K1", meeting=meeting, attendees=["soc"]),
        ev("h3", "meeting.scheduled", "2025-03-01", case=not_a_number, meeting="M1", kind="sip",
           date="2025-03-31"),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run("scan", str(log), "--as-of", "2025-12-31", "--out", str(out)).returncode == 0
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejects] == [(1, "fält 'case'"), (2, "fält 'meeting'")]
    for r in rejects:
        assert case not in r["reason"] and meeting not in r["reason"]
    cases = (out / "cases.jsonl").read_text(encoding="utf-8")
    assert not_a_number in cases and case not in cases and meeting not in cases