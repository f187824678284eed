"""Incremental scans (state.md, "Incremental scans"): a store's scan that reuses the
cases whose results still hold writes exactly what a `--full` scan writes.

- A month of nightly exports through the command line, on SQLite and PostgreSQL: each
  night scanned incrementally into one store and with `--full` into another, and every
  output file compared byte for byte (the spreadsheets by content: they carry the moment
  they were written).
- A property: a case decided on one as-of date is decided the same on any later as-of
  date before its stable-until day (its lateness counters counted anew), for random
  cases, profiles, warn horizons and dates.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import zipfile

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from compliance.state import open_store
from compliance.state.schema import case_results, case_summaries, evidence, finding_changes, findings
from compliance.state.runs import latest_run
from helpers import ev
from state_support import new_store_url, store_url  # noqa: F401
from test_state_cli_month import export_with_deletion
from test_state_month import MARCH
from test_state_scan import scan, tree

SHUFFLED = {7, 14, 21, 28}      # nights whose export comes in another order
REPORTS = {1, 12, 20, 31}       # nights scanned with --report too


def export(day: dt.date) -> list[str]:
    """The night's export: the month's scripted cases (a meeting moved, an attendance
    edited and reverted, an event deleted, a deviation filed, deadlines passing), a case
    whose meeting is planned for 10 Mar and another first heard of on 18 Mar; in the
    case system's order, except on the SHUFFLED nights."""
    lines = export_with_deletion(day)
    lines += [ev("g1", "sip.initiated", "2025-02-24", case="K-G"), ev("g2", "consent.given", "2025-02-24", case="K-G"),
              ev("g3", "meeting.scheduled", "2025-02-25", case="K-G", meeting="MG", kind="sip", date="2025-03-10"),
              ev("g4", "invitation.sent", "2025-02-26", case="K-G", meeting="MG", to="bup")]
    if day >= dt.date(2025, 3, 18):
        lines += [ev("h1", "sip.initiated", "2025-03-18", case="K-H")]
    if day.day in SHUFFLED:
        return lines
    return sorted(lines, key=lambda line: (json.loads(line)["at"], json.loads(line)["id"]))


def comparable(files: dict[str, bytes]) -> dict[str, object]:
    """The files of an output folder as compared: the manifest without the store's name
    (two stores), spreadsheets and Word files by the content of their parts (a workbook
    records when it was written)."""
    out: dict[str, object] = {}
    for name, data in files.items():
        if name == "manifest.json":
            manifest = orjson.loads(data)
            manifest["state"].pop("store")
            out[name] = manifest
        elif name.endswith((".xlsx", ".docx")):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                out[name] = {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
        else:
            out[name] = data
    return out


def store_view(url: str) -> dict[str, list[tuple]]:
    """What a store keeps of the nights (findings with their state and lateness, the
    history of changes without its row numbers, each case's summary and evidence), in a
    fixed order."""
    with open_store(url) as store, store.read() as conn:
        return {table.name: sorted(tuple(row) for row in conn.execute(
                    select(*(c for c in table.c if not (table is finding_changes and c.name == "id")))))
                for table in (findings, finding_changes, case_summaries, evidence)}


def test_a_month_of_incremental_nights_writes_what_full_scans_write(store_url, new_store_url, tmp_path):  # noqa: F811
    log, inc, full = tmp_path / "export.jsonl", tmp_path / "inc", tmp_path / "full"
    full_store = new_store_url()
    for day in MARCH:
        log.write_text("\n".join(export(day)) + "\n", encoding="utf-8")
        extra = ("--report",) if day.day in REPORTS else ()
        scan(inc, day.isoformat(), "--state", store_url, *extra, log=log)
        scan(full, day.isoformat(), "--state", full_store, "--full", *extra, log=log)
        a, b = tree(inc), tree(full)
        assert sorted(a) == sorted(b), day
        assert comparable(a) == comparable(b), day
        for name in a:
            if not name.endswith((".xlsx", ".docx", "manifest.json")):
                assert a[name] == b[name], (day, name)
        # The store too: an incremental night records only what may have changed (the
        # decided cases, the reused ones' open findings), and keeps what a full one keeps.
        assert store_view(store_url) == store_view(full_store), day
    # The last nights reused the historical cases: the store kept their results from the
    # night after the last shuffled export, and decided again only the month's cases.
    with open_store(store_url) as store, store.read() as conn:
        newest = latest_run(conn)
        rows = conn.execute(case_results.select()).fetchall()
    again = sorted(r.case for r in rows if r.run_id == newest)
    assert len(rows) > 40 and set(again) <= {"K-A", "K-B", "K-C", "K-D", "K-E", "K-G", "K-H"}, again
    with open_store(full_store) as store, store.read() as conn:
        assert {r.run_id for r in conn.execute(case_results.select())} == {latest_run(conn)}


# --- the property: a stored result holds until its stable-until day ----------------------------------

def _packed_cases(lines: list[str]) -> dict[str, list]:
    from compliance.reading import judge, read_sources
    from compliance.records import Record
    got = read_sources([("log", judge((Record("log", n, line) for n, line in enumerate(lines, 1)), 0))])
    return {case: orjson.loads("[" + ",".join(p) + "]") for case, p in got.cases.items()}


_PROGRAMS: dict[str, object] = {}


def _program(profile: str):
    if profile not in _PROGRAMS:
        from compliance.scan import prepare
        _PROGRAMS[profile] = prepare(None, profile)[2]
    return _PROGRAMS[profile]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), profile=st.sampled_from(["core", "skarpnack-2018", "gotland-2013",
                                                             "nynashamn-2004"]),
       first=st.dates(dt.date(2024, 1, 1), dt.date(2025, 12, 31)), warn_days=st.sampled_from([0, 1, 5, 12]),
       later=st.sampled_from([1, 2, 6, 31, 190]))
def test_a_case_is_decided_alike_on_every_day_before_its_stable_until(seed, profile, first, warn_days, later):
    from compliance.decide import Decider
    from compliance.incremental import refresh_lateness
    from compliance.pool import _jsonl
    from gen import generate_cases
    rng = random.Random(seed)
    lines = [json.dumps(e, ensure_ascii=False) for e in generate_cases(rng, 25, 2023, 2026)]
    cases = sorted(_packed_cases(lines).items())
    program = _program(profile)
    then = first + dt.timedelta(days=later)
    before = Decider(program, first, warn_days).decide_each(cases)
    after = {o.case: o for o in Decider(program, then, warn_days).decide_each(cases)}
    for o in before:
        if not hasattr(o, "findings") or (o.stable_until is not None and then.toordinal() >= o.stable_until):
            continue
        now = after[o.case]
        assert refresh_lateness(_jsonl(o.findings), then)[0] == _jsonl(now.findings), (o.case, first, then)
        assert (o.evidence, o.summary) == (now.evidence, now.summary), (o.case, first, then)
