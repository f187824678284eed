"""`--as-of` against the business-day calendar's years (1953–2100), warning horizon included,
and valid events at the very edges of those years."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from compliance import calendar as vardagar
from helpers import ROOT, ev


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ), timeout=300)


@pytest.fixture
def log(tmp_path) -> Path:
    path = tmp_path / "log.jsonl"
    path.write_text(ev("a", "case.opened", "2025-01-02") + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("as_of, warn_days, says", [
    ("0001-01-01", "5", "ligger utanför kalendern: vardagskalendern omfattar åren 1953–2100"),
    ("1952-12-31", "5", "ligger utanför kalendern"),
    ("2125-06-01", "5", "ligger utanför kalendern"),
    ("2100-12-23", "5", "senaste bedömningsdag med --warn-days 5 är 2100-12-22"),
    ("2100-12-30", "5", "varningshorisonten, 5 vardagar framåt (--warn-days), går förbi kalenderns sista dag 2100-12-31"),
    ("2100-12-31", "1", "senaste bedömningsdag med --warn-days 1 är 2100-12-29"),
    ("2025-13-01", "5", "är inget datum ÅÅÅÅ-MM-DD"),
])
def test_an_as_of_the_calendar_cannot_count_is_a_usage_error(log, tmp_path, as_of, warn_days, says):
    out = tmp_path / "out"
    proc = run("scan", str(log), "--as-of", as_of, "--warn-days", warn_days, "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and says in proc.stderr
    assert proc.stderr.startswith("compliance: --as-of ")
    assert not out.exists()


@pytest.mark.parametrize("as_of, warn_days", [("1953-01-01", "5"), ("2100-12-22", "5"),
                                              ("2100-12-29", "1"), ("2100-12-31", "0")])
def test_the_last_and_first_days_the_calendar_can_count_are_accepted(log, tmp_path, as_of, warn_days):
    out = tmp_path / "out"
    proc = run("scan", str(log), "--as-of", as_of, "--warn-days", warn_days, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["as_of"] == as_of


@given(st.dates(dt.date(2098, 6, 1), vardagar.LAST_DAY), st.integers(0, 365))
def test_last_as_of_is_exactly_where_the_warning_horizon_leaves_the_calendar(as_of, warn_days):
    try:
        inside = vardagar.add_business_days(as_of, warn_days) <= vardagar.LAST_DAY
    except ValueError:      # walked into a year the calendar does not know
        inside = False
    assert (as_of <= vardagar.last_as_of(warn_days)) == inside


def test_the_calendar_command_says_in_swedish_when_a_date_is_outside():
    for args in (["1952-06-01"], ["--year", "2101"]):
        proc = run("calendar", *args)
        assert proc.returncode == 2 and proc.stderr.strip().endswith("vardagskalendern omfattar åren 1953–2100")
    proc = run("calendar", "2100-12-31")    # nyårsafton: the next business day is in 2101
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("compliance: närmaste vardag framåt eller bakåt ligger utanför kalendern: "
                                   "vardagskalendern omfattar åren 1953–2100")


# --- events at the edges of the calendar ----------------------------------------------------

ENGLISH = re.compile(r"\b(the|is|of|supports|got|year|error|calendar|business)\b", re.IGNORECASE)


def _edge_case(case: str, start: str, planned: str, invited: str) -> list[str]:
    """A case: opened, initiative and consent on `start`, a SIP meeting planned for
    `planned` with one invitation sent on `invited`, and a BUS-individ request."""
    return [
        ev(f"{case}-1", "case.opened", start, case=case, unit="soc-skarpnack"),
        ev(f"{case}-2", "sip.initiated", start, case=case, unit="soc-skarpnack"),
        ev(f"{case}-3", "consent.given", start, case=case, unit="soc-skarpnack", by="guardian", form="written"),
        ev(f"{case}-4", "meeting.scheduled", start, case=case, unit="soc-skarpnack", meeting="M1", kind="sip",
           date=planned),
        ev(f"{case}-5", "invitation.sent", invited, case=case, unit="soc-skarpnack", meeting="M1", to="bup-farsta"),
        ev(f"{case}-6", "bus_individ.requested", invited, case=case, unit="bup-farsta"),
    ]


def _scan_in_swedish(tmp_path: Path, lines: list[str], as_of: str) -> tuple[subprocess.CompletedProcess, Path]:
    log = tmp_path / "edge.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run("scan", str(log), "--units", str(ROOT / "fixtures" / "units.toml"), "--as-of", as_of, "--out", str(out))
    return proc, out


def _text_for_people(proc: subprocess.CompletedProcess, out: Path) -> str:
    """Everything a person reads: stderr, reasons, messages, drafts (not ids or field names)."""
    texts = [proc.stderr.replace(str(out), "")]     # the path is the test's, not the tool's
    for name, key in (("rejects.jsonl", "reason"), ("findings.jsonl", "message"), ("errors.jsonl", "reason")):
        path = out / name
        if path.exists():
            texts += [json.loads(line)[key] for line in path.read_text(encoding="utf-8").splitlines()]
    texts += [p.read_text(encoding="utf-8") for p in (out / "deviations").glob("*.md")] if (out / "deviations").is_dir() else []
    return "\n".join(texts)


def test_events_early_in_1953_and_late_in_2100_are_decided_in_swedish(tmp_path):
    # Every deadline these cases give lies inside the calendar.
    lines = (_edge_case("K1953", "1953-01-02", "1953-01-30", "1953-01-20")        # send by 1953-01-09
             + _edge_case("K2100", "2100-11-15", "2100-12-17", "2100-12-20"))     # deadline 2100-12-15
    proc, out = _scan_in_swedish(tmp_path, lines, "2100-12-22")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "errors.jsonl").exists()
    found = {(f["case"], f["rule"], f["due"]) for f in map(json.loads, (out / "findings.jsonl").read_text().splitlines())}
    assert ("K2100", "meeting-within-30-days", "2100-12-15") in found
    decided = {c["case"] for c in map(json.loads, (out / "cases.jsonl").read_text().splitlines())}
    assert decided == {"K1953", "K2100"}
    assert not ENGLISH.search(_text_for_people(proc, out))


def test_events_whose_deadlines_leave_the_calendar_are_no_engine_errors(tmp_path):
    lines = (_edge_case("K1953", "1953-01-02", "1953-01-12", "1953-01-05")        # send by 1952-12-22
             + _edge_case("K2100", "2100-12-20", "2100-12-30", "2100-12-21"))     # deadline 2101-01-19
    proc, out = _scan_in_swedish(tmp_path, lines, "2100-12-22")
    assert not (out / "errors.jsonl").exists()
    assert not ENGLISH.search(_text_for_people(proc, out))
