"""What the review app's pages and downloads show (SQLite and PostgreSQL): the list's
filters, counts and pages; a finding with its cited source, deadline arithmetic,
evidence and history; the drafts, unit lists and overview as `compliance report` makes
them; a case as it stood on a day."""

from __future__ import annotations

import io
import re

import lxml.html
import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from starlette.testclient import TestClient

from compliance.state import open_store, recording
from compliance.web.app import WebConfig, create_app
from compliance.web.listing import MAX_DUE_WITHIN, PAGE_SIZE, ListFilter
from state_support import finding, run_info
from web_support import OTHER, OWN, csrf_of, filled_url, ids, new_store_url, sign_in, store_url  # noqa: F401


def _rows(html: str) -> list[list[str]]:
    tree = lxml.html.fromstring(html)
    return [[c.text_content().strip() for c in tr.xpath("td")] for tr in tree.xpath("//table[@class='lista']/tbody/tr")]


@pytest.fixture
def client(filled_url, tmp_path):
    units = tmp_path / "units.toml"
    units.write_text(f'[[unit]]\nid = "{OWN}"\nname = "BUP Farsta"\nmanager = "Eva Ek"\n\n'
                     f'[[unit]]\nid = "{OTHER}"\nname = "Skola Syd"\n', encoding="utf-8")
    with TestClient(create_app(WebConfig(state=filled_url, units_path=units))) as c:
        yield c


def test_the_list_filters_counts_and_orders(client):
    found = ids()
    sign_in(client, "sam")
    rows = _rows(client.get("/").text)
    assert [r[0] for r in rows] == [found["own_warning"], found["own_new"], found["other_new"], found["own"],
                                    found["other"], found["hostile"], found["other_only"]]   # newest due first
    assert rows[0][1:] == ["K1", "Kallelse i tid", "BUP Farsta", "2025-03-12", "om 5", "Varning", "öppen", ""]
    assert rows[1][-1] == "Ny" and rows[3][4:6] == ["2025-02-20", "8"]
    page = client.get("/").text
    counts = dict(re.findall(r'>([^<>]+)</a>: <span class="antal">(\d+)</span>', page))
    assert counts == {"Kallade aktörer deltar": "3", "SIP-möte inom 30 dagar": "3", "Kallelse i tid": "1"}
    only = lambda q: [r[0] for r in _rows(client.get("/?" + q).text)]  # noqa: E731
    assert only("regel=invitation-notice") == [found["own_warning"]]
    assert only("status=warning") == [found["own_warning"]]
    assert only("ny=1") == [found["own_new"], found["other_new"]]
    assert only(f"enhet={OTHER}&regel=meeting-within-30-days") == [found["other_new"], found["other_only"]]
    # due within N business days of the newest run's as-of date (2025-03-04): the warning is due 03-12
    assert only("inom=5") == []
    assert only("inom=6") == [found["own_warning"]]
    # counts follow the other filters, not the rule's
    assert re.findall(r'<span class="antal">(\d+)</span>', client.get("/?ny=1&regel=mandatory-attendance").text) == ["2"]
    # nonsense in the query string is ignored, not an error
    assert client.get("/?inom=-3&sida=x&status=<b>&granskning=?").status_code == 200


def test_the_open_list_drops_what_was_decided_and_marks_decisions_before_a_change(client, filled_url):
    found = ids()
    sign_in(client, "anna")
    token = csrf_of(client.get("/").text)
    client.post(f"/findings/{found['own']}/decision", data={"decision": "justified", "reason": "Flyttat", "csrf_token": token})
    client.post(f"/findings/{found['own_new']}/decision", data={"decision": "acknowledged", "csrf_token": token})
    rows = {r[0]: r for r in _rows(client.get("/").text)}
    assert found["own"] not in rows and rows[found["own_new"]][-2] == "kvitterad"
    assert {r[0]: r[-2] for r in _rows(client.get("/?granskning=present").text)}[found["own"]] == "motiverad"
    # the next night the acknowledged finding becomes due later: the decision no longer holds
    moved = [dict(f) for f in __import__("web_support").night_findings(2)]
    for f in moved:
        if f["id"] == found["own_new"]:
            f["due"] = "2025-03-03"
    with open_store(filled_url) as store, recording(store, run_info("2025-03-05")) as rec:
        rec.add_findings(moved)
        rec.finish()
    row = {r[0]: r for r in _rows(client.get("/").text)}[found["own_new"]]
    assert row[-2] == "öppen *"
    page = client.get(f"/findings/{found['own_new']}").text
    assert "[beslut före ändring]" in page and "förfaller 2025-03-01 → 2025-03-03" in page


def test_many_findings_come_in_pages(store_url):
    from compliance.state import add_user
    from compliance.web.passwords import hash_password
    many = [finding(f"K{n:04d}", unit=OWN, event=f"e{n}", due=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}")
            for n in range(PAGE_SIZE * 2 + 5)]
    with open_store(store_url, create=True) as store:
        with recording(store, run_info("2025-12-31")) as rec:
            rec.add_findings(many)
            rec.finish()
        add_user(store, "anna", "enhetschef", [OWN], password_hash=hash_password("rätt-lösenord-42"))
    with TestClient(create_app(WebConfig(state=store_url))) as client:
        sign_in(client, "anna")
        pages = [_rows(client.get(f"/?sida={n}").text) for n in (1, 2, 3)]
        assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 5]
        seen = [r[0] for p in pages for r in p]
        assert sorted(seen) == sorted(f["id"] for f in many)
        dues = [r[4] for p in pages for r in p]
        assert dues == sorted(dues, reverse=True)
        last = client.get("/?sida=99").text
        assert "sida 3 av 3" in last and 'rel="next"' not in last and 'rel="prev"' in last


@given(st.dictionaries(st.sampled_from(["regel", "status", "granskning", "ny", "inom", "enhet", "sida", "x"]),
                       st.text(max_size=30)))
def test_any_query_string_makes_a_sensible_filter(query):
    flt = ListFilter.from_query(query)
    assert flt.review in ("open", "present", "all") and flt.status in (None, "violation", "warning")
    assert flt.page >= 1 and (flt.due_within is None or 0 <= flt.due_within <= MAX_DUE_WITHIN)
    assert ListFilter.from_query(flt.query()) == flt            # links keep the filter


def test_a_finding_shows_its_source_arithmetic_evidence_and_history(client, filled_url):
    found = ids()
    sign_in(client, "anna")
    page = client.get(f"/findings/{found['own']}").text
    tree = lxml.html.fromstring(page)
    text = tree.text_content()
    assert "Samtliga aktörer som blir kallade till SIP är enligt lag skyldiga att komma till mötet" in text
    assert "Lokal överenskommelse BUS Skarpnäck" in text            # the manifest-style citation
    assert "12 dagar (8 vardagar)" in text and "BUP Farsta (bup-farsta)" in text
    timeline = [[c.text_content().strip() for c in tr.xpath("td")]
                for tr in tree.xpath("//section[h2[@id='underlag']]//tbody/tr")]
    assert timeline == [["2025-01-10", "09:30", "Möte genomfört", "Skola Syd", "", "e1"]]
    assert "Körning 1 (bedömningsdag 2025-03-03): ny" in text
    # a computed deadline is shown as the replay shows it
    with open_store(filled_url) as store, recording(store, run_info("2025-03-05")) as rec:
        night = __import__("web_support").night_findings(2)
        for f in night:
            if f["id"] == found["own_new"]:
                f["basis"] = {"from": "2025-01-30", "days": 30, "roll": "forward"}
        rec.add_findings(night)
        rec.finish()
    page = client.get(f"/findings/{found['own_new']}").text
    assert "2025-01-30 + 30 dagar = 2025-03-01, lördag; 2025-03-02 söndag → måndag 2025-03-03" in page


def test_drafts_lists_and_overview_are_the_reports(client):
    found = ids()
    sign_in(client, "anna")
    draft = client.get(f"/findings/{found['own']}/draft.docx")
    assert draft.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert 'filename="K1__bup-farsta.docx"' in draft.headers["content-disposition"]
    doc = Document(io.BytesIO(draft.content))
    words = "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert "K1" in words and "BUP Farsta" in words and "Eva Ek" in words and "Skola Syd" in words
    assert "Kallade aktörer deltar" in words and "Möte genomfört" in words
    read = client.get(f"/findings/{found['own']}/draft").text
    # no reporting unit in this store: an internal draft, as its file name K1__bup-farsta says
    assert "# Intern avvikelse (utkast)" in read and "Eva Ek" in read
    assert client.get(f"/findings/{found['own_warning']}/draft").status_code == 404    # a warning: no draft

    book = load_workbook(io.BytesIO(client.get(f"/units/{OWN}.xlsx").content))
    sheet = book.worksheets[0]
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "BUP Farsta (bup-farsta): avvikelser och varningar" in values
    assert {found["own"], found["own_warning"], found["own_new"]} <= set(values)
    assert not {found["other"], found["other_new"]} & set(values)
    csv = client.get(f"/units/{OWN}.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and found["own"].encode() in csv.content

    sign_in(client, "sam")
    overview = client.get("/overview").text
    assert "Översikt för BUS-styrgruppen" in overview and "BUP Farsta" in overview and "Skola Syd" in overview
    assert "<script" not in overview


def test_a_case_as_it_stood_on_a_day(client, filled_url):
    found = ids()
    sign_in(client, "anna")
    token = csrf_of(client.get("/").text)
    client.post(f"/findings/{found['own']}/decision", data={"decision": "acknowledged", "csrf_token": token})
    sign_in(client, "rut")
    text = lambda url: lxml.html.fromstring(client.get(url).text).text_content()  # noqa: E731
    today = text("/audit/cases/K1")
    assert found["own"] in today and found["other"] in today and "Beslut av anna" in today
    before = text("/audit/cases/K1?per=2025-03-03")
    assert "Körning 1" in before and "Körning 2" not in before and "Beslut av anna" not in before
    assert "Det tillståndet visste vid dagens slut 3 mars 2025" in before
    assert text("/audit/cases/K4?per=2025-03-03").count("Körning") == 0     # not yet seen then
    assert client.get("/audit?arende=K1", follow_redirects=False).headers["location"] == "/audit/cases/K1"
