"""Event identity by content (event-log.md): the same event read twice counts once.

content_key says what an event is; Merger keeps each event once across the files of an
import (and, wired by the scan, of a scan), with an id that does not depend on the order
of the input; `compliance import` of the four fixture exports gives each event once.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.duplicates import CONFLICT, DUPLICATE, KEEP, Merger
from compliance.events import Reject, content_id, content_key, parse_record
from compliance.importers import iter_source_records
from compliance.importers.cli import import_cmd
from compliance.records import Record

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ROOT / "fixtures" / "exports"
LOG = ROOT / "fixtures" / "log" / "cases.jsonl"
sys.path.insert(0, str(ROOT / "tools"))
import make_exports  # noqa: E402


def model(data: dict):
    got = parse_record(Record("t", 1, json.dumps(data)))
    assert not isinstance(got, Reject), got
    return got


HELD = {"id": "e1", "case": "K1", "type": "meeting.held", "at": "2025-03-03T09:30:00", "unit": "soc",
        "meeting": "M1", "kind": "sip", "attendees": ["soc", "bup", "skola"]}


# ------------------------------------------------------------------- content_key

def test_the_same_event_in_other_words_has_the_same_key():
    key = content_key(HELD)
    same = [
        {**HELD, "id": "other-id"},                                    # another id
        {**HELD, "attendees": ["skola", "soc", "bup", "soc"]},         # attendees as a set
        {**HELD, "at": "2025-03-03T08:30:00Z"},                        # the same instant in UTC
        {**HELD, "at": "2025-03-03T09:30:00+01:00"},
        {**HELD, "comment": "ringde", "lifecycle:transition": "complete"},   # extra fields
        {**HELD, "child": {"initials": "A.B."}},                       # what is known of the child
    ]
    for other in same:
        assert content_key(other) == key, other
        assert content_key(model(other)) == key, other
    different = [
        {**HELD, "case": "K2"}, {**HELD, "type": "meeting.scheduled", "date": "2025-03-03"},
        {**HELD, "at": "2025-03-03T09:31:00"}, {**HELD, "at": "2025-03-03"}, {**HELD, "unit": "bup"},
        {**HELD, "meeting": "M2"}, {**HELD, "kind": "sip_followup"}, {**HELD, "attendees": ["soc"]},
        {**HELD, "unit": None},
    ]
    keys = {content_key(other) for other in different}
    assert len(keys) == len(different) and key not in keys


events = st.fixed_dictionaries({
    "id": st.sampled_from(["e1", "e2", "K1-x"]),
    "case": st.sampled_from(["K1", "K2"]),
    "type": st.sampled_from(["invitation.sent", "meeting.held", "consent.given", "meeting.scheduled"]),
    "at": st.sampled_from(["2025-03-03", "2025-03-03T09:00:00", "2025-03-03T08:00:00Z",
                           "2025-10-26T02:30:00+01:00", "2025-10-26T02:30:00+02:00"]),
}, optional={
    "unit": st.sampled_from(["soc", "bup", ""]),
    "meeting": st.sampled_from(["M1", "M2"]),
    "to": st.sampled_from(["bup", "guardian"]),
    "channel": st.sampled_from(["email", "letter"]),
    "kind": st.sampled_from(["sip", "bus_individ"]),
    "date": st.sampled_from(["2025-04-01", "2025-04-02"]),
    "attendees": st.lists(st.sampled_from(["soc", "bup", "skola"]), max_size=3),
    "scope": st.lists(st.sampled_from(["soc", "bup"]), max_size=2),
    "by": st.sampled_from(["guardian", "child"]),
    "text": st.sampled_from(["hej", "kallelse"]),
    "comment": st.text(max_size=5),
})


@settings(max_examples=300, deadline=None)
@given(events)
def test_a_dict_and_its_model_have_the_same_key(data):
    """Importers key their rows before validation, the scan its validated events: the
    same event must give the same key either way."""
    got = parse_record(Record("t", 1, json.dumps(data)))
    if isinstance(got, Reject):
        return
    assert content_key(got) == content_key(data)


def test_content_ids_hold_no_digits_of_their_own():
    for key in (0, 2**64 - 1, 0x0123456789ABCDEF, 0x1912121212120000):
        cid = content_id("K-7", key)
        assert cid.startswith("K-7-") and len(cid) == 20 and not any(c.isdigit() for c in cid[4:])
    assert content_id("K1", 1) != content_id("K1", 2)


# ------------------------------------------------------------------- Merger

def test_merger_keeps_one_and_counts_the_rest():
    m = Merger()
    a = m.file("a.csv")
    k1, k2 = content_key(HELD), content_key({**HELD, "meeting": "M2"})
    d1 = content_id("K1", k1)
    assert m.add(k1, d1, "K1", a, 2) == (KEEP, None)
    assert m.add(k1, d1, "K1", a, 3) == (DUPLICATE, None)          # an identical row
    b = m.file("b.xes")
    assert m.add(k1, "E9", "K1", b, 10) == (DUPLICATE, None)       # the same event with an id of its own
    assert m.add(k2, "E9", "K1", b, 11)[0] == CONFLICT             # e9 again, other content
    verdict, reason = m.add(k2, "E9", "K1", b, 11)
    assert reason == "fält 'id': händelse-id 'E9' finns redan med annat innehåll (b.xes, rad 10)"
    assert m.add(k2, "E10", "K1", b, 12) == (KEEP, None)
    assert m.summary_lines() == ["a.csv: dubbletter: 1 (samma händelse på flera rader i filen)",
                                 "b.xes: dubbletter: 1 (samma händelse i flera filer)"]
    assert m.renames() == {d1: "E9"}                # the kept row takes the smaller id
    assert m.manifest_counts(b) == {"duplicates": 1, "duplicates_other_files": 1, "duplicates_same_file": 0}


def test_a_digest_id_told_by_its_key_alone():
    """The parallel import sends only the key of a row whose id is its digest: the digest
    id is made only when it must be compared with an id of the event's own."""
    m = Merger()
    f = m.file("a.xes")
    asked = []

    def digest():
        asked.append(1)
        return content_id("K1", 7)
    assert m.add(7, "ZZ-1", "K1", f, 1) == (KEEP, None)
    g = m.file("b.csv")
    assert m.add_digest(8, g, digest) == (KEEP, None) and m.add_digest(8, g, digest) == (DUPLICATE, None)
    assert asked == []
    assert m.add_digest(7, g, digest) == (DUPLICATE, None) and asked == [1]
    assert m.renames() == {"ZZ-1": content_id("K1", 7)}          # "K1-…" sorts before "ZZ-1"


def test_a_file_that_failed_is_forgotten():
    m = Merger()
    m.add(1, "x", "K", m.file("a"), 1)
    f = m.file("b")
    m.add(2, "y", "K", f, 1)
    m.add(1, "a", "K", f, 2)                        # would rename x -> a
    m.forget_file()
    assert m.renames() == {} and m.files == ["a"]
    g = m.file("c")
    assert m.add(2, "y", "K", g, 1) == (KEEP, None)  # as if b had never been read
    assert m.add(1, "x", "K", g, 2) == (DUPLICATE, None)


@st.composite
def inputs(draw):
    """Events with duplicates: each content read one to three times, each time with its
    digest id or one of a few ids of its own (distinct contents never share an id)."""
    n = draw(st.integers(1, 12))
    lines = []
    for key in range(1, n + 1):
        for copy in range(draw(st.integers(1, 3))):
            own = draw(st.booleans())
            eid = f"e{key}-{draw(st.integers(0, 2))}" if own else content_id("K", key)
            lines.append((key, eid))
    return lines


@settings(max_examples=200, deadline=None)
@given(inputs(), st.randoms(use_true_random=False), st.integers(1, 4))
def test_what_is_kept_does_not_depend_on_the_order_of_the_input(lines, rnd, n_files):
    def run(order):
        m = Merger()
        files = [m.file(f"f{i}") for i in range(n_files)]
        kept = {}
        for pos, (key, eid) in enumerate(order):
            verdict, _ = m.add(key, eid, "K", files[pos * n_files // len(order)], pos + 1)
            assert verdict != CONFLICT
            if verdict == KEEP:
                kept[key] = eid
        renames = m.renames()
        return {key: renames.get(eid, eid) for key, eid in kept.items()}, m.duplicates

    shuffled = list(lines)
    rnd.shuffle(shuffled)
    first, dups = run(lines)
    assert run(shuffled) == (first, dups)
    assert len(first) == len({k for k, _ in lines}) and dups == len(lines) - len(first)
    for key, eid in first.items():                  # the smallest of the ids it was read with
        assert eid == min(e for k, e in lines if k == key)


# ------------------------------------------------------------------- imports


def events_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def test_the_four_fixture_exports_together_give_each_event_once(tmp_path):
    out = tmp_path / "all.jsonl"
    res = CliRunner().invoke(import_cmd, [str(EXPORTS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = events_of(out)
    source = make_exports.load_events(LOG)
    assert len(got) == len(source) == len({content_key(e) for e in source})
    assert {content_key(e) for e in got} == {content_key(e) for e in source}
    assert "totalt: 1217 rader, 302 händelser, 9 avvisade, 906 dubbletter" in res.output
    assert res.output.count("dubbletter: 302 (samma händelse i flera filer)") == 3


def test_two_copies_of_an_export_give_the_events_of_one(tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    copy = tmp_path / "kopia.csv"
    copy.write_bytes((EXPORTS / "standard-sv.cp1252.csv").read_bytes())
    r1 = CliRunner().invoke(import_cmd, [str(EXPORTS / "standard-sv.cp1252.csv"), "--out", str(one)])
    r2 = CliRunner().invoke(import_cmd, [str(EXPORTS / "standard-sv.cp1252.csv"), str(copy), "--out", str(two)])
    assert r1.exit_code == r2.exit_code == 0
    assert one.read_bytes() == two.read_bytes()
    assert f"{copy}: 305 rader, 0 händelser, 3 avvisade; dubbletter: 302 (samma händelse i flera filer)" in r2.output
    # the rejects of both copies are listed: each file's rows are accounted for
    assert len((tmp_path / "two.rejects.jsonl").read_text().splitlines()) == 6


def test_csv_and_a_foreign_xes_give_the_same_ids(tmp_path):
    """A XES without event ids (ProM, PM4Py, Celonis) and the standard CSV of the same
    events give the same ids, so nightly state keyed on ids does not care which came."""
    csv_recs = [r for r in iter_source_records(EXPORTS / "standard-sv.utf8-bom.csv", None) if r.error is None]
    xes = tmp_path / "foreign.xes"
    text = (EXPORTS / "cases.xes").read_text("utf-8")
    import re
    xes.write_text(re.sub(r'<string key="id" value="[^"]*"/>', "", text), "utf-8")
    xes_recs = list(iter_source_records(xes, None))
    by_key = {r.key: r.data["id"] for r in xes_recs}
    same = [r for r in csv_recs if r.key in by_key]
    # plans lose their actions in CSV; everything else is the same event with the same id
    assert len(same) == len(csv_recs)
    assert all(by_key[r.key] == r.data["id"] for r in same)


def test_the_kept_id_does_not_depend_on_the_order_of_the_files(tmp_path):
    """Events with ids of their own (XES) and the same events as CSV rows (content ids):
    whichever file comes first, the kept event has the smaller id."""
    outs = []
    files = [EXPORTS / "cases.xes", EXPORTS / "standard-sv.xlsx"]
    for order in (files, files[::-1]):
        out = tmp_path / f"o{len(outs)}.jsonl"
        res = CliRunner().invoke(import_cmd, [*map(str, order), "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs.append(sorted(events_of(out), key=lambda e: e["id"]))
    assert [e["id"] for e in outs[0]] == [e["id"] for e in outs[1]]
    # "F01-6" sorts before "F01-<letters>": the events keep the ids of the log they came
    # from, also when the workbook came first and its rows were written first (renamed)
    assert {e["id"] for e in outs[0]} == {e["id"] for e in make_exports.load_events(LOG)}


def test_the_same_id_with_other_content_is_a_reject_naming_both_lines(tmp_path):
    p = tmp_path / "ids.csv"
    p.write_text("Ärende;Händelse;Datum;Enhet;Id\r\nK1;sip.initiated;2025-03-03;soc;h1\r\n"
                 "K1;sip.initiated;2025-03-04;soc;h1\r\nK1;sip.initiated;2025-03-03;soc;h1\r\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\ncase = "Ärende"\ntype = "Händelse"\nat = "Datum"\nunit = "Enhet"\nid = "Id"\n',
                       encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(p), "--mapping", str(mapping), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [e["at"] for e in events_of(out)] == ["2025-03-03"]
    [reject] = events_of(tmp_path / "o.rejects.jsonl")
    assert (reject["line"], reject["reason"]) == (3, f"fält 'id': händelse-id 'h1' finns redan med annat innehåll ({p}, rad 2)")
    assert "3 rader, 1 händelser, 1 avvisade; dubbletter: 1 (samma händelse på flera rader)" in res.output


@pytest.mark.parametrize("seed", [1, 2])
def test_identical_rows_in_any_order_give_the_same_log(tmp_path, seed):
    lines = (EXPORTS / "standard-sv.utf8-bom.csv").read_text("utf-8-sig").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    # rows of the fixture may span lines (quoted line breaks): shuffle whole records
    import csv
    import io
    records = list(csv.reader(io.StringIO("".join(rows)), delimiter=";"))
    doubled = records + records[:50]
    random.Random(seed).shuffle(doubled)
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(doubled)
    p = tmp_path / "shuffled.csv"
    p.write_text(header + buf.getvalue(), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert CliRunner().invoke(import_cmd, [str(p), "--out", str(out)]).exit_code == 0
    ref = tmp_path / "ref.jsonl"
    assert CliRunner().invoke(import_cmd, [str(EXPORTS / "standard-sv.utf8-bom.csv"), "--out", str(ref)]).exit_code == 0
    assert sorted(out.read_text().splitlines()) == sorted(ref.read_text().splitlines())


def test_the_four_export_formats_read_together_give_the_findings_of_the_log():
    """What the scan's reading does with Merger (compliance.reading; test_scan_inputs.py
    scans the exports themselves): every export format of the fixture log read together,
    each event kept once with its smallest id, gives exactly the findings of fixtures/log,
    event ids included."""
    import datetime as dt

    from compliance.scan import run_scan, scan_lines
    merger = Merger()
    kept = []
    for path in sorted(EXPORTS.iterdir()):
        file_no = merger.file(str(path))
        for rec in iter_source_records(path, None):
            event = parse_record(rec)
            if isinstance(event, Reject):
                continue
            verdict, _ = merger.add(content_key(event), event.id, event.case, file_no, rec.line)
            if verdict == KEEP:
                kept.append(event)
    assert merger.duplicates == 3 * 302
    renames = merger.renames()
    lines = [json.dumps({**e.model_dump(mode="json", by_alias=True, exclude_none=True),
                         "id": renames.get(e.id, e.id)}, ensure_ascii=False) for e in kept]
    as_of = dt.date(2025, 12, 31)
    merged = scan_lines(lines, as_of)
    base = run_scan([LOG], as_of, workers=1)
    assert merged.findings == base.findings and len(base.findings) == 26   # the log's findings as of 2025-12-31
