"""Fact ids and durable-rules' 32-bit hash: no fact is ever dropped silently.

durable-rules 2.0.28 identifies a fact in its session by a 32-bit FNV-1a hash of the id
and compares only the hash (state.c, storeMessage; upstream #376). The engine's former
ids collided: `a59_65` and `a176_10` (attendee facts) share 0x93cd1f06, `g38110` and
`a25_28946` share 0xe0984c15. These tests show what durable-rules does then, and that the
session cannot be caught by it: ids come from a pool checked collision-free, every
asserted fact is stored so that a refusal cannot hide behind another answer, and a
refused fact fails its case aloud.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import date

import pytest

from compliance.durable import load_engine
from compliance.session import MAX_SESSIONS, fact_ids, fnv1a_32, state_fact_id

from helpers import ev
from reference import evaluate, project

PAIRS = [("a59_65", "a176_10", 0x93CD1F06), ("g38110", "a25_28946", 0xE0984C15)]


@pytest.fixture(scope="module")
def engine():
    return load_engine()


def _ruleset(engine, name: str) -> int:
    rules = {"r": {"all": [{"trig": {"$and": [{"t": "trig"}, {"r": "r"}]}}, {"a": {"t": "att"}}]}}
    return engine.create_ruleset(name, json.dumps(rules))


def _matched(engine, handle: int) -> list[str]:
    got = []
    started = engine.start_action(handle)
    while started:
        message = started[1]
        while message:
            got.append(json.loads(message)["r"]["a"]["id"])
            message = engine.complete_and_start_action(handle, started[2])
        started = engine.start_action(handle)
    return got


@pytest.mark.parametrize("first, second, value", PAIRS)
def test_the_pairs_collide_in_the_hash_durable_rules_uses(first, second, value):
    assert first != second and fnv1a_32(first) == fnv1a_32(second) == value


@pytest.mark.parametrize("first, second, value", PAIRS)
def test_durable_rules_skips_the_second_of_a_colliding_pair_and_goes_on(engine, first, second, value):
    """One colliding fact in a batch: it alone is skipped, the rest are asserted, and the
    answer is 2 ("already observed")."""
    handle = _ruleset(engine, f"pair-{first}")
    batch = [{"id": first, "sid": "0", "t": "att"}, {"id": second, "sid": "0", "t": "att"},
             {"id": "x1", "sid": "0", "t": "att"}]
    assert engine.assert_facts(handle, json.dumps(batch))[0] == 2
    assert sorted(f["id"] for f in json.loads(engine.get_facts(handle, "0"))) == sorted([first, "x1"])
    engine.assert_facts(handle, json.dumps([{"id": "t1", "sid": "0", "t": "trig", "r": "r"}]))
    assert sorted(_matched(engine, handle)) == sorted([first, "x1"])      # the rule never saw it


def test_a_later_fact_no_rule_keeps_hides_the_refusal(engine):
    """The answer of a batch is that of its last fact answered 1 or 2: a fact that no rule
    keeps after the refused one turns the 2 into 1 ("matched no rule"). The session's
    keeping rules make every fact it asserts kept, so that this cannot happen to it."""
    handle = _ruleset(engine, "hidden")
    batch = [{"id": "a59_65", "sid": "0", "t": "att"}, {"id": "a176_10", "sid": "0", "t": "att"},
             {"id": "x1", "sid": "0", "t": "nobody-reads-this"}]
    assert engine.assert_facts(handle, json.dumps(batch))[0] == 1
    assert [f["id"] for f in json.loads(engine.get_facts(handle, "0"))] == ["a59_65"]


def test_the_id_pool_has_no_two_ids_with_one_hash():
    ids = fact_ids()
    hashes = {fnv1a_32(i) for i in ids}
    assert len(ids) == len(set(ids)) == len(hashes)
    # ... nor one with the hash of a session's own state fact ("sid-<sid>")
    assert hashes.isdisjoint(fnv1a_32(state_fact_id(str(k))) for k in range(MAX_SESSIONS))


def test_a_refused_fact_fails_its_case_aloud(monkeypatch, scan):
    """With colliding ids forced into the pool, the case's second fact is refused: the case
    is an error naming the collision (errors.jsonl), never a case decided without the
    fact; the other cases of its batch are decided."""
    import compliance.session as session

    pool = list(fact_ids())
    pool[80], pool[81] = "a59_65", "a176_10"     # the 80th and 81st fact of a case: only K1 has them
    monkeypatch.setattr(session, "fact_ids", lambda n=None: tuple(pool))
    lines = [ev("e1", "meeting.held", "2025-03-31", case="K1", meeting="M1", kind="sip",
                attendees=[f"u{k}" for k in range(100)]),
             ev("e2", "meeting.scheduled", "2025-03-01", case="K2", meeting="M1", kind="sip", date="2025-03-31"),
             ev("e3", "invitation.sent", "2025-03-20", case="K2", meeting="M1", to="bup")]
    result = scan(lines)
    assert result.errors == [{"case": "K1", "reason": "regelmotorn vägrade ett faktum som redan fanns (krock i fakta-id)"}]
    assert [(f["case"], f["rule"]) for f in result.findings if f["status"] == "violation"] == [
        ("K2", "invitation-notice")]


def crafted_case() -> list[str]:
    """A case whose facts had the colliding ids under the former scheme (attendee j of the
    i-th meeting was `a{i}_{j}`): 177 held meetings, the 60th with 66 attendees, the 177th
    with 11, and the 11th of those invited. With `a176_10` dropped, the scan reported that
    unit absent although it attended, and a draft went to its manager."""
    lines = [ev("c1", "sip.initiated", "2020-01-02", case="X"),
             ev("c2", "consent.given", "2020-01-02", case="X")]
    day = date(2020, 1, 6)
    for i in range(177):
        held = day + dt.timedelta(days=2 * i)
        attendees = ["soc"] + [f"u{j}" for j in range(1, 66 if i == 59 else 11 if i == 176 else 3)]
        lines.append(ev(f"s{i}", "meeting.scheduled", (held - dt.timedelta(days=30)).isoformat(), case="X",
                        meeting=f"M{i}", kind="sip", date=held.isoformat()))
        lines.append(ev(f"h{i}", "meeting.held", held.isoformat(), case="X", meeting=f"M{i}", attendees=attendees))
    lines.append(ev("i1", "invitation.sent", "2020-12-01", case="X", meeting="M176", to="u10"))
    return lines


def test_a_case_that_collided_under_the_former_ids_gets_the_reference_findings(scan):
    lines = crafted_case()
    assert len(lines) == 357
    result = scan(lines, as_of="2021-06-30")
    assert result.errors == []
    assert project(result.findings) == evaluate(lines, date(2021, 6, 30))
    assert not [f for f in result.findings if f["rule"] == "mandatory-attendance"]


@pytest.mark.parametrize("profile", ["core", "skarpnack-2018"])
def test_a_refused_fact_of_any_type_is_not_hidden_by_the_facts_after_it(engine, monkeypatch, tmp_path, profile):
    """Every fact the session asserts is stored, by a rule or by a keeping rule, so that
    no later fact can turn a refusal (2) into "matched no rule" (1): for each fact type
    of random cases, a colliding pair of it followed by a fact of every other type
    still answers 2."""
    import random

    import orjson

    import compliance.session as session
    from compliance.decide import Decider
    from compliance.reading import read_events
    from compliance.scan import prepare
    from gen import generate_cases
    seen: dict[str, dict] = {}
    assert_real = session.Session._assert

    def capture(self, facts):
        for f in facts:
            if f["t"] != "trig":
                seen.setdefault(f["t"], f)
        return assert_real(self, facts)
    monkeypatch.setattr(session.Session, "_assert", capture)
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n"
                             for e in generate_cases(random.Random(3), 200, 2012, 2026, edge_rate=0.4)))
    as_of = date(2026, 6, 30)
    cases = [(case, orjson.loads("[" + ",".join(packed) + "]"))
             for case, packed in sorted(read_events([log], as_of=as_of).cases.items())]
    program = prepare(None, profile)[2]
    Decider(program, as_of, 5).decide(cases)
    assert len(seen) >= 15
    handle = engine.create_ruleset(f"hidden-{profile}", json.dumps(session.ruleset(program)))
    for ftype, fact in seen.items():
        others = [dict(f, id=f"o{k}", sid=ftype) for k, f in enumerate(seen.values()) if f is not fact]
        batch = [dict(fact, id="a59_65", sid=ftype), dict(fact, id="a176_10", sid=ftype), *others]
        assert engine.assert_facts(handle, json.dumps(batch))[0] == 2, ftype
