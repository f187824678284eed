"""Reading large logs in pieces, in parallel, gives exactly what reading them in one go gives."""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import pytest
from hypothesis import given, settings, strategies as st

import compliance.reading as reading
import compliance.scan as scan
from compliance.events import Reject, parse_at, parse_event_json, parse_record
from compliance.records import Record
from helpers import ROOT, ev


def _read(path, workers, monkeypatch, threshold):
    monkeypatch.setattr(reading, "PARALLEL_READ_BYTES", threshold)
    got = reading.read_events([path], workers=workers)
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
    # equal content with other ids (the same consent twice a day) is a duplicate, counted once
    assert counts["duplicates"] > 0
    assert counts["lines"] == counts["events"] + counts["rejects"] + counts["blank"] + counts["duplicates"]
    assert any("UTF-8" in r["reason"] for r in rejects)
    assert any("finns redan med annat innehåll" in r["reason"] for r in rejects)


def test_pieces_cover_the_file_exactly(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nbb\n\nccc\nd")
    for n in (1, 2, 3, 10):
        pieces = reading._pieces(path, n)
        assert pieces[0][0] == 0 and pieces[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
        data = path.read_bytes()
        for start, end, first_line in pieces:
            assert start == 0 or data[start - 1:start] == b"\n"
            assert first_line == data[:start].count(b"\n") + 1


def test_a_scan_read_in_pieces_gives_the_same_findings(tmp_path, monkeypatch):
    logs = [ROOT / "fixtures" / "log" / "cases.jsonl", ROOT / "fixtures" / "log" / "bad-lines.jsonl"]
    monkeypatch.setattr(reading, "PARALLEL_READ_BYTES", 1 << 40)
    serial = scan.run_scan(logs, dt.date(2025, 12, 31), workers=2)
    monkeypatch.setattr(reading, "PARALLEL_READ_BYTES", 1)
    parallel = scan.run_scan(logs, dt.date(2025, 12, 31), workers=2)
    assert parallel.findings == serial.findings and parallel.findings
    assert parallel.rejects == serial.rejects and parallel.counts == serial.counts


# --- the fast road for .jsonl lines is the same judge -------------------------------------

def _generic(path, file_no=0):
    """A .jsonl file judged line by line as Records, the way every other format is."""
    lines = path.read_bytes().split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    parts = list(reading.judge((reading._jsonl_record(str(path), n, raw) for n, raw in enumerate(lines, 1)),
                            file_no, part_lines=10 ** 9))
    return parts[0] if parts else reading.Judged(raws=[])


def _columns(part):
    return (part.n_lines, part.blank, part.lines, part.ids, part.cases, part.packed, part.rejects)


TRICKY = [
    "\ufeff" + ev("b1", "case.opened", "2025-01-01"),          # BOM, first line only
    ev("r1", "consent.given", "2025-03-30T01:30:00Z") + "\r",   # CRLF line end; DST day
    ev("r2", "consent.given", "2025-03-30T23:30:00Z") + "\r\r",
    "\u00a0 \t",                                               # only white space (no-break space)
    "\ufeff",
    ev("t1", "case.opened", "2025-02-29"),
    ev("t2", "case.opened", "2025-01-01T10:00:00+18:00"),
    ev("t3", "case.opened", "2025-01-01t10:00:00+01:00"),
    ev("t4", "case.opened", "2025-01-01 10:00"),
    ev("t5", "case.opened", "2025-01-01T10"),
    '{"id": "t6", "case": "K1", "type": "case.opened", "at": [2025]}',
    '{"id": "t7", "case": "K1", "type": "case.opened", "at": null}',
    '{"id": "t8", "case": "K1", "type": "case.opened", "at": "2025-01-01", "at": "2025-13-01"}',
    '{"id": "t9", "case": "K1", "type": "meeting.held", "at": "2025-02-30", "meeting": 5}',
    ev("t10", "meeting.scheduled", "2025-01-01", meeting="M", kind="sip", date="2025-01-01T00:00"),
    ev("t11", "case.opened", "2025-01-01", child={"gender": "female", "extra": [1, {"x": "åäö"}]}),
    ev("t12", "case.opened", "2025-01-01", unit=None, note="\u2028 \ud7ff"),
    ev("b1", "case.closed", "2025-06-01"),                     # duplicate of line 1
    "null", "[]", "1e400", '"\\ud800"',
]


def test_the_fast_road_judges_every_line_as_the_record_road_does(tmp_path):
    path = _awkward_log(tmp_path, final_newline=False)
    tricky = tmp_path / "tricky.jsonl"
    tricky.write_bytes("\n".join(TRICKY).encode("utf-8", "surrogatepass") + b"\n\xc3\n")
    for log in (path, tricky, ROOT / "fixtures" / "log" / "bad-lines.jsonl",
                ROOT / "fixtures" / "log" / "cases.jsonl"):
        assert _columns(reading._judge_jsonl(str(log), 3)) == _columns(_generic(log, 3)), log
    part = reading._judge_jsonl(str(tricky), 0)
    assert part.ids[:3] == ["b1", "r1", "r2"] and part.blank == 1     # "\ufeff" alone is not blank
    assert part.n_lines == len(TRICKY) + 1


event_fields = st.fixed_dictionaries({
    "id": st.sampled_from(["e1", "", 7]),
    "case": st.sampled_from(["K1", None]),
    "type": st.sampled_from(["case.opened", "meeting.held", "meeting.scheduled", "consent.given", "x"]),
    "at": st.one_of(st.sampled_from(["2025-01-01", "2024-02-29", "2025-02-29", "2025-03-30T02:30:00",
                                     "2025-10-26T00:30:00Z", "2025-06-19T23:59:59+02:00", "2025-1-1",
                                     "2025-01-01T10:00:00+24:00", "", "2025-01-01Z"]),
                    st.integers(), st.lists(st.integers(), max_size=1), st.none()),
}, optional={
    "unit": st.sampled_from(["soc", None, 3]),
    "meeting": st.sampled_from(["M1", "", 1]),
    "kind": st.sampled_from(["sip", "bus_individ", "other", None]),
    "date": st.sampled_from(["2025-01-02", "2025-02-30", "2025-01-02T10:00", 20250102]),
    "attendees": st.sampled_from([["soc", "bup"], [], "soc", [1], None]),
    "child": st.sampled_from([{"gender": "male"}, {"gender": "boy"}, "x", None]),
    "extra": st.sampled_from([1, "x", [None], {"a": 1}]),
})


@settings(max_examples=400, deadline=None)
@given(event_fields)
def test_fast_and_record_roads_accept_the_same_lines_with_equal_events(data):
    text = json.dumps(data)
    fast = parse_event_json(text)
    full = parse_record(Record("f", 1, text))
    if fast is None:
        assert isinstance(full, Reject)
    else:
        assert not isinstance(full, Reject)
        assert fast[0].model_dump() == full.model_dump() and type(fast[0]).__name__ == type(full).__name__
        assert fast[1] == parse_at(full.at)


def _failing_piece(piece):
    if piece[0].endswith("bad.jsonl"):
        if piece[2] > 0:                  # a later piece of bad.jsonl fails at once,
            raise OSError(5, "Input/output error")
        time.sleep(0.5)                   # while its first piece is still being read
    return _JUDGE_PIECE(piece)


_JUDGE_PIECE = reading._judge_piece


def test_a_file_that_fails_part_way_in_the_readers_counts_not_at_all(tmp_path, monkeypatch):
    """A .jsonl file whose later piece cannot be read (in a reader process) is one line;
    what was read of it is taken back, and the next file, read by new readers, is whole."""
    bad, good = tmp_path / "bad.jsonl", tmp_path / "good.jsonl"
    bad.write_text("".join(ev(f"b{n}", "consent.given", "2025-03-03", case=f"B{n}") + "\n" for n in range(300)),
                   encoding="utf-8")
    good.write_text("".join(ev(f"g{n}", "consent.given", "2025-03-03", case=f"G{n}") + "\n" for n in range(300)),
                    encoding="utf-8")
    monkeypatch.setattr(reading, "PARALLEL_READ_BYTES", 1)
    monkeypatch.setattr(reading, "PIECE_BYTES", 4096)
    monkeypatch.setattr(reading, "_judge_piece", _failing_piece)
    got = reading.read_events([bad, good], workers=2)
    [failed] = got.report.failed
    assert failed.startswith(f"{bad}: kan inte läsas: Input/output error (de ") and "räknas inte" in failed
    assert sorted(got.cases) == sorted(f"G{n}" for n in range(300))
    assert got.counts["lines"] == got.counts["events"] == 300 and not got.rejects
    assert [i["path"] for i in got.inputs] == [str(good)]
