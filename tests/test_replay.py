"""`compliance replay`: one case step by step, ending with exactly the scan's findings."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import ROOT, ev

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import extend_cases, generate_cases  # noqa: E402

CASES = ROOT / "fixtures" / "log" / "cases.jsonl"
PROFILES = ("core", "skarpnack-2018", "gotland-2013", "nynashamn-2004")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "compliance", *args], capture_output=True, text=True, cwd=cwd)


def _in_process(paths, case, as_of, profile="core", rules_dir=None):
    """Replay's reading and deciding without the worker process (the property test runs
    hundreds of replays)."""
    from compliance.replay import _Job, _decide, read_case
    packed, _ = read_case(paths, case)
    return _decide(_Job(str(rules_dir) if rules_dir else None, profile, as_of, 5, case, packed))


def test_the_replay_tells_the_case_and_ends_with_the_scans_findings(tmp_path):
    proc = run("replay", str(CASES), "--case", "F01", "--as-of", "2025-12-31",
               "--units", str(ROOT / "fixtures" / "units.toml"))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "2025-03-20  Möte planerat – Socialtjänsten Skarpnäck, familjeenheten (möte M1 (SIP); planerat till 2025-04-22)" in text
    assert "Frist: 2025-03-19 + 30 dagar = 2025-04-18, långfredagen; 2025-04-19 lördag; 2025-04-20 påskdagen; " \
           "2025-04-21 annandag påsk → tisdag 2025-04-22" in text
    assert "Frist: 2025-04-22 − 21 dagar = 2025-04-01" in text
    assert "Källa: Lokal överenskommelse BUS Skarpnäck — Skarpnäcks stadsdelsförvaltning" in text
    scan_out = tmp_path / "out"
    assert run("scan", str(CASES), "--as-of", "2025-12-31", "--out", str(scan_out)).returncode == 0
    scanned = [json.loads(x) for x in (scan_out / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    as_json = json.loads(run("replay", str(CASES), "--case", "F01", "--as-of", "2025-12-31",
                             "--format", "json").stdout)
    assert set(as_json) >= {"case", "as_of", "profile", "steps", "findings"}
    assert as_json["findings"] == [f for f in scanned if f["case"] == "F01"]
    assert all(f["id"] in text for f in as_json["findings"])


def test_an_old_case_is_told_with_its_years_calendar_and_the_rule_not_yet_in_force():
    text = run("replay", str(CASES), "--case", "F06b", "--as-of", "2025-12-31", "--format", "md").stdout
    assert "2005-04-15 + 30 dagar = 2005-05-15, pingstdagen → måndag 2005-05-16 " \
           "(annandag pingst var inte helgdag 2005)" in text
    assert "regeln gällde inte då (den gäller från 2013-01-01)" in text
    assert text.startswith("# Ärende F06b") and "## Fynd" in text


@pytest.mark.parametrize("args, code, words", [
    (["--case", "NOPE"], 2, "finns inte i loggen"),
    (["--case", "F01", "--as-of", "2025-13-01"], 2, "ÅÅÅÅ-MM-DD"),
    (["--case", "F01", "--profile", "uppsala"], 2, "okänd profil"),
])
def test_a_bad_argument_is_one_line_and_exit_2(args, code, words):
    proc = run("replay", str(CASES), *args)
    assert proc.returncode == code and words in proc.stderr and "Traceback" not in proc.stderr


def test_an_unreadable_log_is_one_line_and_exit_1(tmp_path):
    proc = run("replay", str(tmp_path / "missing.jsonl"), "--case", "F01")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_replay_reads_only_the_case_but_as_the_scan_does(tmp_path, scan):
    """A line of another case that holds the same event id first claims it: the scan
    rejects the case's later line, and so does the replay."""
    log = tmp_path / "log.jsonl"
    lines = [ev("same", "case.opened", "2025-01-02", case="OTHER"),
             ev("same", "meeting.held", "2025-03-03", case="K9", meeting="M1", kind="bus_individ", attendees=["soc"]),
             ev("k2", "meeting.held", "2025-04-03", case="K9", meeting="M2", kind="bus_individ", attendees=["soc"])]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    told = _in_process([log], "K9", dt.date(2025, 12, 31))
    scanned = [f for f in scan(lines).findings if f["case"] == "K9"]
    assert told["findings"] == scanned and {f["event"] for f in scanned} == {"k2"}


# --- as of any past date --------------------------------------------------------------------

def _dated_back(tmp_path: Path) -> Path:
    """The shipped rules, with meeting-within-30-days in force from 2003 (so that 2004–2006
    deadlines are judged on those years' calendars)."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "compliance" / "data" / "rules", rules)
    path = rules / "meeting-within-30-days.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("valid_from = 2013-01-01", "valid_from = 2003-01-01"),
                    encoding="utf-8")
    return rules


def _clock(start: str, held: str) -> list[str]:
    return [ev("c1", "sip.initiated", start), ev("c2", "consent.given", start),
            ev("c3", "meeting.scheduled", start, meeting="M1", kind="sip", date=held),
            ev("c4", "meeting.held", held, meeting="M1", attendees=["soc"])]


@pytest.mark.parametrize("start, held, as_of, expected", [
    # Whit Monday 2005 a working day: + 30 = Sunday 15 May -> Monday 16 May.
    ("2005-04-15", "2005-05-17", "2005-05-09", [("warning", "2005-05-16", None)]),
    ("2005-04-15", "2005-05-17", "2005-05-16", [("warning", "2005-05-16", None)]),   # the meeting is still ahead
    ("2005-04-15", "2005-05-17", "2005-05-17", [("violation", "2005-05-16", "2005-05-17")]),
    # Whit Monday 2004 a holiday: + 30 = Monday 31 May -> Tuesday 1 June.
    ("2004-05-01", "2004-06-01", "2004-05-31", [("warning", "2004-06-01", None)]),
    ("2004-05-01", "2004-06-01", "2004-06-01", []),
    # 6 June 2005, the first National Day holiday: + 30 -> Tuesday 7 June.
    ("2005-05-07", "2005-06-08", "2005-06-07", [("warning", "2005-06-07", None)]),
    ("2005-05-07", "2005-06-08", "2006-01-31", [("violation", "2005-06-07", "2005-06-08")]),
])
def test_as_of_a_past_date_the_scan_and_the_replay_see_what_was_known_then(tmp_path, scan, start, held, as_of, expected):
    rules = _dated_back(tmp_path)
    lines = _clock(start, held)
    got = [(f["status"], f["due"], f["actual"]) for f in scan(lines, as_of=as_of, rules_dir=rules).findings
           if f["rule"] == "meeting-within-30-days"]
    assert got == expected
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    told = _in_process([log], "K1", dt.date.fromisoformat(as_of), rules_dir=rules)
    assert told["findings"] == scan(lines, as_of=as_of, rules_dir=rules).findings
    assert told["hidden"] == sum(1 for x in lines if json.loads(x)["at"] > as_of)


# --- the property: replay = scan --------------------------------------------------------------

PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4),
       as_of=st.dates(dt.date(2003, 1, 1), dt.date(2026, 12, 31)), profile=st.sampled_from(PROFILES))
def test_replay_gives_the_scans_findings_for_every_case(tmp_path_factory, seed, n, as_of, profile):
    from compliance.scan import scan_lines
    rng = random.Random(seed)
    events = extend_cases(rng, generate_cases(rng, n, 2003, 2026))
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    log = tmp_path_factory.mktemp("log") / "log.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scanned = scan_lines(lines, as_of, profile=profile).findings
    for case in sorted({e["case"] for e in events}):
        told = _in_process([log], case, as_of, profile)
        assert told["findings"] == [f for f in scanned if f["case"] == case], (seed, case, as_of, profile)


def test_a_log_with_unit_names_is_replayed_as_the_scan_reads_it(tmp_path):
    """The scan reads a unit's name or alias as its id (the unit register); the replay
    of a case reads the log the same way, so both tell the same findings with the same
    unit ids."""
    units = str(ROOT / "fixtures" / "units.toml")
    text = CASES.read_text(encoding="utf-8")
    text = text.replace('"skola-bjorkhagen"', '"Björkhagsskolan"').replace('"bup-farsta"', '"BUP Farsta"')
    log = tmp_path / "names.jsonl"
    log.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    scanned = run("scan", str(log), "--as-of", "2025-12-31", "--out", str(out), "--units", units)
    assert scanned.returncode == 0, scanned.stderr
    findings = [json.loads(x) for x in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    told = set()
    for case in ("F16", "F03", "F19"):
        proc = run("replay", str(log), "--case", case, "--as-of", "2025-12-31", "--format", "json", "--units", units)
        assert proc.returncode == 0, proc.stderr
        replayed = json.loads(proc.stdout)["findings"]
        assert replayed == [f for f in findings if f["case"] == case], case
        told |= {f["unit"] for f in replayed}
    assert told & {"skola-bjorkhagen", "bup-farsta"}, told
