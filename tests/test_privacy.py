"""The one personal-number detector (compliance.privacy) and where it is enforced.

A number counts when its date is real (day + 60 for a samordningsnummer) and its check
digit right, in any spelling; anything else is left alone. Every number here is built at
run time from a check-digit function (fixtures/README.md); none is stored.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compliance.events import Reject, parse_event_json, parse_record
from compliance.privacy import (REDACTED, contains_personal_number, luhn_check_digit, luhn_ok,
                                quote, redact, redact_raw, safe_name)
from compliance.records import Record

# What may stand between the digit groups: every dash, space and mark people type or
# word processors insert, the visible separators, and invisible characters.
SEPARATORS = ["", "-", "+", " ", "  ", " - ", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
              "\u2212", "\ufe63", "\uff0d", "\u00a0", "\u2009", "\u202f", "\u2007", "\t", "/", ".",
              "_", "\u200b", "\u00ad", "\u2060", "\ufeff"]
INVISIBLE = ["", "", "", "\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff"]
# Text around a number: no digits, so that only the number can be one.
AROUND = st.text(alphabet=st.sampled_from(list("abcÅäö ;:,()[]{}\"'=\n")), max_size=12)


def _spell(digits: str, fill: list[str]) -> str:
    """Digits with invisible characters between them (`fill`: one fewer than the digits)."""
    return "".join(d + f for d, f in zip(digits, fill + [""]))


@st.composite
def spelled_numbers(draw, valid: bool = True, broken: str = "check"):
    """(the number as written, its ten digits) for a personal or coordination number in
    one of its spellings; with valid=False the same with a wrong check digit
    (broken='check') or an impossible date with a right check digit (broken='date')."""
    born = draw(st.dates(dt.date(1800, 1, 1), dt.date(2099, 12, 31)))
    samordning = draw(st.booleans())
    year, month, day = f"{born.year:04d}", f"{born.month:02d}", born.day + (60 if samordning else 0)
    if not valid and broken == "date":
        month, day = draw(st.sampled_from([
            (f"{m:02d}", d) for m in (0, 13, 19, 25, 99) for d in (1, 15)] + [
            ("02", 30), ("02", 31), ("04", 31), ("01", 0), ("01", 32), ("01", 45), ("01", 60),
            ("02", 90), ("01", 92), ("12", 99)]))
    serial = draw(st.integers(0, 999))
    nine = f"{year[2:]}{month}{day:02d}{serial:03d}"
    check = luhn_check_digit(nine)
    if not valid and broken == "check":
        check = str((int(check) + draw(st.integers(1, 9))) % 10)
    ten = nine + check
    groups = [year[2:], month, f"{day:02d}", ten[6:]]
    with_century = draw(st.booleans())
    if not valid and broken == "century":
        with_century = True
        year = draw(st.sampled_from(["17", "21", "99", "00"])) + year[2:]
    if with_century:
        groups[0] = year[:2] + groups[0]
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in range(3)]
    fills = [[draw(st.sampled_from(INVISIBLE)) for _ in range(len(g) - 1)] for g in groups]
    text = "".join(_spell(g, f) + (seps[i] if i < 3 else "") for i, (g, f) in enumerate(zip(groups, fills)))
    if draw(st.integers(0, 9)) == 0:          # fullwidth digits, as some forms produce
        text = "".join(chr(ord(c) - 48 + 0xFF10) if c.isascii() and c.isdigit() else c for c in text)
    return text, ten


@settings(max_examples=600, deadline=None)
@given(spelled_numbers(), AROUND, AROUND)
def test_every_spelling_of_a_valid_number_is_found_and_redacted(number, before, after):
    text, ten = number
    assert luhn_ok(ten)
    whole = before + text + after
    assert contains_personal_number(whole), whole
    assert redact(whole) == before + REDACTED + after
    assert contains_personal_number(redact_raw(json.dumps({"comment": whole}))) is False
    assert not contains_personal_number(quote(whole, 200))
    assert not contains_personal_number(safe_name(whole))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(["check", "date", "century"]).flatmap(
    lambda broken: spelled_numbers(valid=False, broken=broken)), AROUND, AROUND)
def test_numbers_with_a_wrong_check_digit_or_an_impossible_date_are_left_alone(number, before, after):
    text, ten = number
    whole = before + text + after
    assert not contains_personal_number(whole), whole
    assert redact(whole) == whole


@settings(max_examples=300, deadline=None)
@given(spelled_numbers(), st.sampled_from(["case", "unit", "meeting", "id", "to", "attendees",
                                           "scope", "from"]))
def test_an_id_field_holding_a_number_rejects_the_line_on_both_roads(number, field):
    """parse_event_json (the fast road for .jsonl) and parse_record (every format) agree:
    the line is a reject naming the field, and neither reason nor raw holds the number."""
    text, _ = number
    types = {"attendees": "meeting.held", "to": "invitation.sent", "scope": "consent.given",
             "from": "deviation.filed", "meeting": "meeting.held"}
    data = {"id": "e1", "case": "K1", "type": types.get(field, "meeting.held"), "at": "2025-03-03",
            "unit": "soc", "meeting": "M1", "attendees": ["soc"], "to": "bup", "deviation": "D1"}
    value = f"x{text}"
    data[field] = [value] if field in ("attendees", "scope") else value
    line = json.dumps(data, ensure_ascii=bool(len(text) % 2))     # \\u escapes, or the characters
    assert parse_event_json(line) is None
    got = parse_record(Record("f", 1, line))
    assert isinstance(got, Reject)
    assert got.reason.startswith(f"fält '{field}") and "personnummer" in got.reason
    assert not contains_personal_number(got.reason) and not contains_personal_number(got.raw)


def test_the_usual_spellings_and_the_test_identity():
    for number in ("19121212-1212", "191212121212", "121212-1212", "1212121212", "121212+1212",
                   "1912 12 12-1212", "19121212\u20131212", "1912\u200b1212\u00ad1212", "121212 1212"):
        assert redact(f"barnet {number} i texten") == f"barnet {REDACTED} i texten", number
    # a samordningsnummer (day + 60) of the test identity
    nine = "121272121"
    assert contains_personal_number(nine[:6] + "-" + nine[6:] + luhn_check_digit(nine))


def test_what_is_not_a_personal_number_survives():
    for text in ("2025000001", "K-2025000001", "R000001-08, möte 2025-03-14", "556677-8899",
                 "19121212-1213", "2025-03-14 09:30", "20250314093000", "tel 08-123 456 78",
                 "19121312-1212", "1912121212121"):
        assert redact(text) == text and not contains_personal_number(text), text
    assert redact(None) == "" and redact(42) == 42


def test_quote_shows_harmless_values_and_masks_number_shapes():
    assert quote("2025-02-30") == "'2025-02-30'"
    assert quote("Fika") == "'Fika'"
    assert quote("19121212-1212") == "'########-####'"
    assert quote("19121212-1213") == "'########-####'"      # mistyped: still someone's
    long = quote("x" * 55 + "191212121212")
    assert "1912" not in long and long.endswith("…'")


def test_redact_raw_sees_numbers_spelt_with_escapes():
    raw = '{"case": "19121212\\u20111212", "x": "19121212\\/1212"}'
    assert not contains_personal_number(redact_raw(raw))
    assert "1212" not in redact_raw(raw)
    assert redact_raw('{"ok": "\\u00e5"}') == '{"ok": "\\u00e5"}'      # nothing to hide: as it was
    assert redact_raw('<string value="191212&#10;121212"/>') == '<string value="[personnummer borttaget]"/>'


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789-+ aR_.٣\u200b\u2013")), max_size=40))
def test_redact_gives_the_same_the_second_time_and_leaves_no_number(text):
    once = redact(text)
    assert redact(text) == once                    # the second time from the cache
    assert not contains_personal_number(once)


COLUMNS = ["Ärende", "Personnummer", "Händelse", "Datum", "Tid", "Enhet", "Möte", "Mötestyp",
           "Planerat datum", "Mottagare", "Kanal", "Deltagare", "Kommentar", "Ordförande", "Övrigt"]


@settings(max_examples=40, deadline=None)
@given(spelled_numbers(), st.sets(st.sampled_from(COLUMNS + ["header"]), min_size=1, max_size=4),
       st.sampled_from(["csv", "xes"]))
def test_no_output_of_an_import_holds_a_number_put_into_any_field(number, where, fmt):
    """A number in any spelling, in any column (or a header) of a CSV, or any attribute of a
    XES: the import's log, its rejects and what it prints never hold it."""
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from compliance.importers.cli import import_cmd
    text, _ = number
    row = {"Ärende": "K1", "Händelse": "Möte genomfört", "Datum": "2025-03-03", "Tid": "09:30",
           "Enhet": "soc", "Möte": "M1", "Mötestyp": "SIP", "Deltagare": "soc, bup", "Kommentar": "ok",
           "Ordförande": "A", "Övrigt": "x"}
    header = list(COLUMNS)
    for column in where:
        if column == "header":
            header[-1] = f"Övrigt {text}"
        else:
            row[column] = f"{row.get(column, '')} {text}".strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if fmt == "csv":
            src = tmp / "export.csv"
            lines = [";".join(header)] + [";".join(row.get(c, "") for c in COLUMNS)]
            src.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
        else:
            src = tmp / "export.xes"
            from xml.sax.saxutils import quoteattr
            attrs = "".join(f"<string key={quoteattr(k)} value={quoteattr(v)}/>" for k, v in (
                ("concept:name", "meeting.held"), ("org:resource", row["Enhet"]), ("meeting", row["Möte"]),
                ("comment", row["Kommentar"]), ("chair", row["Ordförande"]), (header[-1], row["Övrigt"])))
            src.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">'
                           f'<trace><string key="concept:name" value={quoteattr(row["Ärende"])}/><event>{attrs}'
                           '<date key="time:timestamp" value="2025-03-03T09:30:00+01:00"/>'
                           '<list key="attendees"><values><string key="x" value="soc"/></values></list>'
                           "</event></trace></log>", encoding="utf-8")
        res = CliRunner().invoke(import_cmd, [str(src), "--out", str(tmp / "log.jsonl")])
        assert res.exit_code == 0, res.output
        for out in (tmp / "log.jsonl", tmp / "log.rejects.jsonl"):
            assert not contains_personal_number(out.read_text(encoding="utf-8")), out
        assert not contains_personal_number(res.output)
