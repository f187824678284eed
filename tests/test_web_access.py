"""The review app's access rules as a matrix: every role × every route × own/other unit,
over HTTP against the real app and a real store (SQLite and PostgreSQL).

A unit head gets 404 for another unit's finding, draft, list or case, whatever the URL;
`samordnare` and `revisor` read everything and get 403 on a change; `admin` sees no case
data; nobody signed in is sent to the sign-in page (GET) or refused (POST).
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from compliance.web.app import WebConfig, create_app
from web_support import OTHER, OWN, USERS, csrf_of, filled_url, ids, new_store_url, sign_in, store_url  # noqa: F401

UNIT_OF = {"U1": OWN, "U2": OTHER}
CASE_OF = {"U1": "K4", "U2": "K2"}          # cases with findings for that unit only
FINDING_OF = {"U1": "own", "U2": "other"}   # K1's attendance finding, one for each unit

UNIT_ROUTES = [  # (name, method, path template)
    ("finding", "GET", "/findings/{id}"),
    ("draft", "GET", "/findings/{id}/draft"),
    ("draft.docx", "GET", "/findings/{id}/draft.docx"),
    ("decision", "POST", "/findings/{id}/decision"),
    ("unit.xlsx", "GET", "/units/{unit}.xlsx"),
    ("unit.csv", "GET", "/units/{unit}.csv"),
    ("case", "GET", "/audit/cases/{case}"),
]
PLAIN_ROUTES = [
    ("list", "GET", "/"),
    ("overview", "GET", "/overview"),
    ("audit", "GET", "/audit"),
    ("users", "GET", "/admin/users"),
    ("add user", "POST", "/admin/users"),
]
OWN_UNIT_OF = {"anna": "U1", "bo": "U2"}


def expected(user: str | None, route: str, unit: str | None) -> int:
    """The status the contract asks for."""
    if user is None:
        return 403 if route in ("decision", "add user") else 303       # to /login
    role = USERS[user][0]
    if unit is not None:                     # a unit's finding, draft, list or case
        if role == "admin":
            return 403
        if role == "enhetschef" and OWN_UNIT_OF[user] != unit:
            return 404
        if route == "decision":
            return 303 if role == "enhetschef" else 403
        return 200
    allowed = {"list": {"enhetschef", "samordnare", "revisor"}, "overview": {"samordnare", "revisor"},
               "audit": {"revisor"}, "users": {"admin"}, "add user": {"admin"}}[route]
    if route == "list" and role == "admin":
        return 303                            # to /admin/users
    if role not in allowed:
        return 403
    return 303 if route == "add user" else 200


def _request(client: TestClient, method: str, path: str, csrf: str | None, route: str):
    if method == "GET":
        return client.get(path, follow_redirects=False)
    data = {"csrf_token": csrf or ""}
    if route == "decision":
        data.update(decision="acknowledged")
    else:
        data.update(name="ny-användare", role="revisor", password="ett-långt-lösenord")
    return client.post(path, data=data, follow_redirects=False)


def observed(url: str, user: str | None) -> dict[tuple[str, str | None], int]:
    app = create_app(WebConfig(state=url))
    finding_ids = ids()
    table = {}
    with TestClient(app) as client:
        csrf = None
        if user is not None:
            assert sign_in(client, user).status_code == 303
            csrf = csrf_of(client.get("/audit/cases/K1").text) if USERS[user][0] != "admin" else \
                csrf_of(client.get("/admin/users").text)
        # reading first, then changing: a decision must not change what a read answers
        for routes in ([r for r in UNIT_ROUTES if r[1] == "GET"], [r for r in UNIT_ROUTES if r[1] == "POST"]):
            for name, method, template in routes:
                for unit in ("U1", "U2"):
                    path = template.format(id=finding_ids[FINDING_OF[unit]], unit=UNIT_OF[unit], case=CASE_OF[unit])
                    table[(name, unit)] = _request(client, method, path, csrf, name).status_code
        for name, method, path in PLAIN_ROUTES:
            table[(name, None)] = _request(client, method, path, csrf, name).status_code
    return table


@pytest.mark.parametrize("user", [None, *USERS])
def test_access_matrix(filled_url, user):
    got = observed(filled_url, user)
    want = {key: expected(user, *key) for key in got}
    wrong = {f"{route} {unit or ''}".strip(): f"got {got[(route, unit)]}, want {want[(route, unit)]}"
             for route, unit in got if got[(route, unit)] != want[(route, unit)]}
    assert not wrong, f"{user or 'anonymous'}: {wrong}"
    assert len(got) == len(UNIT_ROUTES) * 2 + len(PLAIN_ROUTES)


def test_a_unit_head_never_sees_another_units_data(filled_url):
    """Not in the list, not by filter, not in a shared case, not by guessing the id."""
    app = create_app(WebConfig(state=filled_url))
    found = ids()
    mine = {found["own"], found["own_warning"], found["own_new"]}
    theirs = {found["other"], found["other_only"], found["other_new"], found["hostile"]}
    with TestClient(app) as client:
        sign_in(client, "anna")
        pages = [client.get("/").text, client.get("/?granskning=all").text,
                 client.get(f"/?enhet={OTHER}").text, client.get("/audit/cases/K1").text]
        for page in pages:
            assert not any(fid in page for fid in theirs)
            assert OTHER not in page
        assert all(fid in pages[0] for fid in mine)
        assert found["own"] in pages[3]        # K1 has a finding for each unit: only hers shows
        for fid in theirs:
            for suffix in ("", "/draft", "/draft.docx"):
                answer = client.get(f"/findings/{fid}{suffix}")
                assert answer.status_code == 404 and fid not in answer.text
        unknown = client.get("/findings/0123456789abcdef")
        other = client.get(f"/findings/{found['other']}")
        assert unknown.status_code == other.status_code == 404
        assert unknown.text == other.text        # a guess tells nothing
        assert client.get("/units/nowhere.xlsx").status_code == 404
        assert client.get("/audit/cases/K5").status_code == 404


def test_a_disabled_user_is_signed_out_at_once(filled_url):
    from compliance.state import disable_user, open_store
    app = create_app(WebConfig(state=filled_url))
    with TestClient(app) as client:
        sign_in(client, "anna")
        assert client.get("/").status_code == 200
        with open_store(filled_url) as store:
            disable_user(store, "anna")
        assert client.get("/", follow_redirects=False).status_code == 403
        assert sign_in(client, "anna").status_code == 401


def test_unknown_routes_and_methods_are_swedish_pages(filled_url):
    app = create_app(WebConfig(state=filled_url))
    with TestClient(app) as client:
        missing = client.get("/finns-inte")
        assert missing.status_code == 404 and "Sidan finns inte" in missing.text
        wrong = client.put("/login")
        assert wrong.status_code == 405 and "Metoden stöds inte" in wrong.text
