"""Deviation drafts (deviations.md, issue 14): addressed as the agreement says, read
truthfully, the same in Markdown and Word, written under names that never collide."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.deviations import (DraftWriteError, Routing, case_drafts, citation, run_date,
                                   write_drafts)
from compliance.escaping import BIDI_CONTROLS, display_text, draft_stem, md_text, unit_stem
from compliance.scan import run_scan
from compliance.units import Unit, load_units

from helpers import ROOT, docx_text, ev

FIXTURES = ROOT / "fixtures"
SMALL = Path(__file__).parent / "data" / "scan_small"
WRITTEN = dt.date(2026, 1, 7)


@pytest.fixture(scope="module")
def fixture_scan(tmp_path_factory) -> Path:
    """The shipped fixtures scanned as the README does (as-of 2025-12-31)."""
    out = tmp_path_factory.mktemp("fx") / "scan"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLIANCE_RUN_DATE", WRITTEN.isoformat())
        run_scan([FIXTURES / "log"], dt.date(2025, 12, 31), units_path=FIXTURES / "units.toml",
                 out_dir=out, workers=1)
    return out


@pytest.fixture(scope="module")
def fixture_drafts(fixture_scan, tmp_path_factory) -> Path:
    """The same scan's drafts in Markdown and Word, written by write_drafts."""
    out = tmp_path_factory.mktemp("fxd")
    write_drafts(fixture_scan, load_units(FIXTURES / "units.toml"), WRITTEN, workers=2, out_dir=out)
    return out / "deviations"


def md_drafts(folder: Path, case: str) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md"))
            if p.name.split("__")[0].split("~")[0] == case}


# ---------------------------------------------------------------- routing (deviations.md)

UNITS = {u: Unit(u, u.upper()) for u in ("soc", "bup", "skola", "hab")}   # the register's order

MEETINGS = [
    {"meeting": "M1", "kind": "sip", "convener": "soc", "invited": ["guardian", "skola", "bup"]},
    {"meeting": "M2", "kind": "sip_followup", "convener": "bup", "invited": ["hab", "child"]},
    {"meeting": "B1", "kind": "bus_individ", "convener": "skola", "invited": ["soc"]},
    {"meeting": "B2", "kind": "bus_individ", "convener": "hab", "invited": []},
]
EVIDENCE = [
    {"id": "i-bup", "type": "invitation.sent", "unit": "soc", "meeting": "M1", "to": "bup"},
    {"id": "i-guardian", "type": "invitation.sent", "unit": "soc", "meeting": "M1", "to": "guardian"},
    {"id": "i-child", "type": "invitation.sent", "unit": "bup", "meeting": "M2", "to": "child"},
    {"id": "i-self", "type": "invitation.sent", "unit": "soc", "meeting": "M1", "to": "soc"},
]
SHIPPED = [{"id": r, "draft": d} for r, d in [
    ("mandatory-attendance", {"affected": "meeting-convener", "kinds": []}),
    ("invitation-notice", {"affected": "invitation-recipient", "kinds": []}),
    ("meeting-within-30-days", {"affected": "case-invited-units", "kinds": ["sip", "sip_followup"]}),
    ("consent-before-meeting", {"affected": "none", "kinds": []}),
    ("sip-before-bus-individ", {"affected": "meeting-convener", "kinds": []}),
]]


@pytest.mark.parametrize("rule, unit, event, meeting, meetings, reporting", [
    # the absent unit (B) failed the meeting's convener (A)
    ("mandatory-attendance", "bup", "e", "M1", MEETINGS, "soc"),
    ("mandatory-attendance", "hab", "e", "M2", MEETINGS, "bup"),
    ("mandatory-attendance", "soc", "e", "M1", MEETINGS, None),         # the convener itself
    ("mandatory-attendance", "bup", "e", "M9", MEETINGS, None),         # convener unknown
    # the sender (B) failed the invited unit (A); guardian and child are not units: intern
    ("invitation-notice", "soc", "i-bup", "M1", MEETINGS, "bup"),
    ("invitation-notice", "soc", "i-guardian", "M1", MEETINGS, None),
    ("invitation-notice", "bup", "i-child", "M2", MEETINGS, None),
    ("invitation-notice", "soc", "i-self", "M1", MEETINGS, None),
    # the clock's unit (B) failed the first other unit invited to the SIP meetings, in the
    # register's order (bup before skola), guardians and BUS-individ meetings not counted
    ("meeting-within-30-days", "soc", "c", None, MEETINGS, "bup"),
    ("meeting-within-30-days", "bup", "c", None, MEETINGS, "skola"),
    ("meeting-within-30-days", "soc", "c", None, MEETINGS[2:], None),
    ("meeting-within-30-days", "soc", "c", None, [], None),
    ("meeting-within-30-days", "soc", "c", None,
     [{"meeting": "M1", "kind": "sip", "convener": "soc", "invited": ["vc-okand", "guardian"]}], "vc-okand"),
    # the convener's own duty
    ("consent-before-meeting", "soc", "m", "M1", MEETINGS, None),
    # the requesting unit (B) failed the BUS-individ meeting's convener (A), if another unit
    ("sip-before-bus-individ", "soc", "r", "B1", MEETINGS, "skola"),
    ("sip-before-bus-individ", "skola", "r", "B1", MEETINGS, None),
    ("sip-before-bus-individ", "soc", "r", None, MEETINGS, None),
])
def test_routing_per_rule(rule, unit, event, meeting, meetings, reporting):
    routing = Routing(SHIPPED, UNITS)
    finding = {"rule": rule, "unit": unit, "event": event, "meeting": meeting}
    events = {e["id"]: e for e in EVIDENCE}
    assert routing.reporting_unit(finding, {"meetings": meetings}, events) == reporting


def test_routing_of_an_older_scan_follows_the_shipped_rules():
    routing = Routing([{"id": "mandatory-attendance"}], UNITS)       # no `draft` recorded
    finding = {"rule": "mandatory-attendance", "unit": "bup", "event": "e", "meeting": "M1"}
    assert routing.reporting_unit(finding, {"meetings": MEETINGS}, {}) == "soc"


def test_one_draft_per_receiving_and_reporting_unit_and_kind(fixture_scan):
    """F11b: soc-skarpnack invited BUP Globen and the guardian too late: one draft from BUP
    Globen to soc-skarpnack, and an internal one for the guardian's invitation."""
    drafts = md_drafts(fixture_scan / "deviations", "F11b")
    assert sorted(drafts) == [f"{draft_stem('F11b', 'soc-skarpnack', 'bup-globen')}.md",
                              f"{draft_stem('F11b', 'soc-skarpnack')}.md"]
    samverkan = drafts[f"{draft_stem('F11b', 'soc-skarpnack', 'bup-globen')}.md"]
    intern = drafts[f"{draft_stem('F11b', 'soc-skarpnack')}.md"]
    assert "| **Rapporterande verksamhet (A)** | BUP Globen |" in samverkan
    assert "| **Mottagande verksamhet (B)** | Socialtjänsten Skarpnäck, familjeenheten |" in samverkan
    assert "- Kallelsen gick till: BUP Globen" in samverkan and "Vårdnadshavare" not in samverkan
    assert "# Intern avvikelse (utkast)" in intern
    assert "- Kallelsen gick till: Vårdnadshavare" in intern and "BUP Globen" not in intern
    assert "Kopia till" not in intern and "Kopia till" in samverkan


def test_no_draft_is_addressed_from_a_unit_to_itself(fixture_scan):
    for path in (fixture_scan / "deviations").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        a = re.search(r"\| \*\*Rapporterande verksamhet \(A\)\*\* \| (.*) \|", text).group(1)
        b = re.search(r"\| \*\*Mottagande verksamhet \(B\)\*\* \| (.*) \|", text).group(1)
        assert ("# Intern avvikelse" in text) == (a == b), path.name
        assert "(fylls i)" not in a


def test_the_scan_and_write_drafts_write_the_same_markdown(fixture_scan, fixture_drafts):
    scanned = {p.name: p.read_bytes() for p in (fixture_scan / "deviations").glob("*.md")}
    written = {p.name: p.read_bytes() for p in fixture_drafts.glob("*.md")}
    assert scanned == written and len(written) == 24


# ---------------------------------------------------------------- what misled readers

def test_bullets_each_on_their_own_line(fixture_scan):
    for path in (fixture_scan / "deviations").glob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not re.search(r"\S- (Försening|Möte|Regel|Skickades|Hölls)", line), (path.name, line)
            if "Försening:" in line:
                assert line.startswith("- Försening: "), (path.name, line)


def test_an_absence_reads_as_an_absence(fixture_scan):
    texts = [p.read_text(encoding="utf-8") for p in (fixture_scan / "deviations").glob("*.md")]
    absences = [t for t in texts if "Kallade aktörer deltar i SIP-mötet" in t]
    assert len(absences) >= 3
    for text in absences:
        item = text[text.index("Kallade aktörer deltar i SIP-mötet"):]
        item = item[:item.index("\n> ")]
        assert re.search(r"^- Kallad verksamhet: \w", item, re.M)
        assert re.search(r"^- Kallelsen skickades: \d+ \w+ \d{4}$", item, re.M)
        assert re.search(r"^- Mötet hölls: \d+ \w+ \d{4}$", item, re.M)
        assert "- Deltog: nej: verksamheten var kallad men uteblev från mötet" in item
        assert "Försening" not in item and "samma dag" not in item and "Skedde" not in item


@pytest.mark.parametrize("actual, lines", [
    ("2025-03-03", [("Dag", "3 mars 2025")]),
    ("2025-03-05", [("Skulle ha skett senast", "3 mars 2025"), ("Skedde", "5 mars 2025"),
                    ("Försening", "2 dagar (2 vardagar)")]),
    (None, [("Skulle ha skett senast", "3 mars 2025"), ("Skedde", "har inte skett (till 31 december 2025)"),
            ("Försening", "303 dagar (209 vardagar) hittills (till 31 december 2025)")]),
])
def test_a_rule_without_lines_of_its_own_never_reads_as_on_time(actual, lines):
    late = {"2025-03-03": (0, 0), "2025-03-05": (2, 2), None: (303, 209)}[actual]
    findings = [{"id": "0123456789abcdef", "rule": "plan-content", "case": "K1", "status": "violation",
                 "unit": "soc", "meeting": None, "event": "e", "due": "2025-03-03", "actual": actual,
                 "days_late": late[0], "business_days_late": late[1], "evidence": [], "message": "m"}]
    draft = case_drafts(findings, [], None, Routing(SHIPPED, UNITS), UNITS, {}, {}, WRITTEN, "2025-12-31")[0]
    assert [(f["label"], f["value"]) for f in draft["items"][0]["facts"]] == lines


def test_the_attendance_message_names_no_unit_id_and_says_the_day_is_the_meeting(fixture_scan):
    findings = [json.loads(x) for x in (fixture_scan / "findings.jsonl").read_text().splitlines()]
    absent = [f for f in findings if f["rule"] == "mandatory-attendance"]
    assert absent
    for f in absent:
        assert f["unit"] not in f["message"]
        assert re.fullmatch(r"Verksamheten var kallad till möte \S+, som hölls \d+ \w+ \d{4}, men deltog inte\.",
                            f["message"]), f["message"]


def test_a_passed_deadline_is_told_in_the_past_tense(scan):
    lines = [ev("a1", "sip.initiated", "2025-11-20"), ev("a2", "consent.given", "2025-11-20")]
    passed = scan(lines, as_of="2025-12-31").findings
    assert [f["status"] for f in passed] == ["violation"]
    assert "det skulle ha hållits senast 22 december 2025" in passed[0]["message"]
    assert "ska hållas" not in passed[0]["message"]
    ahead = scan(lines, as_of="2025-12-18").findings     # a warning: the deadline is ahead
    assert "det ska hållas senast 22 december 2025" in ahead[0]["message"]


def test_an_invitation_whose_last_day_has_passed_is_not_told_as_ahead(scan):
    lines = [ev("b1", "meeting.scheduled", "2025-12-01", meeting="M1", kind="sip", date="2026-01-12")]
    got = scan(lines, as_of="2025-12-30").findings
    assert [f["status"] for f in got] == ["warning"]
    message = got[0]["message"]
    assert "sista vardag att skicka: 22 december 2025" in message     # 12 jan − 21 dagar
    assert " är 22 december" not in message


def test_the_draft_is_dated_the_day_it_was_written(fixture_scan, fixture_drafts):
    for folder in (fixture_scan / "deviations", fixture_drafts):
        for path in folder.glob("*.md"):
            text = path.read_text(encoding="utf-8")
            assert "| **Datum (utkastet skrivet)** | 7 januari 2026 |" in text
            assert "31 december 2025" not in text.split("## Vad som inte har uppfyllts")[0].replace(
                "(bedömd per 31 december 2025)", "")
    text = next(iter(md_drafts(fixture_drafts, "F19").values()))
    # each incident its own date
    assert "### 1. Kallelse senast tre veckor före SIP-mötet (29 december 2025)" in text
    assert "### 2. SIP-möte senast inom 30 dagar (29 december 2025)" in text


def test_run_date_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COMPLIANCE_RUN_DATE", "2026-02-03")
    assert run_date() == dt.date(2026, 2, 3)
    monkeypatch.setenv("COMPLIANCE_RUN_DATE", "3/2")
    with pytest.raises(ValueError, match="COMPLIANCE_RUN_DATE"):
        run_date()


def test_sources_are_cited_by_name_never_by_file(fixture_scan):
    for path in (fixture_scan / "deviations").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert ".txt" not in text and "källa:" not in text and "001_" not in text
        assert re.search(r"^> (— )?\S", text, re.M)
    absent = next(p.read_text(encoding="utf-8") for p in (fixture_scan / "deviations").glob("*.md")
                  if "Kallade aktörer deltar" in p.read_text(encoding="utf-8"))
    assert "> 2 kap. 7 § socialtjänstlagen (2001:453), i lydelse från 2010-01-01" in absent   # a law: no quote
    assert re.search(r"^> ”Samtliga aktörer som blir kallade till SIP.*”\n> — Lokal överenskommelse BUS "
                     r"Skarpnäck — Skarpnäcks stadsdelsförvaltning.*undertecknad 2018-04-17", absent, re.M)
    assert citation({"seed": "003_x.txt", "quote": "q"}).startswith("Överenskommelse om BUS, Nynäshamns kommun")
    assert citation({"seed": "001_x.txt", "citation": "BUS Skarpnäck — SDF, 2018-04-17, avsnitt 5"}) == \
        "BUS Skarpnäck — SDF, 2018-04-17, avsnitt 5"


def test_each_finding_shows_its_id_and_the_deadline_arithmetic():
    drafts = _small_drafts()
    draft = next(d for d in drafts if d["filename"] == "K-001__soc-test__från__bup-test")
    item = draft["items"][0]
    finding = next(json.loads(x) for x in (SMALL / "findings.jsonl").read_text(encoding="utf-8").splitlines()
                   if '"K-001"' in x and "meeting-within-30-days" in x)
    assert item["id"] == finding["id"]
    assert item["deadline"] == "2025-01-10 + 30 dagar = 2025-02-09, söndag → måndag 2025-02-10"
    without = next(d for d in drafts if d["filename"] == "K-006__soc-test")["items"][0]
    assert without["deadline"] == ""         # no basis recorded: due and actual as before
    assert {"label": "Skulle ha hållits senast", "value": "4 november 2024"} in without["facts"]


def test_a_planned_meeting_shows_its_planned_day():
    draft = next(d for d in _small_drafts() if d["filename"] == "K-001__soc-test__från__skola-test")
    assert draft["timeline"][0]["what"] == "Möte planerat (SIP) till 3 mars 2025"


def test_a_finding_id_is_shown_whole_even_with_ten_digits_in_a_row():
    findings = [{"id": "a381489512185712", "rule": "consent-before-meeting", "case": "K1",
                 "status": "violation", "unit": "soc", "due": "2025-03-03", "actual": "2025-03-03",
                 "evidence": [], "meeting": "M1", "message": "m"}]
    draft = case_drafts(findings, [], None, Routing(SHIPPED, UNITS), UNITS, {}, {}, WRITTEN, "2025-12-31")[0]
    assert md_text(draft["items"][0]["id"]) == "a381489512185712"
    assert display_text(draft["items"][0]["id"]) == "a381489512185712"


def _small_drafts(decisions=None) -> list[dict]:
    from compliance.reporting.contexts import deviation_contexts
    from compliance.reporting.scan_data import load_scan
    return deviation_contexts(load_scan(SMALL), *load_units(SMALL / "units.toml"), WRITTEN, decisions)


# ---------------------------------------------------------------- review decisions (state.md)

def test_decided_findings_get_no_draft_and_a_filed_deviation_is_named():
    plain = _small_drafts()
    k002 = next(d for d in plain if d["filename"] == "K-002__bup-test__från__soc-test")
    first, second = (i["id"] for i in k002["items"])
    decided = _small_drafts({first: {"decision": "deviation-filed", "reference": "AV-2025-07"},
                             "eb1df86f87574aea": "justified"})
    names = {d["filename"] for d in decided}
    assert "K-001__bup-test__från__soc-test" not in names       # its one finding justified
    k002 = next(d for d in decided if d["filename"] == "K-002__bup-test__från__soc-test")
    assert [i["id"] for i in k002["items"]] == [second]
    assert k002["filed"] == [{"reference": "AV-2025-07", "finding": first,
                              "title": "Alla kallade deltar i SIP-mötet"}]
    acknowledged = _small_drafts({first: "acknowledged"})
    assert len(acknowledged) == len(plain)


def test_write_drafts_names_a_filed_deviation(tmp_path):
    k002 = next(d for d in _small_drafts() if d["filename"] == "K-002__bup-test__från__soc-test")
    decisions = {k002["items"][0]["id"]: {"decision": "deviation-filed", "reference": "AV-2025-07"}}
    got = write_drafts(SMALL, load_units(SMALL / "units.toml"), WRITTEN, decisions=decisions,
                       workers=1, out_dir=tmp_path)
    assert got.withheld == 1 and got.drafts == 7
    md = (tmp_path / "deviations" / "K-002__bup-test__från__soc-test.md").read_text(encoding="utf-8")
    assert "**Redan anmäld avvikelse i ärendet:**" in md and "- AV-2025-07: Alla kallade" in md
    assert "Redan anmäld avvikelse i ärendet:" in docx_text(tmp_path / "deviations" / "K-002__bup-test__från__soc-test.docx")


# ---------------------------------------------------------------- Markdown and Word say the same

def _fields(draft: dict) -> list[str]:
    """What a reader must find in both formats."""
    out = [draft["case"], draft["kind_sv"], draft["date_sv"], draft["reporting_unit"]["name"],
           draft["reporting_unit"]["manager"], draft["receiving_unit"]["name"],
           draft["receiving_unit"]["manager"]]
    for item in draft["items"]:
        out += [item["id"], item["title"], item["date_sv"], item["message"], item["deadline"]]
        out += [f"{f['label']}: {f['value']}" for f in item["facts"]]
        out += [s["quote"] for s in item["sources"]] + [s["citation"] for s in item["sources"]]
    out += [e["id"] for e in draft["timeline"]] + [e["what"] for e in draft["timeline"]]
    return [display_text(x) for x in out if x]


def test_markdown_and_word_carry_the_same_findings_and_fields(fixture_drafts, fixture_scan):
    from compliance.reporting.contexts import deviation_contexts
    from compliance.reporting.scan_data import load_scan
    drafts = deviation_contexts(load_scan(fixture_scan), *load_units(FIXTURES / "units.toml"), WRITTEN)
    assert len(drafts) == 24
    for draft in drafts:
        md = (fixture_drafts / f"{draft['filename']}.md").read_text(encoding="utf-8")
        word = docx_text(fixture_drafts / f"{draft['filename']}.docx")
        ids_md = re.findall(r"^- Fynd-id: ([0-9a-f]{16})$", md, re.M)
        ids_word = re.findall(r"^Fynd-id: ([0-9a-f]{16}) ·", word, re.M)
        assert ids_md == ids_word == [i["id"] for i in draft["items"]]
        for field in _fields(draft):
            assert field in md.replace("\\", ""), (draft["filename"], field)
            assert field in word, (draft["filename"], field)
    samverkan = "\n".join(p.read_text(encoding="utf-8") for p in fixture_drafts.glob("*__från__*.md"))
    for heading in ("## Förslag till åtgärd", "## Svar från mottagande verksamhet", "## Avslutning av ärendet"):
        assert samverkan.count(heading) == len(list(fixture_drafts.glob("*__från__*.md")))


def test_word_drafts_are_sound_packages(fixture_drafts):
    for path in fixture_drafts.glob("*.docx"):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            assert z.namelist()[0] == "[Content_Types].xml"


def test_word_timeline_has_widths_a_repeated_header_and_rows_kept_whole(fixture_drafts):
    from docx.shared import Cm
    doc = Document(str(next(fixture_drafts.glob("F19__*.docx"))))
    table = doc.tables[1]
    assert [c.text for c in table.rows[0].cells][:3] == ["Datum", "Tid", "Händelse"]
    xml = table._tbl.xml
    assert '<w:tblLayout w:type="fixed"/>' in xml
    widths = [int(c.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}w"))
              for c in table._tbl.tblGrid.findall(
                  "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}gridCol")]
    assert abs(sum(widths) - Cm(16.6).twips) < 5 and widths[2] > 2 * widths[1]    # Händelse wide, Tid narrow
    assert "<w:tblHeader/>" in table.rows[0]._tr.xml
    assert all("<w:cantSplit/>" in row._tr.xml for row in table.rows)


# ---------------------------------------------------------------- file names

IDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=130) | \
    st.sampled_from(["a/b", "a b", "a\nb", "a_b", ".", "..", " ", "", "CON", "con", "nul.txt", "COM1",
                     "x", "y__z", "x__y", "z", "K-001", "k-001", "-x", "x.", "x ", "från", "2025000001",
                     "a" * 120 + "1", "a" * 120 + "2"])
TUPLES = st.tuples(IDS, IDS, st.none() | IDS)
WINDOWS_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?", re.I)


def _safe(name: str) -> bool:
    return (bool(name) and not re.search(r'[<>:"/\\|?*\x00-\x1f]', name)
            and not name.endswith((".", " ")) and not name.startswith(("-", ".", " "))
            and not WINDOWS_RESERVED.fullmatch(name) and not WINDOWS_RESERVED.fullmatch(name.split(".")[0])
            and len((name + ".docx").encode("utf-8")) <= 255
            and not any(c in name for c in BIDI_CONTROLS))


@settings(max_examples=400, deadline=None)
@given(TUPLES, TUPLES)
def test_distinct_ids_never_share_a_file_name_even_ignoring_case(a, b):
    if a != b:
        assert draft_stem(*a).casefold() != draft_stem(*b).casefold(), (a, b)
        assert draft_stem(*a).upper() != draft_stem(*b).upper(), (a, b)
    assert _safe(draft_stem(*a)) and _safe(draft_stem(*b))


@settings(max_examples=200, deadline=None)
@given(IDS, IDS)
def test_unit_list_names_are_injective_and_safe(a, b):
    if a != b:
        assert unit_stem(a).casefold() != unit_stem(b).casefold()
    assert _safe(unit_stem(a))


def test_the_collisions_of_the_issue_are_gone():
    pairs = [("a/b", "u"), ("a b", "u"), ("a\nb", "u"), ("a_b", "u"), (".", "u"), ("..", "u"),
             (" ", "u"), ("x" * 120 + "1", "u"), ("x" * 120 + "2", "u"), ("x", "y__z"), ("x__y", "z")]
    assert len({draft_stem(c, u).casefold() for c, u in pairs}) == len(pairs)
    numeric = [f"2025{n:06d}" for n in range(18)] + [f"20250000{n:04d}" for n in range(18)]
    assert len({draft_stem(c, "soc") for c in numeric}) == 36
    for name in ("CON", "nul", "Com1", "LPT3"):
        assert not WINDOWS_RESERVED.fullmatch(draft_stem(name, name).split("__")[0])
        assert not WINDOWS_RESERVED.fullmatch(unit_stem(name).split(".")[0])


def test_plain_ids_keep_their_names():
    assert draft_stem("K-001", "bup-farsta") == "K-001__bup-farsta"
    assert draft_stem("P01", "bup-farsta", "soc-skarpnack") == "P01__bup-farsta__från__soc-skarpnack"
    assert unit_stem("bup-farsta") == "bup-farsta"
    assert re.fullmatch(r"k-001__bup-farsta~[0-9a-f]{16}", draft_stem("k-001", "bup-farsta"))


def test_hostile_ids_do_not_break_the_markdown_tables(tmp_path):
    case, unit = "K|1\nrad två\u202egnp.exe", "soc|x"
    findings = [{"id": "0123456789abcdef", "rule": "consent-before-meeting", "case": case,
                 "status": "violation", "unit": unit, "meeting": "M|1", "event": "e|1",
                 "due": "2025-03-03", "actual": "2025-03-03", "evidence": ["e|1"], "message": "m"}]
    evidence = [{"id": "e|1", "case": case, "type": "meeting.held", "date": "2025-03-03",
                 "time": None, "unit": unit, "meeting": "M|1\n<b>x</b>", "to": None, "kind": "sip"}]
    from compliance.deviations import markdown_template, render_markdown
    draft = case_drafts(findings, evidence, None, Routing(SHIPPED, {}), {}, {}, {}, WRITTEN, "2025-12-31")[0]
    text = render_markdown(markdown_template(), draft).decode("utf-8")
    assert not any(c in text for c in BIDI_CONTROLS)
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) in (4, 8), line          # 2 or 6 columns, nothing split
    assert "<b>" not in text and "\\<b\\>" in text
    from compliance.reporting.word import WordTemplate
    path = tmp_path / "x.docx"
    path.write_bytes(WordTemplate().render({**draft, "tool": "t"}))
    word = docx_text(path)
    assert "K|1 rad tvågnp.exe" in word and not any(c in word for c in BIDI_CONTROLS)


def test_bidi_controls_are_stripped_from_report_text():
    assert display_text("abc\u202efdp.exe\u2066x\u2069") == "abcfdp.exex"
    assert md_text("a\u200fb|c") == "ab\\|c"


# ---------------------------------------------------------------- writing

def test_write_drafts_replaces_the_folder_whole(tmp_path):
    (tmp_path / "deviations").mkdir()
    (tmp_path / "deviations" / "stale.md").write_text("old", encoding="utf-8")
    got = write_drafts(SMALL, load_units(SMALL / "units.toml"), WRITTEN, formats={"md"},
                       workers=1, out_dir=tmp_path)
    names = sorted(p.name for p in (tmp_path / "deviations").iterdir())
    assert names == sorted(p.name for p in (SMALL / "deviations").glob("*.md"))
    assert got.drafts == got.files == 7
    assert [p.name for p in tmp_path.iterdir()] == ["deviations"]


def test_a_full_disk_gives_one_line_and_leaves_the_old_drafts(tmp_path, monkeypatch):
    import compliance.deviations as deviations
    (tmp_path / "deviations").mkdir()
    (tmp_path / "deviations" / "old.md").write_text("old", encoding="utf-8")
    real, calls = deviations.write_file, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 4:
            with open(path, "wb") as fh:
                fh.write(data[:10])        # what a full disk leaves: part of a file
            raise DraftWriteError(path, OSError(errno.ENOSPC, "No space left on device"))
        real(path, data)
    monkeypatch.setattr(deviations, "write_file", full_disk)
    with pytest.raises(DraftWriteError) as info:
        write_drafts(SMALL, load_units(SMALL / "units.toml"), WRITTEN, workers=1, out_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.endswith("No space left on device")
    assert Path(message.split(": ")[0]).name in {Path(c).name for c in calls}
    assert [p.name for p in tmp_path.iterdir()] == ["deviations"]
    assert [p.name for p in (tmp_path / "deviations").iterdir()] == ["old.md"]


def test_the_drafts_folder_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_drafts(SMALL, load_units(SMALL / "units.toml"), WRITTEN, formats={"md"}, workers=1,
                     out_dir=tmp_path / "new")
    finally:
        os.umask(old)
    assert (tmp_path / "new" / "deviations").stat().st_mode & 0o777 == 0o755
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in (tmp_path / "new" / "deviations").iterdir())


def test_markdown_only(tmp_path):
    from compliance.reporting import build_reports
    build_reports(SMALL, tmp_path, SMALL / "units.toml", docx=False)
    assert sorted(p.suffix for p in (tmp_path / "deviations").iterdir()) == [".md"] * 7


def test_a_scan_folder_out_of_case_order_is_refused(tmp_path):
    from compliance.reporting.scan_data import NotAScanFolder
    shutil.copytree(SMALL, tmp_path / "s")
    lines = (tmp_path / "s" / "findings.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "s" / "findings.jsonl").write_text("\n".join(lines[::-1]) + "\n", encoding="utf-8")
    with pytest.raises(NotAScanFolder, match="står inte i ordning"):
        write_drafts(tmp_path / "s", None, WRITTEN, workers=1)


def test_progress_counts_the_findings_put_into_drafts(tmp_path):
    class Bar:
        def __init__(self, total):
            self.total, self.done, self.closed = total, 0, False

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True
    bars = []
    write_drafts(SMALL, None, WRITTEN, formats={"md"}, workers=2, out_dir=tmp_path,
                 progress=lambda total: bars.append(Bar(total)) or bars[-1])
    violations = sum(1 for line in (SMALL / "findings.jsonl").read_text(encoding="utf-8").splitlines()
                     if '"violation"' in line)
    assert len(bars) == 1 and bars[0].done == violations == 8 and bars[0].closed


def test_report_on_a_full_disk_says_one_line_and_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import compliance.deviations as deviations
    from compliance.reporting.cli import report
    out = tmp_path / "out"
    ok = CliRunner().invoke(report, [str(SMALL), "--out", str(out), "--units", str(SMALL / "units.toml")])
    assert ok.exit_code == 0, ok.output
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    real, calls = deviations.write_file, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 5:
            raise DraftWriteError(path, OSError(errno.ENOSPC, "No space left on device"))
        real(path, data)
    monkeypatch.setattr(deviations, "write_file", full_disk)
    got = CliRunner().invoke(report, [str(SMALL), "--out", str(out), "--units", str(SMALL / "units.toml")])
    assert got.exit_code == 1
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"\.(md|docx): disken är full$", lines[0]), lines
    assert "Traceback" not in got.output
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_drafts_rendered_in_worker_processes_are_the_same(fixture_scan, fixture_drafts, tmp_path, monkeypatch):
    import compliance.deviations as deviations
    monkeypatch.setattr(deviations, "BATCH_VIOLATIONS", 3)      # many small batches, in 2 workers
    got = write_drafts(fixture_scan, load_units(FIXTURES / "units.toml"), WRITTEN, workers=2, out_dir=tmp_path)
    assert got.drafts == 24 and got.files == 48
    for path in fixture_drafts.iterdir():
        assert (tmp_path / "deviations" / path.name).read_bytes() == path.read_bytes(), path.name
