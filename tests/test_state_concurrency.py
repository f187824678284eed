"""Two scans on one store, and a scan killed with SIGKILL part-way, on SQLite and PostgreSQL.

A second scan waits for the first (bounded) or fails with one line; a killed scan leaves
the store exactly as it was, and the next scan's changes are counted from the last run
that was really recorded. Readers are not blocked by a scan that is writing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.state import StoreBusy, list_findings, open_store, record_scan
from compliance.state.schema import decisions, finding_changes, findings, runs
from state_support import finding, new_store_url, run_info, store, store_url  # noqa: F401

TESTS = Path(__file__).resolve().parent

# A scan in another process: it records K1..Kn and stops inside its transaction, at the
# point given by `mode`, says READY, and then waits (for a line on stdin, or forever).
SCAN = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from compliance.state import open_store, recording
from state_support import finding, run_info
url, mode = sys.argv[1], sys.argv[2]
store = open_store(url)

def found():
    for i in range(3000):
        if mode == "staging" and i == 2000:
            print("READY", flush=True)
            time.sleep(600)
        yield finding(f"K{i:05d}", event=f"e{i}")

with recording(store, run_info("2025-03-05")) as rec:
    rec.add_findings(found())
    rec.finish()
    print("READY", flush=True)
    if mode == "hold":
        sys.stdin.readline()
    else:
        time.sleep(600)
print("DONE", flush=True)
"""


def start_scan(url: str, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SCAN, url, mode, str(TESTS)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        raise AssertionError(f"the scan did not start: {line!r} {proc.stderr.read()}")
    return proc


def snapshot(store) -> dict:
    with store.read() as conn:
        return {
            "runs": conn.execute(select(runs.c.id, runs.c.as_of, runs.c.findings).order_by(runs.c.id)).all(),
            "findings": conn.execute(select(findings.c.id, findings.c.state, findings.c.data)
                                     .order_by(findings.c.id)).all(),
            "changes": conn.execute(select(func.count()).select_from(finding_changes)).scalar_one(),
            "decisions": conn.execute(select(func.count()).select_from(decisions)).scalar_one(),
        }


FIRST_NIGHT = [finding(f"K{i:05d}", event=f"e{i}") for i in range(0, 4000, 2)]   # every other one


@pytest.mark.parametrize("moment", ["staging", "compared"])
def test_a_scan_killed_part_way_leaves_the_store_as_it_was(store, store_url, moment, tmp_path):
    record_scan(store, run_info("2025-03-04"), FIRST_NIGHT)
    before = snapshot(store)

    proc = start_scan(store_url, moment)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close(), proc.stderr.close(), proc.stdin.close()

    with open_store(store_url) as reopened:
        assert snapshot(reopened) == before
        # The next scan counts from the first night, the last one recorded.
        tonight = [finding(f"K{i:05d}", event=f"e{i}") for i in range(3000)]
        changes = record_scan(reopened, run_info("2025-03-05"), tonight, timeout=60)
    assert changes.previous_run == 1
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (1500, 0, 500, 0)


def test_a_second_scan_waits_for_the_first_or_gives_up_with_one_line(store, store_url):
    record_scan(store, run_info("2025-03-04"), FIRST_NIGHT)
    holder = start_scan(store_url, "hold")
    try:
        # Give up after half a second: one line, nothing recorded.
        with pytest.raises(StoreBusy) as refused:
            record_scan(store, run_info("2025-03-05"), [finding("X")], timeout=0.5)
        assert "låst av en annan körning" in str(refused.value) and "\n" not in str(refused.value)

        # A unit head can still read the list while the scan writes.
        assert len(list_findings(store)) == len(FIRST_NIGHT)

        # Wait instead: the second scan goes on when the first has committed.
        result: dict = {}

        def second():
            try:
                result["changes"] = record_scan(store, run_info("2025-03-06"), FIRST_NIGHT, timeout=120)
            except Exception as exc:   # noqa: BLE001 - reported by the assertions below
                result["error"] = exc

        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive() and not result, "the second scan must wait, not fail or go ahead"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "DONE"
        waiting.join(timeout=120)
    finally:
        holder.kill()
        holder.wait(timeout=60)
        holder.stdout.close(), holder.stderr.close(), holder.stdin.close()
    assert "error" not in result, result.get("error")
    changes = result["changes"]
    # Counted from the first scan's run (K00000..K02999): the odd ones it added are gone
    # again, and the even ones from K03000 it had resolved are back.
    assert changes.previous_run == 2 and changes.run_id == 3
    assert (changes.new, changes.changed, changes.resolved, changes.reopened) == (0, 0, 1500, 500)
    assert [row.id for row in snapshot(store)["runs"]] == [1, 2, 3]


def test_a_locked_sqlite_store_gives_one_line_when_it_must_be_written(tmp_path):
    """A decision, or the upgrade of an older store, waits for the lock, then gives up."""
    import sqlite3

    from click.testing import CliRunner
    from sqlalchemy import create_engine

    from compliance.cli import main
    from compliance.state import record_decision
    from compliance.state.migrate import upgrade

    path = tmp_path / "state.db"
    with open_store(path, create=True) as current:
        record_scan(current, run_info("2025-03-04"), [finding()])
    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        upgrade(conn, "0001")
    engine.dispose()

    holders = [sqlite3.connect(p, isolation_level=None) for p in (path, old)]
    try:
        for holder in holders:
            holder.execute("BEGIN IMMEDIATE")               # another writer holds both stores
        with open_store(path, lock_timeout=0.3) as busy:    # reading needs no lock
            with pytest.raises(StoreBusy, match="låst av en annan körning; gav upp efter 0.3 s"):
                record_decision(busy, finding()["id"], "acknowledged", by="Anna")
        with pytest.raises(StoreBusy):
            open_store(old, lock_timeout=0.3)
        listed = CliRunner().invoke(main, ["review", "list", "--state", str(path)])
        assert listed.exit_code == 0 and finding()["id"] in listed.stdout
    finally:
        for holder in holders:
            holder.close()
    with open_store(old) as upgraded:                        # free again: upgraded on open
        assert list_findings(upgraded) == []
