"""A killed child process at any moment of a scan: never a traceback, never a lost case.

Each test runs the real command line in a subprocess, with a fault injected at its moment
by `tests/faults.py` (it wraps a few functions; the package knows nothing of it). A lost
engine worker is replaced and its batch run again: the outputs are those of a scan without
the fault, and the summary says what happened. A dead reader, or workers that cannot be
started again, stop the scan with one line and exit 1, writing nothing.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from gen import generate_cases
from helpers import ROOT

FAULTS = ROOT / "tests" / "faults.py"
AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    """About 3 000 events in 300 cases: three batches of cases, many pieces to read."""
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    events = generate_cases(random.Random(15), 300, 2012, 2026)
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def scan(fault: str, log: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(FAULTS), fault, "--", "scan", str(log), "--as-of", AS_OF,
                           "--out", str(out), "--workers", "2"], capture_output=True, text=True, timeout=300)


def outputs(out: Path) -> dict[str, bytes]:
    """Every output file but the run record (whose counts say what happened)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


@pytest.fixture(scope="module")
def clean(log, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("clean") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "compliance", "scan", str(log), "--as-of", AS_OF, "--out", str(out),
         "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return outputs(out)


def no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("fault", ["kill-engine@before-reading", "kill-engine@reading",
                                   "kill-engine@deciding"])
def test_a_killed_engine_worker_is_replaced_and_no_case_is_lost(fault, log, clean, tmp_path):
    out = tmp_path / "out"
    proc = scan(fault, log, out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    assert outputs(out) == clean               # findings, drafts, evidence: as without the fault
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["counts"]["engine_worker_deaths"] == 1 and manifest["engine_errors"] == []
    assert "Arbetsprocesser för regelmotorn som dog och ersattes: 1" in proc.stderr
    if fault.endswith("deciding"):   # it was deciding a batch: run again, said so
        assert manifest["counts"]["engine_retried_batches"] >= 1
        assert "satser som kördes om: 0" not in proc.stderr
    no_leftovers(tmp_path)


def test_a_killed_drafts_worker_costs_nothing(log, clean, tmp_path):
    """The drafts are rendered in worker processes of their own; when one dies, its batch
    goes to a new one (after repeated deaths it is rendered in the scan's own process):
    the same drafts, exit 0."""
    out = tmp_path / "out"
    proc = scan("kill-drafts@drafts", log, out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    assert outputs(out) == clean
    no_leftovers(tmp_path)


def test_a_killed_reader_stops_the_scan_with_one_line(log, tmp_path):
    proc = scan("kill-reader@reading", log, tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"compliance: {log}: en läsprocess avslutades oväntat (SIGKILL) medan filen lästes"]
    assert not (tmp_path / "out").exists()
    no_leftovers(tmp_path)


@pytest.mark.parametrize("fault, words", [
    ("no-restart@reading", "dog innan den hunnit starta, 3 gånger i rad (senast SIGKILL)"),
    ("no-fork@reading", "kunde inte startas: Resource temporarily unavailable"),
])
def test_workers_that_cannot_be_started_again_stop_the_scan_with_one_line(fault, words, log, clean, tmp_path):
    out = tmp_path / "out"
    first = subprocess.run([sys.executable, "-m", "compliance", "scan", str(log), "--as-of", AS_OF,
                            "--out", str(out), "--workers", "2"], capture_output=True, timeout=300)
    assert first.returncode == 0
    before = {p: out.joinpath(p).read_bytes() for p in [*clean, "manifest.json"]}
    proc = scan(fault, log, out)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("compliance: en arbetsprocess för regelmotorn ") and words in line
    assert line.endswith("inget skrevs, tidigare utdata är orörda")
    assert {p: out.joinpath(p).read_bytes() for p in before} == before
    no_leftovers(tmp_path)
