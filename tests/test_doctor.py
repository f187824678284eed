"""`compliance doctor` and `compliance rules validate` as an operator meets them on a machine
whose rules engine works, cannot load, crashes, hangs or answers wrong."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import sysconfig
import textwrap

import pytest

import reference
from helpers import ROOT


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def one_swedish_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Fatal Python error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def broken(tmp_path):
    """broken(source or bytes) -> env whose PYTHONPATH puts that `durable_rules_engine` first."""
    def make(body: str | bytes, suffix: str = ".py") -> dict:
        path = tmp_path / f"durable_rules_engine{suffix}"
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(textwrap.dedent(body), encoding="utf-8")
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    return make


def test_the_built_in_case_expects_what_the_independent_reference_finds():
    from compliance import doctor
    found = reference.evaluate(doctor.case_lines(), doctor.AS_OF)
    assert sorted((f["rule"], f["event"], f["unit"], f["due"], f["actual"]) for f in found) == sorted(doctor.EXPECTED)


def test_doctor_says_what_works():
    proc = run("doctor")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Python {platform.python_version()}" in out
    assert "durable-rules 2.0.28" in out
    assert ("shim: används" if sys.version_info >= (3, 13) else "shim: behövs inte") in out
    assert "holidays" in out and "1953–2100" in out
    assert out.strip().endswith("Regelmotorn fungerar.")


def test_validate_still_says_valid_rules_are_valid():
    proc = run("rules", "validate")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"\d+ regelfiler är giltiga\.", proc.stdout.strip())


def test_an_engine_that_cannot_load_is_one_line(broken):
    # A damaged build: the file is there, the dynamic linker refuses it.
    env = broken(b"not an ELF file\n", suffix=sysconfig.get_config_var("EXT_SUFFIX"))
    line = one_swedish_line(run("doctor", env=env))
    assert line.startswith("compliance: regelmotorn fungerar inte: durable-rules (durable_rules_engine) kunde inte laddas")
    validate = run("rules", "validate", env=env)
    assert "giltiga" not in validate.stdout
    assert "regelmotorn fungerar inte" in one_swedish_line(validate)


def test_an_engine_that_crashes_while_loading_is_one_line(broken):
    env = broken("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    assert one_swedish_line(run("doctor", env=env)) == (
        "compliance: regelmotorn fungerar inte: arbetsprocessen dog när regelmotorn laddades (signal SIGSEGV)")
    validate = run("rules", "validate", env=env)
    assert "giltiga" not in validate.stdout
    assert "arbetsprocessen dog när regelmotorn laddades" in one_swedish_line(validate)


def test_an_engine_that_crashes_while_deciding_is_one_line():
    env = {"COMPLIANCE_FAULT_CASE": "PROVFALL"}    # the engine's worker dies on this case
    line = one_swedish_line(run("doctor", env=env))
    assert "provfallet PROVFALL kunde inte bedömas" in line


def test_an_engine_that_answers_wrong_is_one_line(broken):
    # Loads and runs, but never reports a match: the kind of silent failure durable-rules has.
    env = broken("""
        def create_ruleset(name, definition): return 1
        def assert_facts(handle, facts): return (0, 0)
        def start_action_for_state(handle, state): return None
        def complete_and_start_action(handle, state): return None
        def retract_facts(handle, facts): return 0
    """)
    line = one_swedish_line(run("doctor", env=env))
    assert "provfallet PROVFALL" in line


def test_rules_the_engine_refuses_are_named_as_such(broken):
    env = broken("""
        def create_ruleset(name, definition): raise Exception("Could not create ruleset, error code: 101")
    """)
    line = one_swedish_line(run("rules", "validate", env=env))
    assert line == "compliance: durable-rules tog inte emot regelfilerna: Could not create ruleset, error code: 101"


def test_an_engine_that_hangs_is_given_up(broken, monkeypatch):
    from compliance import doctor
    env = broken("import time\ntime.sleep(600)\n")
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    with pytest.raises(doctor.EngineBroken, match="svarade inte inom 3 s"):
        doctor.check(timeout=3)


def test_a_scan_with_a_broken_engine_is_one_line_and_writes_nothing(broken, tmp_path):
    env = broken(b"not an ELF file\n", suffix=sysconfig.get_config_var("EXT_SUFFIX"))
    out = tmp_path / "out"
    proc = run("scan", str(ROOT / "fixtures" / "log"), "--as-of", "2025-12-31", "--out", str(out), env=env)
    assert "kunde inte laddas" in one_swedish_line(proc)
    assert not out.exists()
