"""A nightly scan with a store killed with SIGKILL at each point of its writing, on SQLite
and PostgreSQL (the hook COMPLIANCE_TEST_KILL_AT, compliance/nightly.py).

Before the store's commit, a kill leaves the store and --out exactly as they were and the
next scan is right. After the commit (the point of no return) the store holds the night,
and the next command with the store swaps the finished outputs in: nothing is lost or
counted twice, and every later night is what an uninterrupted sequence gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.nightly import KILL_ENV, KILL_POINTS
from compliance.state import open_store
from compliance.state.schema import case_summaries, decisions, evidence, finding_changes, findings, runs
from helpers import ROOT
from state_support import new_store_url  # noqa: F401
from test_state_scan import UNITS, jsonl, scan, tree

LOG = ROOT / "fixtures" / "log"
NIGHTS = ("2025-12-31", "2026-01-02", "2026-01-31")
BEFORE_COMMIT = ("outputs-written", "store-staged", "store-finished", "before-commit")


def killed_scan(out: Path, state: str, as_of: str, point: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "compliance", "scan", str(LOG), "--units", str(UNITS), "--as-of", as_of,
                           "--out", str(out), "--state", state, "--workers", "1"],
                          capture_output=True, text=True, env={**os.environ, KILL_ENV: point}, timeout=300)
    assert proc.returncode == -9, (point, proc.returncode, proc.stderr)


def snapshot(state: str) -> dict:
    with open_store(state) as store, store.read() as conn:
        count = lambda table: conn.execute(select(func.count()).select_from(table)).scalar_one()  # noqa: E731
        return {
            "runs": conn.execute(select(runs.c.id, runs.c.as_of, runs.c.findings, runs.c.new, runs.c.resolved)
                                 .order_by(runs.c.id)).all(),
            "findings": conn.execute(select(findings.c.id, findings.c.state, findings.c.data)
                                     .order_by(findings.c.id)).all(),
            "summaries": conn.execute(select(case_summaries.c.case, case_summaries.c.digest)
                                      .order_by(case_summaries.c.case)).all(),
            "counts": [count(t) for t in (finding_changes, decisions, evidence)],
        }


def outputs(out: Path) -> dict:
    """What a night published, without what names the run's store or moment."""
    return {"findings": (out / "findings.jsonl").read_bytes(), "changes": (out / "changes.jsonl").read_bytes(),
            "drafts": {name: data for name, data in tree(out).items() if name.startswith("deviations/")}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list[dict]:
    """The nights' outputs from an uninterrupted sequence on a store of its own (SQLite:
    a PostgreSQL store must give the same outputs)."""
    folder = tmp_path_factory.mktemp("reference")
    state, out = str(folder / "state.db"), folder / "out"
    nights = []
    for day in NIGHTS:
        scan(out, day, "--state", state)
        nights.append(outputs(out))
    return nights


@pytest.mark.parametrize("point", BEFORE_COMMIT)
def test_a_scan_killed_before_its_commit_leaves_store_and_outputs_as_they_were(point, new_store_url, reference,
                                                                                tmp_path):
    state, out = new_store_url(), tmp_path / "out"
    scan(out, NIGHTS[0], "--state", state)
    stored, published = snapshot(state), tree(out)
    killed_scan(out, state, NIGHTS[1], point)
    assert snapshot(state) == stored
    assert tree(out) == published
    for n, day in enumerate(NIGHTS[1:], start=1):         # the next nights are right
        scan(out, day, "--state", state)
        assert outputs(out) == reference[n], day


@pytest.mark.parametrize("point", ["committed", "swapping"])
def test_a_scan_killed_after_its_commit_is_finished_by_the_next_command(point, new_store_url, reference, tmp_path):
    state, out = new_store_url(), tmp_path / "out"
    scan(out, NIGHTS[0], "--state", state)
    stored, published = snapshot(state), tree(out)
    killed_scan(out, state, NIGHTS[1], point)
    after = snapshot(state)
    assert len(after["runs"]) == len(stored["runs"]) + 1             # the store holds the night
    if point == "committed":
        assert tree(out) == published                                # not yet swapped in
    else:
        assert not out.exists()                                      # killed between the two renames

    # The day's report (or the next scan) with the store swaps the night's outputs in.
    report = subprocess.run([sys.executable, "-m", "compliance", "report", str(out), "--out",
                             str(tmp_path / "reports"), "--state", state], capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr
    assert "avbröts efter att tillståndet sparats" in report.stderr
    assert outputs(out) == reference[1]
    assert snapshot(state) == after
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    scan(out, NIGHTS[2], "--state", state)
    assert outputs(out) == reference[2]


def test_every_kill_point_is_tested():
    assert set(KILL_POINTS) == set(BEFORE_COMMIT) | {"committed", "swapping"}


def test_the_next_scan_also_finishes_a_killed_swap(new_store_url, reference, tmp_path):
    state, out = new_store_url(), tmp_path / "out"
    scan(out, NIGHTS[0], "--state", state)
    killed_scan(out, state, NIGHTS[1], "committed")
    result = scan(out, NIGHTS[2], "--state", state)
    assert "avbröts efter att tillståndet sparats" in result.stderr
    assert outputs(out) == reference[2]
    assert {c["change"] for c in jsonl(out / "changes.jsonl")} <= {"new", "changed", "resolved", "reopened"}
