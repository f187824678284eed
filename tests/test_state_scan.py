"""`compliance scan --state` and `compliance report --state` as a nightly cron job and a unit
head meet them, on SQLite and PostgreSQL: the same findings as without a store, what
changed, the log's filed deviations, each review decision's effect on the drafts and the
lists, and one Swedish line for a store that cannot be used."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from compliance.cli import main
from compliance.state import finding_history, get_finding, open_store
from helpers import ROOT, ev
from state_support import new_store_url, store_url  # noqa: F401

FIXTURES = ROOT / "fixtures"
LOG = FIXTURES / "log"
UNITS = FIXTURES / "units.toml"


def cli(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output
    return result


def scan(out: Path, as_of: str, *extra, log: Path = LOG) -> subprocess.CompletedProcess:
    """One nightly scan, as cron runs it: a process of its own."""
    proc = subprocess.run([sys.executable, "-m", "compliance", "scan", str(log), "--units", str(UNITS),
                           "--as-of", as_of, "--out", str(out), "--workers", "1", *map(str, extra)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a folder, by relative path (hidden ones too)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def drafts(out: Path, suffix: str = ".md") -> list[str]:
    """The drafts in a folder as "case__receiving unit" (whatever else the file name says:
    the reporting unit, a disambiguating digest)."""
    folder = out / "deviations"
    if not folder.is_dir():
        return []
    return sorted("__".join(p.name[:-len(suffix)].split("__")[:2]) for p in folder.iterdir()
                  if p.name.endswith(suffix))


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compliance: "), result.stderr
    return lines[0]


def unit_list(out: Path, unit: str) -> dict[str, dict]:
    """A unit's CSV list, row by finding id."""
    with (out / "units" / f"{unit}.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {row["Id"]: row for row in csv.DictReader(fh, delimiter=";")}


def test_findings_are_byte_identical_with_a_store_and_the_night_says_what_changed(store_url, tmp_path):
    plain, stored = tmp_path / "plain", tmp_path / "stored"
    scan(plain, "2025-12-31")
    first = scan(stored, "2025-12-31", "--state", store_url)
    assert (stored / "findings.jsonl").read_bytes() == (plain / "findings.jsonl").read_bytes()
    found = jsonl(stored / "findings.jsonl")
    changes = jsonl(stored / "changes.jsonl")
    assert [(c["id"], c["change"]) for c in changes] == [(f["id"], "new") for f in found]
    assert f"Ändringar (första körningen i tillståndet): nya {len(found)}, ändrade 0, lösta 0, återöppnade 0" \
        in first.stderr
    assert not (plain / "changes.jsonl").exists()
    manifest = json.loads((stored / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["state"]["run"] == 1 and manifest["state"]["changes"]["new"] == len(found)

    # A month later: the same log, read in another order, judged a month on.
    shuffled = tmp_path / "shuffled.jsonl"
    lines = [line for f in sorted(LOG.glob("*.jsonl")) for line in f.read_text(encoding="utf-8").splitlines()]
    shuffled.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    scan(plain, "2026-01-31", log=shuffled)
    second = scan(stored, "2026-01-31", "--state", store_url, log=shuffled)
    assert (stored / "findings.jsonl").read_bytes() == (plain / "findings.jsonl").read_bytes()
    now = {f["id"]: f for f in jsonl(stored / "findings.jsonl")}
    before = {f["id"]: f for f in found}
    changes = jsonl(stored / "changes.jsonl")
    got = {c["id"]: c["change"] for c in changes}
    assert {i for i, c in got.items() if c == "new"} == now.keys() - before.keys()
    assert {i for i, c in got.items() if c == "resolved"} == before.keys() - now.keys()
    counts = {k: sum(1 for c in got.values() if c == k) for k in ("new", "changed", "resolved", "reopened")}
    assert (f"Ändringar sedan förra körningen: nya {counts['new']}, ändrade {counts['changed']}, "
            f"lösta {counts['resolved']}, återöppnade {counts['reopened']}") in second.stderr
    assert counts["new"] and counts["resolved"]


def test_a_deviation_filed_in_the_log_counts_as_a_decision_and_takes_the_draft_away(store_url, tmp_path):
    absent = [ev("k1-1", "sip.initiated", "2025-01-10"), ev("k1-2", "consent.given", "2025-01-10"),
              ev("k1-3", "meeting.scheduled", "2025-01-10", meeting="M1", kind="sip", date="2025-02-07"),
              ev("k1-4", "invitation.sent", "2025-01-13", meeting="M1", to="bup"),
              ev("k1-5", "invitation.sent", "2025-01-13", meeting="M1", to="skola"),
              ev("k1-6", "meeting.held", "2025-02-07", meeting="M1", attendees=["soc"])]
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(absent) + "\n", encoding="utf-8")
    plain, stored = tmp_path / "plain", tmp_path / "stored"
    scan(plain, "2025-03-31", log=log)
    scan(stored, "2025-03-31", "--state", store_url, log=log)
    assert drafts(plain) == drafts(stored) == ["K1__bup", "K1__skola"]

    # BUP's absence is reported as AV-2025-07; a report to another unit covers nothing here.
    filed = [ev("k1-7", "deviation.filed", "2025-03-20", deviation="AV-2025-07", to="bup", **{"from": "soc"}),
             ev("k1-8", "deviation.filed", "2025-03-21", deviation="AV-2025-08", to="hab", **{"from": "soc"})]
    log.write_text("\n".join(absent + filed) + "\n", encoding="utf-8")
    scan(plain, "2025-04-01", log=log)
    scan(stored, "2025-04-01", "--state", store_url, log=log)
    assert (stored / "findings.jsonl").read_bytes() == (plain / "findings.jsonl").read_bytes()
    assert drafts(plain) == ["K1__bup", "K1__skola"]
    assert drafts(stored) == ["K1__skola"]
    by_unit = {f["unit"]: f["id"] for f in jsonl(stored / "findings.jsonl")}
    with open_store(store_url) as store:
        bup = get_finding(store, by_unit["bup"])
        assert bup.review.status == "deviation-filed" and bup.review.deviation_reference == "AV-2025-07"
        assert bup.review.decision.source == "log" and bup.review.decision.by == "soc"
        assert get_finding(store, by_unit["skola"]).review.status == "open"
    listed = cli("review", "list", "--state", store_url, "--all")
    assert "avvikelse anmäld" in listed.stdout


def test_each_decision_acts_on_the_drafts_and_the_lists_and_upcoming_stays_as_it_is(store_url, tmp_path):
    out, plain = tmp_path / "out", tmp_path / "plain"
    scan(out, "2025-12-31", "--state", store_url)
    found = jsonl(out / "findings.jsonl")
    single = {}          # one finding of each of these cases, alone in its draft
    for case in ("F01", "F03", "F14", "F20", "F21"):
        [f] = [f for f in found if f["case"] == case]
        single[case] = f
        assert f"{case}__{f['unit']}" in drafts(out)
    [warning] = [f for f in found if f["status"] == "warning"]
    decide = [(single["F01"], "acknowledged", ()), (single["F03"], "deviation-filed", ("--ref", "AV-2025-11")),
              (single["F14"], "justified", ("--reason", "Aktualiseringen gjordes på vårdnadshavares begäran")),
              (single["F20"], "data-error", ("--reason", "Kallelsen registrerades på fel datum")),
              (warning, "justified", ("--reason", "Mötet är bokat"))]
    for f, decision, extra in decide:
        result = cli("review", "set", f["id"], decision, *extra, "--by", "Anna Berg", "--state", store_url)
        assert result.exit_code == 0, result.stderr

    scan(out, "2025-12-31", "--state", store_url, "--report")
    scan(plain, "2025-12-31", "--report")
    written, word = drafts(out), drafts(out, ".docx")
    for case in ("F01", "F21"):                                   # acknowledged, open
        assert f"{case}__{single[case]['unit']}" in written and f"{case}__{single[case]['unit']}" in word
    for case in ("F03", "F14", "F20"):                            # filed, justified, data error
        assert not [d for d in written + word if d.startswith(f"{case}__")], case
    expected = {"F01": "Kvitterad", "F03": "Avvikelse anmäld", "F14": "Motiverad", "F20": "Fel i underlaget",
                "F21": "Öppen"}
    for case, label in expected.items():
        row = unit_list(out, single[case]["unit"])[single[case]["id"]]
        assert row["Granskning"] == label and row["Ny sedan förra körningen"] == "", case
    overview = (out / "overview.html").read_text(encoding="utf-8")
    assert "Motiverad" in overview and "Ändringar sedan förra körningen" in overview

    # upcoming.xlsx is not the unit's to-do list: a decision does not change it.
    def cells(path):
        return [[c for c in row] for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]
    assert cells(out / "upcoming.xlsx") == cells(plain / "upcoming.xlsx")
    assert any(warning["id"] in (c or "") for row in cells(out / "upcoming.xlsx") for c in row if isinstance(c, str))

    # Reopened during the day: the next report has its draft again; the history keeps all.
    justified = single["F14"]
    assert cli("review", "set", justified["id"], "reopen", "--reason", "Fel bedömt", "--by", "Anna Berg",
               "--state", store_url).exit_code == 0
    reports = tmp_path / "reports"
    assert cli("report", out, "--out", reports, "--state", store_url).exit_code == 0
    assert f"F14__{justified['unit']}" in drafts(reports, ".docx")
    assert f"F03__{single['F03']['unit']}" not in drafts(reports, ".docx")
    assert unit_list(reports, justified["unit"])[justified["id"]]["Granskning"] == "Öppen"
    with open_store(store_url) as store:
        history = finding_history(store, justified["id"])
    assert [d.decision for d, _ in history.decisions] == ["justified", "reopen"]
    assert "motiverad" in cli("review", "history", justified["id"], "--state", store_url).stdout


def test_new_since_last_night_is_marked_in_the_lists(store_url, tmp_path):
    out = tmp_path / "out"
    scan(out, "2025-12-31", "--state", store_url, "--report")
    first = unit_list(out, "soc-skarpnack")
    assert first and all(row["Ny sedan förra körningen"] == "Ny" for row in first.values())
    scan(out, "2026-01-31", "--state", store_url, "--report")
    news = {c["id"] for c in jsonl(out / "changes.jsonl") if c["change"] in ("new", "reopened")}
    second = unit_list(out, "soc-skarpnack")
    assert {i for i, row in second.items() if row["Ny sedan förra körningen"] == "Ny"} == news & second.keys()
    assert news & second.keys() and second.keys() - news


# --- a store that cannot be used: one Swedish line, exit 1, nothing written ----------------

def test_a_store_that_is_not_a_store_is_refused_with_one_line_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    scan(out, "2025-12-31")
    before = tree(out)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    text = tmp_path / "notes.db"
    text.write_text("inte en databas\n", encoding="utf-8")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY)")
    cases = [(folder, "är en mapp"), (text, "inte en SQLite-databas"), (other, "inget tillstånd"),
             (tmp_path / "missing" / "state.db", "finns inte"),
             ("postgresql://nobody@127.0.0.1:1/none", "kan inte ansluta"),
             ("mysql://x@y/z", "stöds inte")]
    for state, why in cases:
        result = cli("scan", LOG, "--as-of", "2026-01-31", "--out", out, "--workers", "1", "--state", state)
        assert why in one_line_error(result), state
        assert tree(out) == before
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert (text.read_text(encoding="utf-8"), other.stat().st_size > 0) == ("inte en databas\n", True)
    missing = cli("report", out, "--state", tmp_path / "none.db")
    assert "finns inte" in one_line_error(missing)


def test_a_store_locked_by_another_scan_is_one_line_after_the_wait_and_nothing_changes(store_url, tmp_path):
    from test_state_concurrency import snapshot, start_scan
    out = tmp_path / "out"
    scan(out, "2025-12-31", "--state", store_url)
    before = tree(out)
    with open_store(store_url) as store:
        stored = snapshot(store)
    holder = start_scan(store_url, "hold")           # another writer in the middle of its transaction
    try:
        result = cli("scan", LOG, "--as-of", "2026-01-31", "--out", out, "--workers", "1", "--state", store_url,
                     env={"COMPLIANCE_STATE_WAIT": "1"})
        assert "låst av en annan körning" in one_line_error(result)
    finally:
        holder.kill()
        holder.wait()
    assert tree(out) == before
    with open_store(store_url) as store:
        assert snapshot(store) == stored
    assert "COMPLIANCE_STATE_WAIT" in one_line_error(
        cli("scan", LOG, "--as-of", "2026-01-31", "--out", out, "--state", store_url,
            env={"COMPLIANCE_STATE_WAIT": "soon"}))
