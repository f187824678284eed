"""Upcoming deadlines (status = warning): at their edges, and never a second violation."""

from __future__ import annotations

from helpers import ev


def warnings(result, rule=None):
    return [(f["rule"], f["meeting"], f["due"]) for f in result.findings
            if f["status"] == "warning" and (rule is None or f["rule"] == rule)]


def _planned(meeting_day: str, extra=()):
    return [
        ev("p1", "sip.initiated", "2025-11-20"),
        ev("p2", "consent.given", "2025-11-20"),
        ev("p3", "meeting.scheduled", "2025-11-20", meeting="M1", kind="sip", date=meeting_day),
        *extra,
    ]


def test_invitation_to_send_within_the_next_five_business_days(scan):
    # Meeting Fri 2026-01-16: send by roll_back(2025-12-26) = Tue 2025-12-23 (24-26 Dec are
    # holidays or eves). As of Mon 2025-12-15, five business days ahead is Mon 2025-12-22.
    lines = _planned("2026-01-16")
    assert warnings(scan(lines, as_of="2025-12-15"), "invitation-notice") == []
    assert warnings(scan(lines, as_of="2025-12-16"), "invitation-notice") == [
        ("invitation-notice", "M1", "2025-12-23")]


def test_a_passed_send_date_warns_that_the_invitation_will_be_late(scan):
    result = scan(_planned("2026-01-16"), as_of="2025-12-30")
    [f] = [f for f in result.findings if f["status"] == "warning" and f["rule"] == "invitation-notice"]
    assert f["due"] == "2025-12-23" and f["days_late"] == 7
    assert "sista vardag att skicka" in f["message"]


def test_no_warning_once_an_invitation_is_sent_or_the_meeting_is_cancelled(scan):
    sent = _planned("2026-01-16", [ev("p4", "invitation.sent", "2025-12-01", meeting="M1", to="bup")])
    assert warnings(scan(sent, as_of="2025-12-20"), "invitation-notice") == []
    cancelled = _planned("2026-01-16", [ev("p4", "meeting.cancelled", "2025-12-01", meeting="M1")])
    assert warnings(scan(cancelled, as_of="2025-12-20"), "invitation-notice") == []


def test_thirty_day_clock_warns_in_its_last_business_days_then_becomes_a_violation(scan):
    # Clock from Thu 2025-11-20: +30 = Sat 2025-12-20 -> deadline Mon 2025-12-22.
    lines = [ev("c1", "sip.initiated", "2025-11-20"), ev("c2", "consent.given", "2025-11-20"),
             ev("c3", "meeting.scheduled", "2025-11-20", meeting="M1", kind="sip", date="2025-12-19")]
    assert warnings(scan(lines, as_of="2025-12-12"), "meeting-within-30-days") == []
    assert warnings(scan(lines, as_of="2025-12-15"), "meeting-within-30-days") == [
        ("meeting-within-30-days", None, "2025-12-22")]
    on_deadline = scan(lines, as_of="2025-12-22")
    assert warnings(on_deadline, "meeting-within-30-days") == [("meeting-within-30-days", None, "2025-12-22")]
    after = scan(lines, as_of="2025-12-23")
    assert warnings(after, "meeting-within-30-days") == []
    assert [(f["status"], f["due"]) for f in after.findings if f["rule"] == "meeting-within-30-days"] == [
        ("violation", "2025-12-22")]


def test_clock_with_no_meeting_planned_before_the_deadline_warns_early(scan):
    lines = [ev("c1", "sip.initiated", "2025-11-20"), ev("c2", "consent.given", "2025-11-20")]
    assert warnings(scan(lines, as_of="2025-11-24"), "meeting-within-30-days") == [
        ("meeting-within-30-days", None, "2025-12-22")]
    planned = lines + [ev("c3", "meeting.scheduled", "2025-11-21", meeting="M1", kind="sip", date="2025-12-10")]
    assert warnings(scan(planned, as_of="2025-11-24"), "meeting-within-30-days") == []
    too_late = lines + [ev("c3", "meeting.scheduled", "2025-11-21", meeting="M1", kind="sip", date="2026-01-10")]
    assert warnings(scan(too_late, as_of="2025-11-24"), "meeting-within-30-days") == [
        ("meeting-within-30-days", None, "2025-12-22")]


def test_warn_days_changes_the_horizon(scan):
    lines = _planned("2026-01-16")
    assert warnings(scan(lines, as_of="2025-12-12", warn_days=10), "invitation-notice") == [
        ("invitation-notice", "M1", "2025-12-23")]
    assert warnings(scan(lines, as_of="2025-12-12", warn_days=2), "invitation-notice") == []
