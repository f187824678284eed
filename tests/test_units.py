"""Units by id or by name (compliance.units): the register's names and aliases are read
as ids, units the register does not know are listed, --strict-units rejects them; the
one unit model serves what the drafts and reports need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.events import parse_record
from compliance.importers import iter_source_records
from compliance.importers.cli import import_cmd
from compliance.records import Record
from compliance.units import UnitRegisterError, load_register, load_units, unit_label

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "fixtures" / "units.toml"
HEADER = "Ärende;Händelse;Datum;Enhet;Möte;Mottagare;Deltagare\r\n"


def csv_of(tmp_path: Path, *rows: str) -> Path:
    p = tmp_path / "enheter.csv"
    p.write_text(HEADER + "".join(r + "\r\n" for r in rows), encoding="utf-8")
    return p


def test_names_and_aliases_are_read_as_ids():
    register = load_register(UNITS)
    resolve = register.resolve
    assert resolve("skola-bjorkhagen") == "skola-bjorkhagen"
    assert resolve("Björkhagens skola") == "skola-bjorkhagen"
    assert resolve("  björkhagens   SKOLA ") == "skola-bjorkhagen"        # case and spaces
    assert resolve("Björkhagsskolan") == "skola-bjorkhagen"               # an alias
    assert resolve("barn- och ungdomspsykiatrin farsta") == "bup-farsta"
    assert resolve("BUP Farst") is None and resolve("bvc-bagarmossen") is None


def test_an_import_maps_names_and_lists_unknown_units(tmp_path):
    src = csv_of(tmp_path,
                 "K1;Kallelse skickad;2025-03-03;Socialtjänsten Skarpnäck, familjeenheten;M1;BUP Farsta;",
                 "K1;Möte genomfört;2025-03-24;soc-skarpnack;M1;;björkhagsskolan, BVC Bagarmossen, bup-farsta",
                 "K1;Kallelse skickad;2025-03-03;soc-skarpnack;M1;Vårdnadshavare;")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(src), "--units", str(UNITS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    first, held, guardian = (json.loads(x) for x in out.read_text().splitlines())
    assert (first["unit"], first["to"]) == ("soc-skarpnack", "bup-farsta")
    assert held["attendees"] == ["skola-bjorkhagen", "BVC Bagarmossen", "bup-farsta"]
    assert guardian["to"] == "guardian"
    assert "okända verksamheter (finns inte i enhetsregistret): BVC Bagarmossen" in res.output
    # the id is made after the name was read as an id: the same event either way
    by_id = csv_of(tmp_path, "K1;Kallelse skickad;2025-03-03;soc-skarpnack;M1;bup-farsta;")
    [again] = iter_source_records(by_id, None, units=load_register(UNITS).resolver())
    assert again.data["id"] == first["id"]


def test_strict_units_rejects_an_unknown_unit_naming_the_column(tmp_path):
    src = csv_of(tmp_path, "K1;Möte genomfört;2025-03-24;soc-skarpnack;M1;;soc-skarpnack, BVC Bagarmossen",
                 "K1;SIP initierad;2025-03-03;Björkhagens skola;;;")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(src), "--units", str(UNITS), "--strict-units", "--out", str(out)])
    assert res.exit_code == 0, res.output
    [reject] = [json.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_text().splitlines()]
    assert reject["reason"] == "kolumn 'Deltagare': okänd verksamhet 'BVC Bagarmossen' (finns inte i enhetsregistret)"
    assert [json.loads(x)["unit"] for x in out.read_text().splitlines()] == ["skola-bjorkhagen"]
    res = CliRunner().invoke(import_cmd, [str(src), "--strict-units", "--out", str(out)])
    assert res.exit_code == 2 and "--strict-units kräver --units" in res.output


def test_the_resolver_serves_validated_events_too():
    """The scan resolves the unit fields of events it has already validated (frozen models)."""
    resolver = load_register(UNITS).resolver(strict=True)
    line = json.dumps({"id": "e1", "case": "K1", "type": "deviation.filed", "at": "2025-03-03",
                       "unit": "Björkhagens skola", "deviation": "A1", "from": "BUP Farsta", "to": "okänd"})
    event, problem = resolver.resolve_event(parse_record(Record("f", 1, line)))
    assert (event.unit, event.from_, event.to) == ("skola-bjorkhagen", "bup-farsta", "okänd")
    assert problem == ("to", "okänd")
    assert resolver.reason("fält 'to'", "okänd") == "fält 'to': okänd verksamhet 'okänd' (finns inte i enhetsregistret)"
    assert resolver.unknown_units() == ["okänd"]
    plain = parse_record(Record("f", 2, json.dumps({"id": "e2", "case": "K1", "type": "sip.initiated",
                                                     "at": "2025-03-03", "unit": "soc-skarpnack"})))
    assert resolver.resolve_event(plain) == (plain, None)


def test_without_a_register_nothing_is_unknown():
    resolver = load_register(None).resolver(strict=True)
    data = {"unit": "vad som helst", "attendees": ["x"]}
    assert resolver.resolve_fields(data) is None and resolver.unknown_units() == []
    assert data == {"unit": "vad som helst", "attendees": ["x"]}


def test_the_register_serves_the_reports():
    register = load_register(UNITS)
    assert register.label("bup-farsta") == "BUP Farsta" and register.label("bvc-bagarmossen") == "bvc-bagarmossen"
    assert register.label(None) == "okänd enhet"
    assert register.manager("bup-farsta") == "Verksamhetschef Erik Låtsasson" and register.manager("x") == ""
    assert register.as_dict("vc-skarpnack") == {
        "id": "vc-skarpnack", "name": "Vårdcentralen Skarpnäck", "manager": "Verksamhetschef Ingrid Testström",
        "principal": "privat", "kind": "primärvård"}
    assert register.bus_secretariat == "BUS-sekretariatet, Skarpnäcks stadsdelsförvaltning"
    assert register.steering_group_convener.startswith("Stadsdelsdirektören")
    assert register.label("191212121212") == "[personnummer borttaget]"
    units, cooperation = load_units(UNITS)                      # the older interface still works
    assert unit_label(units, "skola-bjorkhagen") == "Björkhagens skola" and "bus_secretariat" in cooperation


@pytest.mark.parametrize("text, message", [
    ('[[unit]]\nid = "a"\nname = "Skolan"\n[[unit]]\nid = "b"\nname = "skolan"\n',
     "namnet 'skolan' hör till både 'a' och 'b'"),
    ('[[unit]]\nid = "a"\naliases = "x"\n[[unit]]\nid = "b"\naliases = ["X "]\n', "hör till både"),
    ('[[unit]]\nid = "a"\naliases = [1]\n', "'aliases' ska vara en lista av namn"),
    ('[[unit]]\nid = "a"\n[[unit]]\nid = "a"\n', "enhet 'a' finns två gånger"),
    ('[[unit]]\nname = "x"\n', "enhet nr 1 saknar 'id'"),
])
def test_a_broken_register_names_the_problem(tmp_path, text, message):
    p = tmp_path / "units.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(UnitRegisterError, match=message):
        load_register(p)


def test_a_name_equal_to_another_units_id_keeps_the_id(tmp_path):
    """A unit named like another unit's id: the id wins (an id is never taken away)."""
    p = tmp_path / "units.toml"
    p.write_text('[[unit]]\nid = "a"\nname = "b"\n[[unit]]\nid = "b"\nname = "B-enheten"\n', encoding="utf-8")
    register = load_register(p)
    assert register.resolve("b") == "b" and register.resolve("B-enheten") == "b" and register.resolve("a") == "a"
