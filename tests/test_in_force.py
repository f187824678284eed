"""When a rule is in force (obligations.md): a rule judges only what fell due while one of
its versions, and the profile, were in force; every finding names the version that judged it;
renamed copies of the rule files mean exactly what their text says."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, ev, violations

RULES = ROOT / "compliance" / "data" / "rules"


def _consentless_meeting(day: str, case: str = "K1") -> list[str]:
    return [ev(f"{case}-1", "meeting.held", day, case=case, meeting="M1", kind="bus_individ",
               attendees=["soc"])]


def _absence(day: str) -> list[str]:
    return [ev("a1", "consent.given", "2000-01-03"),
            ev("a2", "meeting.scheduled", "2000-01-03", meeting="M1", kind="sip", date=day),
            ev("a3", "invitation.sent", "2000-01-04", meeting="M1", to="bup"),
            ev("a4", "meeting.held", day, meeting="M1", attendees=["soc"])]


def _late_invitation(meeting_day: str) -> list[str]:
    d = dt.date.fromisoformat(meeting_day)
    return [ev("i1", "consent.given", (d - dt.timedelta(days=60)).isoformat()),
            ev("i2", "meeting.scheduled", (d - dt.timedelta(days=60)).isoformat(), meeting="M1",
               kind="sip", date=meeting_day),
            ev("i3", "invitation.sent", (d - dt.timedelta(days=5)).isoformat(), meeting="M1", to="bup"),
            ev("i4", "meeting.held", meeting_day, meeting="M1", attendees=["soc", "bup"])]


def _no_meeting(start: str) -> list[str]:
    return [ev("c1", "sip.initiated", start), ev("c2", "consent.given", start)]


def _request(day: str) -> list[str]:
    return [ev("r1", "consent.given", "2018-01-02"), ev("r2", "bus_individ.requested", day)]


# (rule, builder, the last due date before the rule, the first due date on or after it)
EDGES = [
    ("consent-before-meeting", _consentless_meeting, "2009-12-31", "2010-01-01"),
    ("mandatory-attendance", _absence, "2009-12-31", "2010-01-01"),
    # due = meeting day - 21
    ("invitation-notice", lambda due: _late_invitation(
        (dt.date.fromisoformat(due) + dt.timedelta(days=21)).isoformat()), "2012-12-31", "2013-01-01"),
    ("sip-before-bus-individ", _request, "2018-04-16", "2018-04-17"),
]


@pytest.mark.parametrize("rule, build, before, on", EDGES, ids=[e[0] for e in EDGES])
def test_due_the_day_before_a_rule_is_in_force_gives_nothing_on_the_day_a_finding(scan, rule, build, before, on):
    assert violations(scan(build(before), as_of="2025-12-31"), rule) == []
    found = violations(scan(build(on), as_of="2025-12-31"), rule)
    assert [f["due"] for f in found] == [on]


def test_the_thirty_day_deadline_on_both_sides_of_2013_01_01(scan):
    # start 2012-11-28 + 30 = Fri 2012-12-28 (the last possible deadline in 2012: the 31st
    # is nyårsafton); start 2012-12-03 + 30 = 2013-01-02 (1 January is a holiday).
    assert violations(scan(_no_meeting("2012-11-28")), "meeting-within-30-days") == []
    found = violations(scan(_no_meeting("2012-12-03")), "meeting-within-30-days")
    assert [f["due"] for f in found] == ["2013-01-02"]


@pytest.mark.parametrize("day, version", [
    ("2017-03-31", "2010-01-01"), ("2017-04-01", "2017-04-01"),
    ("2018-04-16", "2017-04-01"), ("2018-04-17", "2018-04-17")])
def test_a_finding_carries_the_version_in_force_on_its_due_date(scan, day, version):
    (finding,) = [f for f in scan(_absence(day)).findings if f["rule"] == "mandatory-attendance"]
    assert finding["rule_version"] == version


def test_the_manifest_lists_every_version_with_its_cited_sources(tmp_path):
    from compliance.scan import run_scan
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(_absence("2025-03-03")) + "\n", encoding="utf-8")
    run_scan([log], dt.date(2025, 12, 31), out_dir=tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    rule = next(r for r in manifest["rules"] if r["id"] == "mandatory-attendance")
    assert [v["valid_from"] for v in rule["versions"]] == ["2010-01-01", "2017-04-01", "2018-04-17"]
    citations = [s["citation"] for s in rule["versions"][0]["sources"]]
    assert "2 kap. 7 § socialtjänstlagen (2001:453), i lydelse från 2010-01-01" in citations
    assert all(len(r["sha256"]) == 64 for r in manifest["rules"]) and len(manifest["rules_digest"]) == 64
    assert manifest["profile"]["name"] == "core"
    assert not re.search(r"\d{3}_[0-9a-f]{16}", json.dumps(manifest))   # no internal file names


# --- profiles: their validity cuts findings by due date ------------------------------------------

def test_a_profile_judges_only_what_fell_due_while_it_was_in_force(scan):
    before, on = _consentless_meeting("2018-04-16", "A"), _consentless_meeting("2018-04-17", "B")
    core = scan(before + on)
    skarpnack = scan(before + on, profile="skarpnack-2018")
    assert {f["case"] for f in violations(core, "consent-before-meeting")} == {"A", "B"}
    assert {f["case"] for f in violations(skarpnack, "consent-before-meeting")} == {"B"}


def test_an_unknown_profile_names_the_known_ones():
    from compliance.profiles import ProfileError
    from compliance.scan import scan_lines
    with pytest.raises(ProfileError, match="gotland-2013.*skarpnack-2018"):
        scan_lines([], dt.date(2025, 12, 31), profile="uppsala")


# --- old years: the rules are data, so an auditor can date them back ----------------------------

def test_rules_dated_back_count_deadlines_on_that_years_calendar(tmp_path, scan):
    """With meeting-within-30-days made in force from 2003, the fixture's old cases give
    their findings on the calendar of their year: Whit Monday a holiday in 2004 and a
    working day in 2005, 6 June a working day in 2003."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    path = rules / "meeting-within-30-days.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("valid_from = 2013-01-01", "valid_from = 2003-01-01"),
                    encoding="utf-8")
    lines = [line for line in (ROOT / "fixtures" / "log" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
             if json.loads(line)["case"] in ("F05b", "F06b", "F07b")]
    found = violations(scan(lines, rules_dir=rules), "meeting-within-30-days")
    assert [(f["case"], f["due"], f["actual"], f["days_late"], f["business_days_late"]) for f in found] == [
        ("F05b", "2004-01-02", "2004-01-07", 5, 2),
        ("F06b", "2005-05-16", "2005-05-17", 1, 1),
        ("F07b", "2003-06-06", "2003-06-10", 4, 1),
    ]
    assert violations(scan(lines), "meeting-within-30-days") == []   # as shipped: not in force


# --- renamed copies: the file's text is the whole meaning ----------------------------------------

def _renamed(tmp_path: Path, edits: dict[str, tuple[str, list[tuple[str, str]]]]) -> Path:
    """A rules folder with only renamed copies (new id, edited text) and the definitions."""
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES / "_definitions.toml", rules)
    for old, (new, replacements) in edits.items():
        text = (RULES / f"{old}.toml").read_text(encoding="utf-8").replace(f'id = "{old}"', f'id = "{new}"')
        for a, b in replacements:
            assert a in text, (old, a)
            text = text.replace(a, b)
        (rules / f"{new}.toml").write_text(text, encoding="utf-8")
    return rules


def test_renamed_copies_of_all_five_rules_mean_what_their_text_says(tmp_path, scan):
    rules = _renamed(tmp_path, {
        "invitation-notice": ("kallelse-14", [("notice_days = 21", "notice_days = 14")]),
        "meeting-within-30-days": ("mote-inom-14", [("within_days = 30", "within_days = 14")]),
        "mandatory-attendance": ("narvaro-barn", [('excused = ["guardian", "child"]', 'excused = ["child"]')]),
        "sip-before-bus-individ": ("uppfoljning-fore-bus", [('prior_kind = "sip"', 'prior_kind = "sip_followup"')]),
        "consent-before-meeting": ("samtycke", []),
    })
    lines = [
        # invited 20 days ahead: on time with 14 days' notice, and an invitation 10 days ahead is late
        ev("k1", "sip.initiated", "2025-03-03"), ev("k2", "consent.given", "2025-03-03"),
        ev("k3", "meeting.scheduled", "2025-03-03", meeting="M1", kind="sip", date="2025-03-31"),
        ev("k4", "invitation.sent", "2025-03-11", meeting="M1", to="bup"),
        ev("k5", "invitation.sent", "2025-03-21", meeting="M1", to="guardian"),
        ev("k6", "meeting.held", "2025-03-31", meeting="M1", attendees=["soc", "bup"]),
        ev("k7", "bus_individ.requested", "2025-04-02"),
        ev("k8", "meeting.held", "2025-01-10", meeting="M0", kind="bus_individ", attendees=["soc"]),
    ]
    found = {(f["rule"], f["unit"], f["due"]) for f in violations(scan(lines, rules_dir=rules))}
    assert found == {
        ("kallelse-14", "soc", "2025-03-17"),               # 31 March - 14: the guardian's invitation
        ("mote-inom-14", "soc", "2025-03-17"),              # 3 March + 14 = Mon 17 March; held the 31st
        ("narvaro-barn", "guardian", "2025-03-31"),         # the guardian is no longer excused
        ("uppfoljning-fore-bus", "soc", "2025-04-02"),      # no sip_followup before the request
        ("uppfoljning-fore-bus", "soc", "2025-01-10"),      # nor before the BUS-individ meeting
        ("samtycke", "soc", "2025-01-10"),                  # M0 held before any consent
    }
    # The warning to send an invitation uses the copy's 14 days, not the shipped 21.
    planned = [ev("w1", "consent.given", "2025-05-01"),
               ev("w2", "meeting.scheduled", "2025-05-01", meeting="M9", kind="sip", date="2025-06-02")]
    warnings = [f for f in scan(planned, as_of="2025-05-14", rules_dir=rules).findings
                if f["rule"] == "kallelse-14" and f["status"] == "warning"]
    assert [f["due"] for f in warnings] == ["2025-05-19"]       # 2 June - 14 = Mon 19 May
