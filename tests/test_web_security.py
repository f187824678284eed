"""The review app's defences over HTTP: CSRF tokens, the sign-in attempt limit, session
cookies, security headers, escaping, personal numbers in a reason, the SSO header, and
the audit trail of sign-ins and decisions (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from compliance.privacy import contains_personal_number
from compliance.state import get_finding, open_store, sign_in_history
from compliance.state.review import finding_history
from compliance.web.app import WebConfig, create_app
from compliance.web.limits import AttemptLimit
from compliance.web.sessions import Sessions
from web_support import (HOSTILE, PASSWORD, csrf_of, filled_url, ids, new_store_url, sign_in,  # noqa: F401
                         store_url)


def _client(url: str, **kw) -> TestClient:
    return TestClient(create_app(WebConfig(state=url, **kw)))


def _decisions(url: str, finding_id: str) -> list:
    with open_store(url) as store:
        return [d for d, _ in finding_history(store, finding_id).decisions]


# --- CSRF ---------------------------------------------------------------------------------

def test_a_change_without_a_valid_csrf_token_is_refused_and_nothing_is_stored(filled_url):
    own = ids()["own"]
    with _client(filled_url) as client, _client(filled_url) as intruder:
        sign_in(client, "anna")
        sign_in(intruder, "anna")
        someone_elses = csrf_of(intruder.get("/").text)        # anna's other session's token
        for token in (None, "", "x" * 43, someone_elses):
            data = {"decision": "acknowledged"}
            if token is not None:
                data["csrf_token"] = token
            answer = client.post(f"/findings/{own}/decision", data=data, follow_redirects=False)
            assert answer.status_code == 403, token
            assert "CSRF" in answer.text
        assert _decisions(filled_url, own) == []
        good = csrf_of(client.get("/").text)
        answer = client.post(f"/findings/{own}/decision", data={"decision": "acknowledged", "csrf_token": good},
                             follow_redirects=False)
        assert answer.status_code == 303
        assert [d.decision for d in _decisions(filled_url, own)] == ["acknowledged"]
        # signing out needs the token too
        assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 200


def test_the_sign_in_form_needs_its_own_token(filled_url):
    with _client(filled_url) as client:
        client.get("/login")
        answer = client.post("/login", data={"username": "anna", "password": PASSWORD}, follow_redirects=False)
        assert answer.status_code == 403
    with _client(filled_url) as client:         # a token without the cookie it belongs to
        token = csrf_of(client.get("/login").text)
        client.cookies.clear()
        answer = client.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token},
                             follow_redirects=False)
        assert answer.status_code == 403
    with open_store(filled_url) as store:
        assert sign_in_history(store) == []      # no attempt was even made


# --- the attempt limit ----------------------------------------------------------------------

def test_repeated_failures_lock_the_user_out_for_a_while(filled_url):
    with _client(filled_url) as client:
        for _ in range(5):
            assert sign_in(client, "anna", "fel-lösenord").status_code == 401
        locked = sign_in(client, "anna")                       # even the right password
        assert locked.status_code == 429
        assert 60 < int(locked.headers["retry-after"]) <= 15 * 60 + 1
        assert "För många misslyckade inloggningar" in locked.text
        assert client.get("/", follow_redirects=False).status_code == 303   # not signed in
        assert sign_in(client, "bo").status_code == 303        # another user from the address is not
    with open_store(filled_url) as store:
        trail = sign_in_history(store, "anna")
    assert [s.success for s in trail] == [False] * 6
    assert all(s.address == "testclient" for s in trail)


def test_the_lock_ends_after_the_window_and_a_success_forgives(filled_url):
    limit = AttemptLimit(per_user=3, per_address=5, window=600)
    from compliance.state import record_sign_in
    now = dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.timezone.utc)
    with open_store(filled_url) as store:
        for minute in (0, 1, 2):
            record_sign_in(store, "anna", "10.0.0.1", False, at=now + dt.timedelta(minutes=minute))
        assert limit.blocked(store, "anna", None, now=now + dt.timedelta(minutes=3)) == pytest.approx(420)
        assert limit.blocked(store, "anna", None, now=now + dt.timedelta(minutes=10, seconds=1)) == 0
        record_sign_in(store, "bo", "10.0.0.1", True, at=now + dt.timedelta(minutes=3))
        record_sign_in(store, "bo", "10.0.0.1", False, at=now + dt.timedelta(minutes=3, seconds=1))
        record_sign_in(store, "bo", "10.0.0.1", False, at=now + dt.timedelta(minutes=3, seconds=2))
        assert limit.blocked(store, "bo", None, now=now + dt.timedelta(minutes=4)) == 0
        # the address: five failures of anyone from it
        assert limit.blocked(store, "ny", "10.0.0.1", now=now + dt.timedelta(minutes=4)) > 0
        assert limit.blocked(store, "ny", "10.0.0.2", now=now + dt.timedelta(minutes=4)) == 0
        record_sign_in(store, "anna", "10.0.0.9", True, at=now + dt.timedelta(minutes=4))
        assert limit.blocked(store, "anna", None, now=now + dt.timedelta(minutes=5)) == 0


# --- sessions -------------------------------------------------------------------------------

def test_session_cookie_is_signed_httponly_lax_and_secure_over_https(filled_url):
    with _client(filled_url) as client:
        cookie = sign_in(client, "anna").headers["set-cookie"]
        session = cookie.split(",")[0]
        assert re.search(r"granskning=[^;]+; HttpOnly; Max-Age=28800; Path=/; SameSite=lax", session)
        assert "Secure" not in session
        forged = client.cookies["granskning"][:-3] + "abc"
        client.cookies.clear()
        client.cookies.set("granskning", forged)
        assert client.get("/", follow_redirects=False).status_code == 303
    app = create_app(WebConfig(state=filled_url))
    with TestClient(app, base_url="https://granskning.example") as client:
        session = sign_in(client, "anna").headers["set-cookie"].split(",")[0]
        assert "; Secure" in session


def test_signing_out_ends_the_session_on_the_server(filled_url):
    with _client(filled_url) as client:
        sign_in(client, "anna")
        stolen = client.cookies["granskning"]
        answer = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        client.cookies.clear()
        client.cookies.set("granskning", stolen)
        assert client.get("/", follow_redirects=False).status_code == 303


def test_sessions_expire(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("compliance.web.sessions.time.monotonic", lambda: clock[0])
    sessions = Sessions(b"k" * 32, max_age=3600, idle=600)
    s, cookie = sessions.start("anna", "10.0.0.1")
    clock[0] += 599
    assert sessions.find(cookie) is s
    clock[0] += 601                                   # idle too long
    assert sessions.find(cookie) is None
    s, cookie = sessions.start("anna", "10.0.0.1")
    for _ in range(7):                                # busy, but past the absolute limit
        clock[0] += 550
    assert sessions.find(cookie) is None


# --- headers ------------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(filled_url):
    with _client(filled_url) as client:
        answers = [client.get("/login"), client.get("/", follow_redirects=False), client.get("/static/app.css"),
                   client.get("/static/app.js"), client.get("/finns-inte"), sign_in(client, "rut"),
                   client.get("/"), client.get(f"/findings/{ids()['own']}"), client.get("/overview"),
                   client.post("/logout", data={}, follow_redirects=False)]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in answers[6].headers["content-security-policy"]
    assert "script-src 'none'" in answers[8].headers["content-security-policy"]     # the overview
    assert answers[6].headers["cache-control"] == "no-store"
    for answer in answers[6:8]:
        assert "<script>" not in answer.text and "onclick" not in answer.text
        assert re.findall(r"<script[^>]*>", answer.text) == ['<script src="/static/app.js" defer>']


# --- escaping and personal numbers ----------------------------------------------------------

def test_hostile_ids_unit_names_and_reasons_show_as_text(filled_url):
    hostile = ids()["hostile"]
    with _client(filled_url) as client:
        sign_in(client, "rut")
        pages = [client.get("/").text, client.get(f"/findings/{hostile}").text,
                 client.get("/audit/cases/" + 'K"3<b>').text]
        assert HOSTILE in lxml.html.fromstring(pages[1]).text_content()     # the unit, as text
        for page in pages:
            assert HOSTILE not in page and 'K"3<b>' not in page and "<script>alert" not in page
            tree = lxml.html.fromstring(page)
            assert not tree.xpath("//script[not(@src)]") and not tree.xpath("//b")
            assert 'K"3<b>' in tree.text_content()
    with _client(filled_url) as client:
        sign_in(client, "anna")
        own = ids()["own"]
        reason = 'Mötet flyttades "akut" <script>alert(1)</script> & \'x\''
        client.post(f"/findings/{own}/decision",
                    data={"decision": "justified", "reason": reason, "csrf_token": csrf_of(client.get("/").text)})
        page = client.get(f"/findings/{own}").text
        assert "<script>alert(1)" not in page
        shown = lxml.html.fromstring(page).xpath("//q[@class='skal']")
        assert [q.text_content() for q in shown] == [reason]


def test_a_personal_number_in_the_reason_is_refused_and_nothing_is_stored(filled_url):
    own = ids()["own"]
    with _client(filled_url) as client:
        sign_in(client, "anna")
        answer = client.post(f"/findings/{own}/decision", data={
            "decision": "justified", "reason": "Gäller 20121212-1212, flyttat", "csrf_token": csrf_of(client.get("/").text)})
        assert answer.status_code == 400
        assert "personnummer" in answer.text and "inget sparades" in answer.text
        assert "20121212-1212" not in answer.text and "1212-1212" not in answer.text
        missing = client.post(f"/findings/{own}/decision", data={
            "decision": "justified", "reason": "  ", "csrf_token": csrf_of(client.get("/").text)})
        assert missing.status_code == 400 and "kräver ett skäl" in missing.text
        no_ref = client.post(f"/findings/{own}/decision", data={
            "decision": "deviation-filed", "csrf_token": csrf_of(client.get("/").text)})
        assert no_ref.status_code == 400 and "referens" in no_ref.text
        unknown = client.post(f"/findings/{own}/decision", data={
            "decision": "radera", "csrf_token": csrf_of(client.get("/").text)})
        assert unknown.status_code == 400
    assert _decisions(filled_url, own) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reason=st.text(min_size=1, max_size=80).filter(lambda t: t.strip() and not contains_personal_number(t)))
def test_any_reason_is_shown_exactly_as_written(signed_in_anna, reason):
    """Property: whatever a unit head writes (but a personal number) is stored as written
    and shown as that text, never as markup."""
    client, own = signed_in_anna
    expected = reason.strip()
    if any(ord(c) < 32 and c not in "\t\n\r" or 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" for c in expected):
        return                                    # characters no HTML form can carry
    answer = client.post(f"/findings/{own}/decision", data={
        "decision": "justified", "reason": reason, "csrf_token": csrf_of(client.get("/").text)})
    assert answer.status_code == 200
    shown = lxml.html.fromstring(answer.text).xpath("//q[@class='skal']")
    assert shown[-1].text_content().replace("\r\n", "\n") == expected.replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture
def signed_in_anna(tmp_path):
    from web_support import fill_store
    url = str(tmp_path / "prop.db")
    fill_store(url)
    with _client(url) as client:
        sign_in(client, "anna")
        yield client, ids()["own"]


# --- single sign-on -------------------------------------------------------------------------

def test_the_sso_header_is_accepted_only_from_the_trusted_proxy(filled_url):
    # TestClient's requests come from the address "testclient"
    with _client(filled_url, trusted_header="X-Remote-User", trusted_proxy="testclient") as client:
        page = client.get("/", headers={"X-Remote-User": "anna", "X-Forwarded-For": "10.1.2.3"})
        assert page.status_code == 200 and ids()["own"] in page.text
        assert 'action="/logout"' not in page.text
        assert client.get("/login").status_code == 404          # no passwords in this deployment
        token = csrf_of(client.get(f"/findings/{ids()['own']}", headers={"X-Remote-User": "anna"}).text)
        answer = client.post(f"/findings/{ids()['own']}/decision", data={"decision": "acknowledged", "csrf_token": token},
                             headers={"X-Remote-User": "anna"}, follow_redirects=False)
        assert answer.status_code == 303
        # the proxy now names someone else on the same browser: a new session, bo's rights
        assert client.get(f"/findings/{ids()['own']}", headers={"X-Remote-User": "bo"}).status_code == 404
        unknown = client.get("/", headers={"X-Remote-User": "mallory"})
        assert unknown.status_code == 403
    with _client(filled_url, trusted_header="X-Remote-User", trusted_proxy="10.9.9.9") as client:
        forged = client.get("/", headers={"X-Remote-User": "rut"})
        assert forged.status_code == 403 and ids()["own"] not in forged.text
    with open_store(filled_url) as store:
        trail = [(s.user_name, s.address, s.success) for s in reversed(sign_in_history(store))]
    assert trail == [("anna", "10.1.2.3", True), ("bo", "testclient", True), ("mallory", "testclient", False)]
    assert [d.from_address for d in _decisions(filled_url, ids()["own"])] == ["testclient"]


# --- the audit trail ------------------------------------------------------------------------

def test_auditors_see_every_sign_in_and_decision_with_who_when_and_where(filled_url):
    own = ids()["own"]
    with _client(filled_url) as client:
        sign_in(client, "anna", "fel-lösenord")
        sign_in(client, "anna")
        client.post(f"/findings/{own}/decision", data={
            "decision": "justified", "reason": "Flyttat på begäran", "csrf_token": csrf_of(client.get("/").text)})
    with _client(filled_url) as client:
        sign_in(client, "rut")
        page = lxml.html.fromstring(client.get("/audit").text)
        rows = [[c.text_content().strip() for c in tr.xpath("td")] for tr in page.xpath("//table//tr[td]")]
        assert any(r[1:5] == ["anna", "appen, testclient", "motiverad", own] for r in rows)
        assert [r[1:] for r in rows if len(r) == 4][:3] == [
            ["rut", "testclient", "lyckades"], ["anna", "testclient", "lyckades"], ["anna", "testclient", "misslyckades"]]
        history = client.get(f"/findings/{own}").text
        assert "Beslut av" in history and "från testclient" in history
    with open_store(filled_url) as store:
        made = finding_history(store, own).decisions[0][0]
        assert (made.by, made.source, made.from_address, made.reason) == ("anna", "web", "testclient", "Flyttat på begäran")
        assert get_finding(store, own).review.status == "justified"


def test_a_fault_is_a_swedish_page_with_the_headers_and_one_log_line(filled_url, monkeypatch, caplog):
    def broken(*args, **kw):
        raise RuntimeError("K1 20121212-1212")
    monkeypatch.setattr("compliance.web.app.finding_list", broken)
    with _client(filled_url) as client:
        sign_in(client, "anna")
        answer = client.get("/")
    assert answer.status_code == 500 and "Ett internt fel inträffade" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "RuntimeError" not in answer.text and "20121212" not in answer.text
    assert [r.getMessage() for r in caplog.records if r.name == "compliance.web"] == ["internt fel vid GET /: RuntimeError"]
