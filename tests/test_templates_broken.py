"""A missing or broken report template is one Swedish line, never a traceback.

The templates ship inside the package (compliance/data/templates). An installation that
lost one, or a template someone edited into bad Jinja, must stop `compliance scan
--report` and `compliance report` with exit 1 and one line naming the template file,
and leave no output folder behind. Tried on a copy of the package, run as an installed
one would be (`python -m compliance` with the copy first on the path).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, ev

TEMPLATES = Path("compliance") / "data" / "templates"
SCAN_FOLDER = ROOT / "tests" / "data" / "scan_small"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A copy of the package, whose templates each test breaks and mends."""
    home = tmp_path_factory.mktemp("installed")
    shutil.copytree(ROOT / "compliance", home / "compliance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(home / TEMPLATES, home / "templates.orig")
    return home


@pytest.fixture
def broken(package: Path, request):
    """Apply one fault to the copy's templates; put them back afterwards."""
    name, fault = request.param
    path = package / TEMPLATES / name
    if fault == "missing":
        path.unlink()
    else:
        path.write_text(fault, encoding="utf-8")
    yield package, path
    shutil.rmtree(package / TEMPLATES)
    shutil.copytree(package / "templates.orig", package / TEMPLATES)


def run(home: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(home), **extra_env}
    return subprocess.run([sys.executable, "-m", "compliance", *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)


def one_line_naming(proc: subprocess.CompletedProcess, path: Path, words: str) -> None:
    lines = [x for x in proc.stderr.splitlines() if x.startswith("compliance: ") or "Traceback" in x
             or x.startswith(" ")]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines == [lines[0]] and lines[0].startswith(f"compliance: {path}") and words in lines[0], lines


FAULTS = [
    pytest.param(("avvikelse.md.j2", "missing"), "mallen finns inte", id="markdown-missing"),
    pytest.param(("avvikelse.md.j2", "{% if %}\n"), "rad 1: mallen är felaktig", id="markdown-syntax"),
    pytest.param(("avvikelse.docx", "inte en zip-fil"), "mallen är ingen Word-fil", id="word-not-docx"),
    pytest.param(("avvikelse.docx", "missing"), "mallen finns inte", id="word-missing"),
    pytest.param(("overview.html.j2", "{{ no_such_field }}"), "mallen kan inte fyllas i", id="overview-undefined"),
]


@pytest.mark.parametrize("broken, words", FAULTS, indirect=["broken"])
def test_scan_report_with_a_broken_template(tmp_path, broken, words):
    home, path = broken
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([ev("e1", "sip.initiated", "2025-01-02"),
                              ev("e2", "consent.given", "2025-01-02")]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run(home, "scan", str(log), "--as-of", "2025-06-02", "--out", str(out), "--report",
               COMPLIANCE_TIMING="1")
    one_line_naming(proc, path, words)
    assert not out.exists()
    # A template that cannot be loaded stops the scan before it reads the log (a night's
    # reading and deciding is not spent first); a field no draft has is found when filled.
    read_first = "tid: reading" in proc.stderr
    assert read_first == (words == "mallen kan inte fyllas i"), proc.stderr


@pytest.mark.parametrize("broken, words", FAULTS, indirect=["broken"])
def test_report_with_a_broken_template(tmp_path, broken, words):
    home, path = broken
    out = tmp_path / "reports"
    proc = run(home, "report", str(SCAN_FOLDER), "--out", str(out))
    one_line_naming(proc, path, words)
    assert not out.exists()


@pytest.mark.parametrize("broken, words", [FAULTS[1], FAULTS[3]], indirect=["broken"])
def test_serve_with_a_broken_draft_template_does_not_start(tmp_path, broken, words):
    """The review app shows drafts in Markdown and gives them in Word: a template it
    cannot load stops `compliance serve` at once with its one line, not a 500 page later."""
    from compliance.state import open_store
    home, path = broken
    db = tmp_path / "state.db"
    open_store(str(db), create=True).close()
    proc = run(home, "serve", "--state", str(db), "--port", "1")
    one_line_naming(proc, path, words)
