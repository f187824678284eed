"""`--out` as a symbolic link: the scan writes through to the folder it points to.

Operators point a stable name at a dated folder (`senaste -> 2026-06-30`), often on another
file system. The link stays a link; the folder it points to is the one replaced whole, by a
temporary folder made beside it (a rename cannot cross file systems).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import SPEC_EXAMPLES

LOG = SPEC_EXAMPLES / "core.jsonl"


def scan(out: Path, as_of: str = "2025-12-31") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance", "scan", str(LOG), "--as-of", as_of,
                           "--out", str(out)], capture_output=True, text=True, timeout=300)


def check_written_through(link: Path, target: Path) -> None:
    first = scan(link)
    assert first.returncode == 0, first.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert (target / "findings.jsonl").read_bytes() and (target / "manifest.json").exists()
    # A second scan replaces the target's contents whole, through the link again.
    second = scan(link, "2026-01-31")
    assert second.returncode == 0, second.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert '"as_of": "2026-01-31"' in (target / "manifest.json").read_text(encoding="utf-8")
    for folder in {link.parent, target.parent}:
        assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_a_link_on_the_same_file_system_is_written_through(tmp_path):
    target = tmp_path / "2025-12-31"
    target.mkdir()
    link = tmp_path / "senaste"
    link.symlink_to(target.name)          # relative, as `ln -s` usually makes it
    check_written_through(link, target)


def test_a_link_to_a_folder_not_made_yet_is_written_through(tmp_path):
    link = tmp_path / "senaste"
    link.symlink_to(tmp_path / "ny")
    check_written_through(link, tmp_path / "ny")


def test_a_link_to_another_file_system_is_written_through(tmp_path):
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) here")
    with tempfile.TemporaryDirectory(dir=other) as far:
        target = Path(far) / "ut"
        link = tmp_path / "senaste"
        link.symlink_to(target)
        check_written_through(link, target)


def test_a_loop_of_links_is_one_line(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    proc = scan(tmp_path / "a")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"compliance: {tmp_path / 'a'}: länken leder ingenstans (en slinga av länkar)"]
