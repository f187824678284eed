"""SIGTERM, SIGHUP and Ctrl-C mid-scan: every child stopped, nothing half-written.

cron and systemd stop a scan with SIGTERM (SIGHUP when a terminal closes); a person with
Ctrl-C, which the terminal sends to the whole process group. The scan must stop its engine
workers and reader processes, remove its temporary folder, leave the previous outputs as
they were, and exit with one line and 128 + the signal (143, 129, 130). Each test pauses the
real command line at its moment (`tests/faults.py`), sends the signal, and checks.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from gen import generate_cases
from helpers import ROOT

FAULTS = ROOT / "tests" / "faults.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    events = generate_cases(random.Random(16), 300, 2012, 2026)
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:       # a zombie that init has not reaped yet is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


@pytest.mark.parametrize("moment", ["reading", "deciding"])
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_stops_every_child_and_leaves_the_previous_outputs(sig, status, moment, log, tmp_path):
    out = tmp_path / "out"
    first = subprocess.run([sys.executable, "-m", "compliance", "scan", str(log), "--as-of", "2026-06-30",
                            "--out", str(out)], capture_output=True, timeout=300)
    assert first.returncode == 0
    before = snapshot(out)
    # A session of its own, as a terminal's foreground job: Ctrl-C goes to the whole group.
    proc = subprocess.Popen([sys.executable, str(FAULTS), f"pause@{moment}", "--", "scan", str(log),
                             "--as-of", "2026-06-30", "--out", str(out), "--workers", "2"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stderr.readline()
    assert line.startswith(f"PAUSE {moment} "), line
    children = [int(p) for p in line.split()[2:]]
    assert len(children) >= (4 if moment == "reading" else 2)      # workers (and readers)
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]   # mid-scan: its folder exists
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)        # as the terminal does it
    else:
        proc.send_signal(sig)
    rest = proc.stderr.read()
    assert proc.wait(60) == status
    name = "Ctrl-C (SIGINT)" if sig == signal.SIGINT else sig.name
    assert rest.strip().splitlines() == [
        f"compliance: avbruten av {name}; inget skrevs, tidigare utdata är orörda"]
    deadline = time.monotonic() + 10
    while not all(gone(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in children if not gone(p)] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]      # no .out.tmp-*, no .out.old-*
    assert snapshot(out) == before
