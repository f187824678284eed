"""The engine: rule files drive it, crashes lose nothing, parameters change the scan."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from compliance.compiler import compile_program
from compliance.pool import FAULT_ENV
from compliance.rules import RuleError, load_ruleset
from compliance.scan import scan_lines

from helpers import ROOT, ev, violations


def _invitation_case(case: str, sent: str, meeting_day: str = "2025-03-31") -> list[str]:
    return [
        ev(f"{case}-1", "sip.initiated", "2025-03-01", case=case),
        ev(f"{case}-2", "consent.given", "2025-03-01", case=case),
        ev(f"{case}-3", "meeting.scheduled", "2025-03-02", case=case, meeting="M1", kind="sip",
           date=meeting_day),
        ev(f"{case}-4", "invitation.sent", sent, case=case, meeting="M1", to="bup"),
        ev(f"{case}-5", "meeting.held", meeting_day, case=case, meeting="M1", attendees=["soc", "bup"]),
    ]


def test_every_rule_file_compiles_to_durable_rules():
    program = compile_program(load_ruleset())
    definition, plans = program.definition, program.plans
    assert {p.rule_id for p in plans.values() if p.kind == "when"} == {
        "invitation-notice", "meeting-within-30-days", "mandatory-attendance",
        "sip-before-bus-individ", "consent-before-meeting",
        "consent-before-invitation", "consent-written", "invitation-privacy",
        "guardian-invited-by-letter", "plan-content", "follow-up-held", "bus-individ-protocol",
        "deviation-process", "group-meetings-per-term", "age-scope"}
    # No `or` inside a join: it crashes the C engine (notes/durable-rules.md).
    assert "$or" not in str(definition)
    # Every rule starts with its own trigger fact.
    for name, rule in definition.items():
        if not name.startswith("zz_never"):
            assert rule["all"][0] == {"trig": {"$and": [{"t": "trig"}, {"r": name}]}}


def test_changing_notice_days_in_the_rule_file_changes_the_scan(tmp_path, scan):
    # Sent 20 days before: late with 21 days' notice, on time with 14.
    lines = _invitation_case("K1", "2025-03-11")
    assert len(violations(scan(lines), "invitation-notice")) == 1
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "compliance" / "data" / "rules", rules)
    path = rules / "invitation-notice.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("notice_days = 21", "notice_days = 14"),
                    encoding="utf-8")
    assert violations(scan(lines, rules_dir=rules), "invitation-notice") == []
    # ... and a 15-day notice is late with 14 days only when sent later than 14 days before.
    late = _invitation_case("K2", "2025-03-18")
    found = violations(scan(late, rules_dir=rules), "invitation-notice")
    assert [(f["due"], f["actual"]) for f in found] == [("2025-03-17", "2025-03-18")]


def test_changing_excused_recipients_changes_attendance(tmp_path, scan):
    lines = [
        ev("a1", "consent.given", "2025-03-01"),
        ev("a2", "meeting.scheduled", "2025-03-01", meeting="M1", kind="sip", date="2025-03-31"),
        ev("a3", "invitation.sent", "2025-03-02", meeting="M1", to="guardian"),
        ev("a4", "meeting.held", "2025-03-31", meeting="M1", attendees=["soc"]),
    ]
    assert violations(scan(lines), "mandatory-attendance") == []
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "compliance" / "data" / "rules", rules)
    path = rules / "mandatory-attendance.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('excused = ["guardian", "child"]',
                                                             'excused = ["child"]'), encoding="utf-8")
    assert [f["unit"] for f in violations(scan(lines, rules_dir=rules), "mandatory-attendance")] == ["guardian"]


@pytest.mark.parametrize("edit, key", [
    (("notice_days = 21", "notice_days = 'tre'"), "notice_days"),
    (('"day > hm.day - $notice_days"', '"day > hm.day - $notice_dayz"'), "notice_dayz"),
    (('fact = "invitation.sent", where = ["meeting == hm.meeting", "day > hm',
      'fact = "invitation", where = ["meeting == hm.meeting", "day > hm'), "invitation"),
    (('id = "invitation-notice"', 'id = "other-id"'), "other-id"),
    (("[draft]", "[drafts]"), "drafts"),
    # a key the engine does not honour is an error naming the key, never ignored
    (('title = "Kallelse', 'severity = "violation"\ntitle = "Kallelse'), "severity"),
    (('valid_from = 2013-01-01', 'valid_from = 2013-01-01\nvalid_untill = 2020-01-01'), "valid_untill"),
    (('ref = "gotland-2013"', 'ref = "gotland-2031"'), "gotland-2031"),
    (('day = "roll($send_roll', 'dag = "roll($send_roll'), "send_by"),
])
def test_a_broken_rule_file_is_reported_with_its_file_and_key(tmp_path, edit, key):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "compliance" / "data" / "rules", rules)
    path = rules / "invitation-notice.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_ruleset(rules)
    assert key in str(info.value) and "invitation-notice.toml" in str(info.value)
    assert "Traceback" not in str(info.value) and "Extra inputs" not in str(info.value)


def test_a_crashing_worker_loses_no_case(monkeypatch):
    """A case that kills its worker is reported; every other case is still decided."""
    lines = []
    for n in range(250):
        lines += _invitation_case(f"C{n:03d}", "2025-03-11")   # each has one late invitation
    monkeypatch.setenv(FAULT_ENV, "C123")
    result = scan_lines(lines, dt.date(2025, 12, 31), workers=2)
    assert result.errors == [{"case": "C123", "reason": result.errors[0]["reason"]}]
    assert "kraschade" in result.errors[0]["reason"]
    decided = {f["case"] for f in result.findings}
    assert decided == {f"C{n:03d}" for n in range(250)} - {"C123"}
    assert result.counts["engine_retried_batches"] >= 1


def test_every_join_ends_in_a_test_that_is_always_true():
    """durable-rules reads past a condition's tests when the last one is false (crash 3 of
    docs/durable-rules-notes.md): the session appends an always-true test to every
    condition that compares a fact with an earlier one (`session.guarded`)."""
    from compliance.session import NOT_A_TRIGGER, guarded

    def operand_refers(operand, aliases) -> bool:     # {"hm": "day"}, {"$sub": {"$l": {"hm": "day"}, ...}}
        return isinstance(operand, dict) and any(
            k in aliases and isinstance(v, str) or k.startswith("$") and operand_refers(v, aliases)
            for k, v in operand.items())

    def refers(test, aliases) -> bool:                 # a test: {field: operand}, {"$gt": {field: operand}}
        (key, value), = test.items()
        if key == "$and":
            return any(refers(t, aliases) for t in value)
        if key.startswith("$"):
            (value,) = value.values()
        return operand_refers(value, aliases)
    program = compile_program(load_ruleset(), with_met=True, prune=False, replay=True)
    joins = 0
    for rule in guarded(program.definition).values():
        aliases = {alias for condition in rule["all"] for alias in condition}
        for condition in rule["all"][1:]:
            (test,) = condition.values()
            if refers(test, aliases):
                joins += 1
                assert test["$and"][-1] == NOT_A_TRIGGER
    assert joins > 100


def test_a_false_last_test_in_a_join_does_not_crash_a_worker(tmp_path):
    """With malloc's fresh memory filled with a byte that is no end marker
    (MALLOC_PERTURB_), the read past a join's tests ran on until it crashed: 3 runs in 4
    on this log lost a worker without the guard."""
    import random
    import subprocess
    import sys

    import orjson

    from gen import generate_cases
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate_cases(random.Random(15), 300, 2012, 2026)))
    for perturb in ("85", "170"):
        proc = subprocess.run([sys.executable, "-m", "compliance", "scan", str(log), "--as-of", "2026-06-30",
                               "--out", str(tmp_path / perturb), "--workers", "1"], capture_output=True,
                              text=True, env=dict(os.environ, MALLOC_PERTURB_=perturb), timeout=300)
        assert proc.returncode == 0, proc.stderr
        manifest = orjson.loads((tmp_path / perturb / "manifest.json").read_bytes())
        assert manifest["counts"]["engine_retried_batches"] == 0


def test_an_exception_while_deriving_a_fact_fails_its_case_aloud(monkeypatch, scan):
    """durable-rules swallows exceptions raised in action callbacks (upstream #305); the
    session takes the matches itself, so an exception while it computes a derived fact
    (here the 30-day deadline's roll) fails that case with the reason, and no other."""
    import compliance.session as session
    original = session.calendar_fn

    def failing(fn, day, arg):
        if dt.date.fromordinal(day) == dt.date(2025, 4, 2):    # K1's start + 30
            raise ValueError("kalendern svarade inte")
        return original(fn, day, arg)
    monkeypatch.setattr(session, "calendar_fn", failing)
    lines = _invitation_case("K1", "2025-03-11", "2025-04-20") + _invitation_case("K2", "2025-03-11")
    lines = [line.replace('"2025-03-01"', '"2025-03-03"') if '"K1-' in line else line for line in lines]
    result = scan(lines)
    assert result.errors == [{"case": "K1", "reason": "faktumet clock i regeln meeting-within-30-days kunde "
                                                      "inte räknas ut: ValueError: kalendern svarade inte"}]
    assert {f["case"] for f in result.findings} == {"K2"}


def test_no_crash_no_retry_and_every_case_decided(scan):
    lines = []
    for n in range(120):
        lines += _invitation_case(f"D{n:03d}", "2025-03-10")   # exactly 21 days: on time
    result = scan(lines, workers=2)
    assert result.errors == [] and result.findings == []
    assert result.counts["engine_retried_batches"] == 0
    assert result.counts["cases"] == 120


def test_the_session_is_reused_without_leaking_facts_between_cases(scan):
    """Many cases through a worker's one session: a later case sees only its own facts."""
    lines = []
    for n in range(230):
        if n % 2:
            lines += _invitation_case(f"E{n:03d}", "2025-03-11")           # late
        else:
            lines += [ev(f"E{n:03d}-1", "case.opened", "2025-03-01", case=f"E{n:03d}")]
    result = scan(lines)
    assert sorted(f["case"] for f in result.findings) == [f"E{n:03d}" for n in range(230) if n % 2]


def test_a_draft_that_cannot_be_written_fails_the_scan_not_the_case(tmp_path, monkeypatch):
    import compliance.deviations as deviations
    from compliance.scan import ScanError, run_scan

    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(_invitation_case("K1", "2025-03-11")) + "\n", encoding="utf-8")

    original = deviations.write_file   # write into a folder that does not exist: an OSError
    monkeypatch.setattr(deviations, "write_file",
                        lambda path, data: original(str(Path(path).parent / "missing" / Path(path).name), data))
    with pytest.raises(ScanError) as info:
        run_scan([log], dt.date(2025, 12, 31), out_dir=tmp_path / "out", workers=1)
    assert "utkasten kan inte skrivas" in str(info.value) and "missing" in str(info.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_workers_started_before_reading_survive_a_crash_too(tmp_path, monkeypatch):
    """`run_scan` forks its workers before it reads the log; a crash in one of them is
    handled like any other: the case is reported, every other case decided, all drafts written."""
    from compliance.scan import run_scan
    log = tmp_path / "log.jsonl"
    lines = []
    for n in range(150):
        lines += _invitation_case(f"S{n:03d}", "2025-03-11")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv(FAULT_ENV, "S077")
    result = run_scan([log], dt.date(2025, 12, 31), out_dir=tmp_path / "out", workers=2)
    assert [e["case"] for e in result.errors] == ["S077"]
    assert {f["case"] for f in result.findings} == {f"S{n:03d}" for n in range(150)} - {"S077"}
    drafts = sorted(p.name.split("__")[0] for p in (tmp_path / "out" / "deviations").iterdir())
    assert drafts == sorted(f"S{n:03d}" for n in range(150) if n != 77)


def test_finding_id_is_stable_and_identifies_the_breach():
    """The id is a digest of (rule, case, event, meeting, unit): not of due, status or version."""
    from compliance.findings import finding_id
    a = finding_id("mandatory-attendance", "K1", "e7", "M1", "bup")
    assert a == finding_id("mandatory-attendance", "K1", "e7", "M1", "bup")
    assert len(a) == 16 and int(a, 16) >= 0
    others = {finding_id("mandatory-attendance", "K1", "e7", "M1", "skola"),
              finding_id("invitation-notice", "K1", "e7", "M1", "bup"),
              finding_id("mandatory-attendance", "K2", "e7", "M1", "bup"),
              finding_id("mandatory-attendance", "K1", "e7", None, "bup"),
              # no concatenation ambiguity: ("a", "bc") is not ("ab", "c")
              finding_id("mandatory-attendance", "K1e", "7", "M1", "bup")}
    assert a not in others and len(others) == 5


@pytest.mark.parametrize("profile", ["core", "skarpnack-2018"])
def test_triggers_left_out_for_rules_that_cannot_match_change_no_finding(monkeypatch, scan, profile):
    """A rule's trigger is not asserted while the case holds no fact of a type the rule
    joins (compliance.session); with every trigger asserted, random cases with the
    generator's edge cases find exactly the same, summaries included."""
    import dataclasses
    import random

    import orjson

    import compliance.scan as scan_module
    from gen import generate_cases
    lines = [orjson.dumps(e).decode() for e in generate_cases(random.Random(7), 250, 2012, 2026, edge_rate=0.4)]
    pruned = scan(lines, as_of="2026-06-30", profile=profile)
    compile_real = scan_module.compile_program

    def every_trigger(*args, **kw):
        program = compile_real(*args, **kw)
        return dataclasses.replace(program, joins={name: frozenset() for name in program.joins})
    monkeypatch.setattr(scan_module, "compile_program", every_trigger)
    full = scan(lines, as_of="2026-06-30", profile=profile)
    assert pruned.errors == full.errors == []
    assert len(pruned.findings) > 100
    assert pruned.findings == full.findings
    assert pruned.cases == full.cases and pruned.evidence == full.evidence


def test_every_type_test_is_on_its_marker():
    """The session's ruleset tests a fact's type on its marker property, one test per type
    (and per trigger, under `@trig`), never `t == ...`, which durable-rules tried for
    every fact against every type (compliance.session.by_marker)."""
    from compliance.session import TRIGGER_MARK, by_marker, ruleset, trigger_marker
    program = compile_program(load_ruleset(), with_met=True, prune=False, replay=True)
    definition = ruleset(program)
    assert definition == by_marker(definition)
    for name, rule in definition.items():
        if not name.startswith(("zz_never", "zz_keep")):
            assert rule["all"][0] == {"trig": {"$and": [{TRIGGER_MARK: 1}, {trigger_marker(name): 1}]}}
        for condition in rule["all"]:
            (test,) = condition.values()
            tests = test["$and"] if "$and" in test else [test]
            assert [k for t in tests for k, v in t.items() if k == "t" and isinstance(v, str)] == []
            (first,) = tests[0].items()
            assert first[0].startswith("@") and first[1] == 1


def test_a_deadline_found_through_derived_facts_says_how_it_was_computed(scan):
    """The basis of a due date is worked out when a finding asks for it, through the
    derived facts that carried it (clock <- SIP start): 30 days after the start, rolled
    forward from a Sunday."""
    lines = [ev("b1", "sip.initiated", "2025-01-10", case="B", unit="soc"),
             ev("b2", "consent.given", "2025-01-10", case="B", unit="soc")]
    (finding,) = [f for f in scan(lines, as_of="2025-06-30").findings if f["rule"] == "meeting-within-30-days"]
    assert finding["due"] == "2025-02-10"
    assert finding["basis"] == {"from": "2025-01-10", "days": 30, "roll": "forward"}
