"""Reading large logs in pieces, in parallel, gives exactly what reading them in one go gives."""

from __future__ import annotations

import datetime as dt
import random

import pytest

import compliance.scan as scan
from helpers import ROOT, ev


def _read(path, workers, monkeypatch, threshold):
    monkeypatch.setattr(scan, "PARALLEL_READ_BYTES", threshold)
    got = scan.read_events([path], workers=workers)
    return got.cases, got.rejects, got.counts


def _awkward_log(tmp_path, final_newline: bool):
    rng = random.Random(3)
    lines = []
    for n in range(400):
        case = f"C{rng.randrange(40)}"
        lines.append(ev(f"e{n}", "consent.given", f"2025-0{1 + n % 9}-1{n % 10}", case=case))
        if n % 37 == 0:
            lines.append("")                                   # blank
        if n % 53 == 0:
            lines.append("{not json")                          # reject
        if n % 61 == 0:
            lines.append(ev(f"e{n // 2}", "case.opened", "2025-01-01", case=case))   # duplicate id
    path = tmp_path / "log.jsonl"
    data = ("\ufeff" + "\n".join(lines)).encode("utf-8")
    data = data.replace(b"{not json", b"\xff\xfe not utf-8", 1)
    path.write_bytes(data + (b"\n" if final_newline else b""))
    return path


@pytest.mark.parametrize("final_newline", [True, False])
def test_pieces_give_the_same_events_rejects_and_line_numbers(tmp_path, monkeypatch, final_newline):
    path = _awkward_log(tmp_path, final_newline)
    serial = _read(path, 1, monkeypatch, 1 << 40)
    parallel = _read(path, 2, monkeypatch, 1)
    assert parallel == serial
    cases, rejects, counts = serial
    assert counts["lines"] == len(path.read_bytes().splitlines())
    assert counts["lines"] == counts["events"] + counts["rejects"] + counts["blank"]
    assert any("UTF-8" in r["reason"] for r in rejects)
    assert any("finns redan" in r["reason"] for r in rejects)


def test_pieces_cover_the_file_exactly(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nbb\n\nccc\nd")
    for n in (1, 2, 3, 10):
        pieces = scan._pieces(path, n)
        assert pieces[0][0] == 0 and pieces[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
        data = path.read_bytes()
        for start, end, first_line in pieces:
            assert start == 0 or data[start - 1:start] == b"\n"
            assert first_line == data[:start].count(b"\n") + 1


def test_a_scan_read_in_pieces_gives_the_same_findings(tmp_path, monkeypatch):
    logs = [ROOT / "fixtures" / "log" / "cases.jsonl", ROOT / "fixtures" / "log" / "bad-lines.jsonl"]
    monkeypatch.setattr(scan, "PARALLEL_READ_BYTES", 1 << 40)
    serial = scan.run_scan(logs, dt.date(2025, 12, 31), workers=2)
    monkeypatch.setattr(scan, "PARALLEL_READ_BYTES", 1)
    parallel = scan.run_scan(logs, dt.date(2025, 12, 31), workers=2)
    assert parallel.findings == serial.findings and parallel.findings
    assert parallel.rejects == serial.rejects and parallel.counts == serial.counts
