"""Fixtures for the review app's tests (tests/test_web*.py): a store with two nights of
findings for two units (and a hostile unit id), users of every role, and helpers to sign
in through the real forms. Each test runs on SQLite and PostgreSQL (`store_url`)."""

from __future__ import annotations

import re

import pytest

from state_support import finding, new_store_url, run_info, store_url  # noqa: F401

PASSWORD = "rätt-lösenord-42"
OWN, OTHER, HOSTILE = "bup-farsta", "skola-syd", '<script>alert("x")</script>'
USERS = {  # name -> (role, units)
    "anna": ("enhetschef", (OWN,)),
    "bo": ("enhetschef", (OTHER,)),
    "sam": ("samordnare", ()),
    "rut": ("revisor", ()),
    "adam": ("admin", ()),
}


def night_findings(night: int) -> list[dict]:
    """The findings of night 1 or 2: night 2 adds one for each unit (new since last night)."""
    found = [
        finding("K1", "mandatory-attendance", event="e1", meeting="M1", unit=OWN, due="2025-02-20",
                days_late=12, business_days_late=8),
        finding("K1", "invitation-notice", event="e2", meeting="M2", unit=OWN, status="warning",
                due="2025-03-12", days_late=-7, business_days_late=-5),
        finding("K2", "meeting-within-30-days", event="e5", meeting=None, unit=OTHER, due="2025-01-15",
                days_late=47, business_days_late=33),
        finding("K1", "mandatory-attendance", event="e1", meeting="M1", unit=OTHER, due="2025-02-20",
                days_late=12, business_days_late=8),
        finding('K"3<b>', "mandatory-attendance", event="e9", meeting="M9", unit=HOSTILE, due="2025-02-01"),
    ]
    if night == 2:
        found += [finding("K4", "meeting-within-30-days", event="e7", meeting=None, unit=OWN, due="2025-03-01",
                          days_late=3, business_days_late=2),
                  finding("K5", "meeting-within-30-days", event="e8", meeting=None, unit=OTHER, due="2025-03-01",
                          days_late=3, business_days_late=2)]
    for f in found:
        f["title"] = {"mandatory-attendance": "Kallade aktörer deltar", "invitation-notice": "Kallelse i tid",
                      "meeting-within-30-days": "SIP-möte inom 30 dagar"}[f["rule"]]
    return found


def case_details(found: list[dict]):
    """What a scan keeps of each case (schema 0004): its summary and the events its
    findings cite, with a unit, a time and an invitation's recipient."""
    from compliance.state.evidence import CaseDetails
    types = {"e1": "meeting.held", "e2": "meeting.scheduled", "e5": "sip.initiated", "e7": "sip.initiated",
             "e8": "sip.initiated", "e9": "invitation.sent"}
    cases = sorted({f["case"] for f in found})
    for case in cases:
        events = sorted({e for f in found if f["case"] == case for e in f["evidence"]})
        rows = [{"id": e, "case": case, "type": types[e], "date": "2025-01-10", "time": "09:30",
                 "unit": OTHER, "meeting": None, "to": OWN if types[e] == "invitation.sent" else None,
                 "kind": None, "planned": None} for e in events]
        summary = {"case": case, "initiator": OTHER, "gender": "female", "opened": "2025-01-02",
                   "sip_processes": [], "meetings": [], "bus_individ_requests": []}
        yield CaseDetails(case, summary, rows)


def fill_store(url: str) -> None:
    from compliance.state import add_user, open_store, recording
    from compliance.web.passwords import hash_password
    store = open_store(url, create=True)
    try:
        for night, day in ((1, "2025-03-03"), (2, "2025-03-04")):
            with recording(store, run_info(day)) as rec:
                rec.add_findings(night_findings(night))
                rec.put_case_details(case_details(night_findings(night)))
                rec.finish()
        hashed = hash_password(PASSWORD)
        for name, (role, units) in USERS.items():
            add_user(store, name, role, units, password_hash=hashed)
    finally:
        store.close()


def ids() -> dict[str, str]:
    """Finding ids by a short name: own/other (violations), own_warning, own_new, other_new, hostile."""
    f = {(x["case"], x["rule"], x["unit"]): x["id"] for x in night_findings(2)}
    return {"own": f[("K1", "mandatory-attendance", OWN)], "other": f[("K1", "mandatory-attendance", OTHER)],
            "own_warning": f[("K1", "invitation-notice", OWN)], "other_only": f[("K2", "meeting-within-30-days", OTHER)],
            "own_new": f[("K4", "meeting-within-30-days", OWN)], "other_new": f[("K5", "meeting-within-30-days", OTHER)],
            "hostile": f[('K"3<b>', "mandatory-attendance", HOSTILE)]}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf_token in the page"
    return m.group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    """Sign in through the form, as a browser would; returns the response to the post."""
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


@pytest.fixture
def filled_url(store_url) -> str:
    fill_store(store_url)
    return store_url
