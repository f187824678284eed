"""XES (IEEE 1849): export, import, round trip, and that PM4Py reads what we write."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.importers import SourceError, iter_source_records
from compliance.importers.cli import export_cmd, import_cmd
from compliance.importers.xes import export_xes, xes_timestamp

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "fixtures" / "log" / "cases.jsonl"
CORE = ROOT / "tests" / "spec_examples" / "core.jsonl"
LOGS = [p for p in (CASES, CORE) if p.exists()]


def events_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_round_trip_gives_the_same_events(tmp_path, log):
    xes = tmp_path / "log.xes"
    n, traces = export_xes(log, xes)
    original = events_of(log)
    assert n == len(original) and traces == len({e["case"] for e in original})
    back = [r.data for r in iter_source_records(xes, None)]
    assert all(b is not None for b in back)
    key = lambda e: e["id"]  # noqa: E731
    assert sorted(back, key=key) == sorted(original, key=key)


def test_round_trip_through_the_commands(tmp_path):
    xes, back = tmp_path / "c.xes", tmp_path / "back.jsonl"
    r1 = CliRunner().invoke(export_cmd, [str(LOGS[0]), "--format", "xes", "--out", str(xes)])
    assert r1.exit_code == 0, r1.output
    r2 = CliRunner().invoke(import_cmd, [str(xes), "--out", str(back)])
    assert r2.exit_code == 0, r2.output
    by_id = lambda es: {e["id"]: e for e in es}  # noqa: E731
    assert by_id(events_of(back)) == by_id(events_of(LOGS[0]))
    assert (tmp_path / "back.rejects.jsonl").read_text() == ""


def test_fixture_xes_is_the_export_of_the_jsonl_fixture(tmp_path):
    fresh = tmp_path / "fresh.xes"
    src = CASES if CASES.exists() else CORE
    export_xes(src, fresh)
    assert (ROOT / "fixtures" / "exports" / "cases.xes").read_bytes() == fresh.read_bytes()


def test_timestamps():
    assert xes_timestamp("2025-03-14") == "2025-03-14T00:00:00+01:00"
    assert xes_timestamp("2025-07-01T09:30:00") == "2025-07-01T09:30:00+02:00"
    assert xes_timestamp("2025-02-10T23:30:00Z") == "2025-02-10T23:30:00Z"
    assert xes_timestamp("2025-02-10T23:30:00+01:00") == "2025-02-10T23:30:00+01:00"


def test_pm4py_reads_the_export(tmp_path):
    pm4py = pytest.importorskip("pm4py")
    xes = tmp_path / "c.xes"
    export_xes(LOGS[0], xes)
    original = events_of(LOGS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = pm4py.read_xes(str(xes))
    assert len(df) == len(original)
    assert set(df["case:concept:name"]) == {e["case"] for e in original}
    assert set(df["concept:name"]) == {e["type"] for e in original}
    assert set(df["id"]) == {e["id"] for e in original}
    assert df["time:timestamp"].notna().all()
    # a timestamp PM4Py parsed is the instant of the canonical `at`
    row = df[df["id"] == original[0]["id"]].iloc[0]
    assert row["time:timestamp"].isoformat()[:10] <= original[0]["at"][:10]
    log = pm4py.convert_to_event_log(df)
    assert len(log) == len({e["case"] for e in original})


def test_import_of_a_foreign_xes_written_by_pm4py(tmp_path):
    pm4py = pytest.importorskip("pm4py")
    import datetime as dt

    from pm4py.objects.log.obj import Event, EventLog, Trace
    tz = dt.timezone(dt.timedelta(hours=1))
    log = EventLog()
    t = Trace(attributes={"concept:name": "K-7"})
    t.append(Event({"concept:name": "sip.initiated", "time:timestamp": dt.datetime(2025, 3, 3, 9, 0, tzinfo=tz),
                    "org:resource": "soc", "lifecycle:transition": "complete"}))
    t.append(Event({"concept:name": "consent.given", "time:timestamp": dt.datetime(2025, 3, 4, tzinfo=tz),
                    "org:resource": "soc"}))
    log.append(t)
    path = tmp_path / "foreign.xes"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm4py.write_xes(log, str(path))
    recs = list(iter_source_records(path, None))
    assert [r.error for r in recs] == [None, None]
    a, b = recs[0].data, recs[1].data
    assert a["case"] == "K-7" and a["type"] == "sip.initiated" and a["unit"] == "soc"
    assert a["at"].startswith("2025-03-03T09:00:00") and a["lifecycle:transition"] == "complete"
    assert a["id"].startswith("K-7-") and a["id"] != b["id"]
    again = [r.data["id"] for r in iter_source_records(path, None)]
    assert again == [a["id"], b["id"]]  # stable ids without an id attribute


XES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'


def test_bad_events_are_rejects_with_their_line(tmp_path):
    p = tmp_path / "bad.xes"
    p.write_text(XES_HEAD + """<trace><string key="concept:name" value="K1"/>
<event><string key="concept:name" value="sip.initiated"/><date key="time:timestamp" value="2025-03-03T09:00:00.000+01:00"/>
<string key="comment" value="pnr 19121212-1212"/></event>
<event><string key="concept:name" value="consent.given"/></event>
<event><date key="time:timestamp" value="2025-03-03T09:00:00+01:00"/></event>
</trace>
<trace>
<event><string key="concept:name" value="sip.initiated"/><date key="time:timestamp" value="2025-03-03T09:00:00+01:00"/></event>
</trace>
</log>
""", "utf-8")
    recs = list(iter_source_records(p, None))
    assert recs[0].error is None and recs[0].data["at"] == "2025-03-03T09:00:00+01:00"
    assert recs[0].data["comment"] == "pnr [personnummer borttaget]"
    assert [(r.line, r.error) for r in recs[1:]] == [
        (6, "event: attribut 'time:timestamp' saknas"),
        (7, "event: attribut 'concept:name' (händelse) saknas"),
        (10, "trace: attribut 'concept:name' (ärende) saknas"),
    ]
    assert all("19121212" not in r.raw for r in recs)


def test_broken_xes_is_a_source_error(tmp_path):
    p = tmp_path / "broken.xes"
    p.write_text(XES_HEAD + "<trace><event>", "utf-8")
    with pytest.raises(SourceError, match="ogiltig XML"):
        list(iter_source_records(p, None))
    res = CliRunner().invoke(import_cmd, [str(p), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1


def test_export_leaves_out_invalid_lines_and_says_so(tmp_path):
    log = tmp_path / "log.jsonl"
    good = events_of(CORE)[:3]
    log.write_text("\n".join([json.dumps(good[0]), "{not json", json.dumps({"id": "x", "case": "K", "type": "nope",
                              "at": "2025-01-01"}), json.dumps(good[1]), json.dumps(good[2])]) + "\n", "utf-8")
    out = tmp_path / "log.xes"
    res = CliRunner().invoke(export_cmd, [str(log), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 händelser" in res.output and "2 avvisade" in res.output
    rejects = [json.loads(x) for x in (tmp_path / "log.xes.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert len(list(iter_source_records(out, None))) == 3


def test_personal_numbers_in_lists_and_containers_are_blanked_or_rejected(tmp_path):
    """Nested XES values (a list of attendees, a container) are checked like plain ones:
    free text is blanked, an id (an attendee) holding a personal number rejects the event."""
    p = tmp_path / "nested.xes"
    p.write_text(XES_HEAD + """<trace><string key="concept:name" value="K1"/>
<event><string key="concept:name" value="meeting.held"/><date key="time:timestamp" value="2025-03-03T09:00:00.000+01:00"/>
<string key="meeting" value="M1"/>
<list key="attendees"><values><string key="x" value="soc"/></values></list>
<container key="child"><string key="initials" value="19121212-1212"/></container></event>
<event><string key="concept:name" value="meeting.held"/><date key="time:timestamp" value="2025-03-04T09:00:00.000+01:00"/>
<string key="meeting" value="M2"/>
<list key="attendees"><values><string key="x" value="191212121212"/><string key="x" value="soc"/></values></list>
</event>
</trace>
</log>
""", "utf-8")
    first, second = iter_source_records(p, None)
    assert first.data["attendees"] == ["soc"]
    assert first.data["child"] == {"initials": "[personnummer borttaget]"}
    assert second.error == "event: attribut 'attendees' innehåller ett personnummer"
    assert "19121212" not in json.dumps([first.data, first.raw, second.raw])
