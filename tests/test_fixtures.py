"""The shipped synthetic fixtures scan to exactly what fixtures/README.md says.

- fixtures/log/cases.jsonl as of 2025-12-31 gives exactly the violations in
  tests/fixtures_expected.jsonl (derived by hand from spec/obligations.md, like
  tests/spec_examples/core.expected.jsonl).
- fixtures/log/bad-lines.jsonl gives one reject per bad line, at the right line, and
  accepts every good line.

The scan API is imported inside the tests so that collection works on its own.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "fixtures" / "log" / "cases.jsonl"
BAD_LINES = ROOT / "fixtures" / "log" / "bad-lines.jsonl"
UNITS = ROOT / "fixtures" / "units.toml"
EXPECTED = Path(__file__).resolve().parent / "fixtures_expected.jsonl"
AS_OF = dt.date(2025, 12, 31)

KEYS = ("rule", "case", "status", "event", "meeting", "unit",
        "due", "actual", "days_late", "business_days_late")

# bad-lines.jsonl: line number -> what is wrong with it (one reject each).
BAD = {
    3: "not JSON (unterminated object)",
    5: "JSON, but an array",
    7: "missing `case`",
    9: "unknown `type` (meeting.moved)",
    10: "`at` = 2025-02-30",
    12: "`at` with offset +25:00",
    13: "`attendees` is a string",
    15: "duplicate event id B01-2 (the later line is rejected)",
}
BLANK = {6}
# accepted, including an emoji in a field (11) and a date-time without offset (14)
GOOD = {1, 2, 4, 8, 11, 14, 16, 17, 18}


def _expected() -> list[dict]:
    with EXPECTED.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _violations(findings) -> list[dict]:
    return [{k: f.get(k) for k in KEYS} for f in findings if f.get("status") == "violation"]


def _diff_message(got: list[dict], want: list[dict]) -> str:
    dump = lambda d: json.dumps(d, ensure_ascii=False, sort_keys=True)  # noqa: E731
    g, w = {dump(x) for x in got}, {dump(x) for x in want}
    lines = [f"missing: {x}" for x in sorted(w - g)] + [f"unexpected: {x}" for x in sorted(g - w)]
    return "\n".join(lines) or "same findings, different order"


def test_expected_file_is_well_formed():
    want = _expected()
    assert want, "tests/fixtures_expected.jsonl is empty"
    for row in want:
        assert tuple(row) == KEYS
        assert row["status"] == "violation"
    order = lambda d: (d["case"], d["rule"], d["due"], d["event"] or "",  # noqa: E731
                       d["meeting"] or "", d["unit"] or "")
    assert want == sorted(want, key=order), "expected file must be in findings.jsonl order"


def test_cases_fixture_run_scan():
    from compliance.scan import run_scan

    result = run_scan([CASES], as_of=AS_OF, out_dir=None)
    assert result.rejects == [], result.rejects
    got, want = _violations(result.findings), _expected()
    assert got == want, _diff_message(got, want)


def test_cases_fixture_run_scan_with_units():
    """The unit register changes labels only, never the findings (one unit is unknown)."""
    from compliance.scan import run_scan

    result = run_scan([CASES], as_of=AS_OF, units_path=UNITS, out_dir=None)
    got, want = _violations(result.findings), _expected()
    assert got == want, _diff_message(got, want)


def test_cases_fixture_scan_lines():
    from compliance.scan import scan_lines

    lines = CASES.read_text(encoding="utf-8").splitlines()
    result = scan_lines(lines, AS_OF)
    got, want = _violations(result.findings), _expected()
    assert got == want, _diff_message(got, want)


def test_cases_fixture_all_lines_accepted():
    from compliance.scan import run_scan

    n_lines = len(CASES.read_text(encoding="utf-8").splitlines())
    result = run_scan([CASES], as_of=AS_OF, out_dir=None)
    assert result.counts["lines"] == n_lines
    assert result.counts["events"] == n_lines
    assert result.counts["rejects"] == 0
    assert result.counts["blank"] == 0


def test_bad_lines_fixture_matches_its_description():
    lines = BAD_LINES.read_text(encoding="utf-8").splitlines()
    assert set(BAD) | BLANK | GOOD == set(range(1, len(lines) + 1))
    assert not (set(BAD) & GOOD) and not (BLANK & (set(BAD) | GOOD))
    for n in BLANK:
        assert lines[n - 1].strip() == ""


def test_bad_lines_rejects():
    from compliance.scan import run_scan

    n_lines = len(BAD_LINES.read_text(encoding="utf-8").splitlines())
    result = run_scan([BAD_LINES], as_of=AS_OF, out_dir=None)

    by_line: dict[int, list[dict]] = {}
    for r in result.rejects:
        by_line.setdefault(r["line"], []).append(r)
    assert sorted(by_line) == sorted(BAD), (
        f"rejected lines {sorted(by_line)}, expected {sorted(BAD)} ({BAD})")
    raw_lines = BAD_LINES.read_text(encoding="utf-8").splitlines()
    for n, rs in by_line.items():
        assert len(rs) == 1, f"line {n} ({BAD[n]}) rejected {len(rs)} times"
        r = rs[0]
        assert Path(r["file"]).name == BAD_LINES.name
        assert isinstance(r["reason"], str) and r["reason"].strip(), f"line {n}: empty reason"
        assert r["raw"].rstrip("\r\n") == raw_lines[n - 1], f"line {n}: raw line not kept"

    counts = result.counts
    assert counts["lines"] == n_lines
    assert counts["rejects"] == len(BAD)
    assert counts["blank"] == len(BLANK)
    assert counts["events"] == len(GOOD)
    assert counts["events"] + counts["rejects"] + counts["blank"] == counts["lines"]


@pytest.mark.parametrize("as_of", [AS_OF])
def test_bad_lines_good_cases_have_no_violations(as_of):
    """B01 and B02 (the accepted lines) meet every core obligation."""
    from compliance.scan import run_scan

    result = run_scan([BAD_LINES], as_of=as_of, out_dir=None)
    assert _violations(result.findings) == []
