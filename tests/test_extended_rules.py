"""The agreements' other obligations (obligations.md, extended table), each at its edges."""

from __future__ import annotations

import pytest

from helpers import ev


def found(result, rule, status=None):
    return [(f["status"], f["due"], f["actual"]) for f in result.findings
            if f["rule"] == rule and (status is None or f["status"] == status)]


# --- bus-individ-protocol: 10 business days after the meeting (Skarpnäck) -------------------

def _bus(protocol_day: str | None) -> list[str]:
    lines = [ev("b1", "consent.given", "2025-01-02"),
             ev("b2", "meeting.held", "2025-01-10", meeting="S1", kind="sip", attendees=["soc"]),
             ev("b3", "bus_individ.requested", "2025-04-01", unit="bup", meeting="B1"),
             ev("b4", "meeting.held", "2025-04-11", meeting="B1", kind="bus_individ", attendees=["soc", "bup"])]
    if protocol_day:
        lines.append(ev("b5", "protocol.sent", protocol_day, unit="bup", meeting="B1", to=["soc"]))
    return lines


@pytest.mark.parametrize("sent, expected", [
    # Fri 11 April + 10 business days, over Easter (18 and 21 April) = Tue 29 April.
    ("2025-04-29", []),
    ("2025-04-30", [("violation", "2025-04-29", "2025-04-30")]),
    (None, [("violation", "2025-04-29", None)]),
])
def test_the_protocol_is_due_ten_business_days_after_the_meeting(scan, sent, expected):
    result = scan(_bus(sent), profile="skarpnack-2018")
    assert found(result, "bus-individ-protocol") == expected
    if expected:   # the unit that raised the case writes it
        assert {f["unit"] for f in result.findings if f["rule"] == "bus-individ-protocol"} == {"bup"}


def test_no_protocol_is_late_before_its_deadline(scan):
    assert found(scan(_bus(None), as_of="2025-04-29", profile="skarpnack-2018"), "bus-individ-protocol") == []


# --- deviation-process: a reply within 60 days, a decision at the close (Skarpnäck) ---------

def _deviation(replied: str | None, decision: str | None = "Åtgärdat") -> list[str]:
    lines = [ev("d1", "deviation.filed", "2025-03-03", deviation="AV-1", to="bup", **{"from": "soc"})]
    if replied:
        lines.append(ev("d2", "deviation.replied", replied, unit="bup", deviation="AV-1"))
    lines.append(ev("d3", "deviation.closed", "2025-11-03", deviation="AV-1",
                    **({"decision": decision} if decision else {})))
    return lines


@pytest.mark.parametrize("replied, expected", [
    # 3 March + 60 days = Fri 2 May.
    ("2025-05-02", []),
    ("2025-05-05", [("violation", "2025-05-02", "2025-05-05")]),
    (None, [("violation", "2025-05-02", None)]),
])
def test_a_filed_deviation_is_answered_within_sixty_days(scan, replied, expected):
    result = scan(_deviation(replied), profile="skarpnack-2018")
    assert found(result, "deviation-process") == expected
    assert {f["unit"] for f in result.findings if f["rule"] == "deviation-process"} <= {"bup"}


def test_sixty_days_landing_on_midsommar_move_to_the_next_business_day(scan):
    lines = [ev("d1", "deviation.filed", "2025-04-21", deviation="AV-2", to="bup")]   # + 60 = Fri 20 June
    assert found(scan(lines, profile="skarpnack-2018"), "deviation-process") == [("violation", "2025-06-23", None)]


def test_a_deviation_closed_without_a_decision(scan):
    result = scan(_deviation("2025-04-01", decision=None), profile="skarpnack-2018")
    assert found(result, "deviation-process") == [("violation", "2025-11-03", "2025-11-03")]
    assert "utan ett registrerat beslut" in result.findings[0]["message"]


# --- age-scope: information at or over the age limit -------------------------------------------

def _aged(birth: str | None, meeting: str) -> list[str]:
    child = {"initials": "A.B."} | ({"birth_date": birth} if birth else {})
    return [ev("a1", "case.opened", "2025-01-02", child=child),
            ev("a2", "consent.given", "2025-01-02"),
            ev("a3", "meeting.held", meeting, meeting="M1", kind="sip", attendees=["soc"])]


@pytest.mark.parametrize("birth, meeting, expected", [
    ("2007-03-15", "2025-03-14", []),                                            # the day before
    ("2007-03-15", "2025-03-15", [("information", "2025-03-15", "2025-03-15")]),  # the 18th birthday
    ("2008-02-29", "2026-02-28", []),                                            # leap-day child: 18 on 1 March
    ("2008-02-29", "2026-03-01", [("information", "2026-03-01", "2026-03-01")]),
])
def test_age_scope_at_the_profiles_age_limit(scan, birth, meeting, expected):
    result = scan(_aged(birth, meeting), as_of="2026-06-30", profile="skarpnack-2018")
    assert found(result, "age-scope") == expected
    assert all(f["status"] != "violation" for f in result.findings if f["rule"] == "age-scope")


def test_gotland_counts_eighteen_year_olds_in(scan):
    lines = _aged("2007-03-15", "2025-03-15")
    assert found(scan(lines, profile="gotland-2013"), "age-scope") == []
    assert found(scan(_aged("2006-03-15", "2025-03-15"), profile="gotland-2013"), "age-scope") == \
        [("information", "2025-03-15", "2025-03-15")]


def test_without_a_birth_date_the_age_could_not_be_judged(scan):
    result = scan(_aged(None, "2025-03-15"), profile="skarpnack-2018")
    (f,) = [f for f in result.findings if f["rule"] == "age-scope"]
    assert f["status"] == "information" and "kunde inte bedömas" in f["message"]


# --- Gotland: invitations ----------------------------------------------------------------------

def _invited(to: str, channel: str | None = "email", text: str | None = None, consent: str = "2025-02-03",
             scope: list[str] | None = None, form: str | None = "written") -> list[str]:
    consent_fields = {k: v for k, v in (("form", form), ("scope", scope)) if v is not None}
    inv = {k: v for k, v in (("channel", channel), ("text", text)) if v is not None}
    return [ev("i1", "sip.initiated", "2025-02-03"),
            ev("i2", "consent.given", consent, **consent_fields),
            ev("i3", "meeting.scheduled", "2025-02-03", meeting="M1", kind="sip", date="2025-03-03"),
            ev("i4", "invitation.sent", "2025-02-05T10:00:00+01:00", meeting="M1", to=to, **inv)]


@pytest.mark.parametrize("consent, scope, expected", [
    ("2025-02-05T09:00:00+01:00", None, []),      # given an hour before
    ("2025-02-05T11:00:00+01:00", None, []),      # an hour after: in force on the day (by date, as obligations.md)
    ("2025-02-06", None, [("violation", "2025-02-05", "2025-02-05")]),   # the day after
    ("2025-02-03", ["bup", "skola"], []),
    ("2025-02-03", ["skola"], [("violation", "2025-02-05", "2025-02-05")]),
])
def test_consent_before_invitation(scan, consent, scope, expected):
    assert found(scan(_invited("bup", consent=consent, scope=scope), profile="gotland-2013"),
                 "consent-before-invitation") == expected


def test_consent_before_invitation_does_not_concern_the_guardian(scan):
    assert found(scan(_invited("guardian", consent="2025-02-06", channel="letter"), profile="gotland-2013"),
                 "consent-before-invitation") == []


@pytest.mark.parametrize("text, flagged", [
    ("Kallelse till samordnad individuell plan A.B. 150510", False),
    ("Kallelse till samordnad individuell plan, AB, 150510. Datum: 2025-03-03 kl 13.00", False),
    ("Kallelse till SIP-möte 3 mars 2025 för A.B.", False),
    ("Kallelse till samordnad individuell plan A.B. 191212121213", False),   # wrong check digit
    ("Kallelse till samordnad individuell plan A.B. 2025000001", False),     # a case number
    ("Kallelse till samordnad individuell plan A.B. 19121212-1212", True),
    ("Kallelse till samordnad individuell plan A.B. 121212\u20131212", True),   # an en dash
    ("Kallelse till samordnad individuell plan för Anna", True),               # a name
])
def test_invitation_privacy_flags_a_full_personal_number_or_a_name(scan, text, flagged):
    result = scan(_invited("bup", text=text), profile="gotland-2013")
    assert [s for s, *_ in found(result, "invitation-privacy")] == (["violation"] if flagged else [])
    assert "1212" not in "".join(f["message"] for f in result.findings)


def test_invitation_privacy_concerns_only_email(scan):
    assert found(scan(_invited("bup", channel="letter", text="Till Anna 19121212-1212"),
                      profile="gotland-2013"), "invitation-privacy") == []


@pytest.mark.parametrize("channel, status", [("letter", None), ("email", "violation"), (None, "information")])
def test_guardian_invited_by_letter(scan, channel, status):
    result = scan(_invited("guardian", channel=channel), profile="gotland-2013")
    assert [s for s, *_ in found(result, "guardian-invited-by-letter")] == ([status] if status else [])


@pytest.mark.parametrize("form, status", [("written", None), ("oral", "violation"), (None, "information")])
def test_consent_written(scan, form, status):
    result = scan(_invited("bup", form=form), profile="gotland-2013")
    assert [s for s, *_ in found(result, "consent-written")] == ([status] if status else [])


# --- Gotland: the plan and its follow-up --------------------------------------------------------

FULL_PLAN = {"coordinator": "soc", "actions": [{"unit": "bup", "action": "samtal", "extent": "varje vecka"}],
             "follow_up": {"date": "2025-05-05", "convener": "bup"}}


@pytest.mark.parametrize("change, missing", [
    ({}, None),
    ({"coordinator": ""}, "ingen samordnare"),
    ({"actions": []}, "inga insatser"),
    ({"actions": [{"unit": "bup", "action": "samtal"}]}, "utan omfattning"),
    ({"actions": [{"action": "samtal", "extent": "varje vecka"}]}, "utan ansvarig"),
    ({"follow_up": {"convener": "bup"}}, "inget datum"),
    ({"follow_up": {"date": "2025-05-05"}}, "inte vem som kallar"),
])
def test_plan_content(scan, change, missing):
    plan = {**FULL_PLAN, **change}
    lines = [ev("p1", "consent.given", "2025-02-03"),
             ev("p2", "meeting.held", "2025-03-03", meeting="M1", kind="sip", attendees=["soc"]),
             ev("p3", "plan.documented", "2025-03-03T15:00", meeting="M1", **plan)]
    result = scan(lines, as_of="2025-04-30", profile="gotland-2013")
    got = [f for f in result.findings if f["rule"] == "plan-content"]
    if missing is None:
        assert got == []
    else:
        assert len(got) == 1 and missing in got[0]["message"]


@pytest.mark.parametrize("held, expected", [
    ("2025-05-05", []),
    ("2025-05-06", [("violation", "2025-05-05", "2025-05-06")]),
    (None, [("violation", "2025-05-05", None)]),
])
def test_the_follow_up_is_held_by_the_plans_date(scan, held, expected):
    lines = [ev("p1", "consent.given", "2025-02-03"),
             ev("p2", "meeting.held", "2025-03-03", meeting="M1", kind="sip", attendees=["soc"]),
             ev("p3", "plan.documented", "2025-03-03T15:00", meeting="M1", **FULL_PLAN)]
    if held:
        lines.append(ev("p4", "meeting.held", held, unit="bup", meeting="M2", kind="sip_followup", attendees=["bup"]))
    result = scan(lines, profile="gotland-2013")
    assert found(result, "follow-up-held") == expected
    assert {f["unit"] for f in result.findings if f["rule"] == "follow-up-held"} <= {"bup"}   # the convener


# --- Nynäshamn: three meetings a term ---------------------------------------------------------

@pytest.mark.parametrize("days, too_few", [
    (["2005-01-10", "2005-03-10", "2005-06-30"], False),      # the third on the term's last day
    (["2005-01-10", "2005-03-10", "2005-07-01"], True),       # ... or the first day of the next
    (["2005-01-10T09:00", "2005-01-10T13:00", "2005-01-10T15:00"], False),   # three meetings on one day count thrice
    (["2005-01-10", "2005-01-10", "2005-01-10"], True),       # ... but one meeting read thrice is one (event-log.md)
])
def test_three_meetings_per_term(scan, days, too_few):
    lines = [ev(f"g{k}", "group.meeting.held", d, case="G-styrgrupp", group="styrgrupp") for k, d in enumerate(days)]
    got = [f["event"] for f in scan(lines, as_of="2005-12-31", profile="nynashamn-2004").findings
           if f["due"] == "2005-06-30"]
    assert got == (["2005-vt"] if too_few else [])
