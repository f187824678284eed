"""A mapping's vocabulary follows the event models (compliance.events).

What a mapping may name, which event types a row may have and what each type needs are
read off the pydantic models, not kept in a second list: every model's type and field is
accepted, a field no model has is refused when the mapping loads (one line naming file
and key), and a row of every type becomes the event its model accepts.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from compliance.events import EVENT_MODELS, Reject, parse_record
from compliance.importers import MappingError, iter_source_records, load_mapping
from compliance.importers.cli import import_cmd

MINIMAL = '[columns]\ncase = "Ärende"\ntype = "Händelse"\nat = "Datum"\n'
# A value for each field a model may require, in the standard-sv export's words. A model
# that comes to require another field fails here until the export can carry it.
REQUIRED_CELLS = {
    "meeting": ("Möte", "M1"), "kind": ("Mötestyp", "SIP"), "date": ("Planerat datum", "2025-03-20"),
    "to": ("Mottagare", "Vårdnadshavare"), "attendees": ("Deltagare", ""),
    "deviation": ("Avvikelse", "A1"), "group": ("Grupp", "G1"),
}


def type_of(model) -> str:
    return model.model_fields["type"].annotation.__args__[0]


def names(model) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def required(model) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()
            if f.is_required() and name not in ("id", "case", "type", "at")]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_every_model_event_type_is_read_with_what_its_model_requires(tmp_path):
    header = ["Ärende", "Händelse", "Datum"] + [col for col, _ in REQUIRED_CELLS.values()]
    rows = []
    for model in EVENT_MODELS:
        cells = dict.fromkeys(header, "")
        cells.update({"Ärende": "K1", "Händelse": type_of(model), "Datum": "2025-03-03"})
        for fld in required(model):
            col, value = REQUIRED_CELLS[fld]
            cells[col] = value
        rows.append([cells[h] for h in header])
    p = write_csv(tmp_path / "all.csv", header, rows)
    got = [parse_record(r) for r in iter_source_records(p, "standard-sv")]
    rejects = [g.reason for g in got if isinstance(g, Reject)]
    assert rejects == []
    assert [e.type for e in got] == [type_of(m) for m in EVENT_MODELS]


@pytest.mark.parametrize("model", EVENT_MODELS, ids=type_of)
def test_a_type_without_what_its_model_requires_names_the_column(tmp_path, model):
    """Each required field of each model, left blank: the reject names the export's column."""
    for fld in required(model):
        if fld == "attendees":       # a blank list of attendees is a meeting with no one listed
            continue
        header = ["Ärende", "Händelse", "Datum"] + [col for col, _ in REQUIRED_CELLS.values()]
        cells = dict.fromkeys(header, "")
        cells.update({"Ärende": "K1", "Händelse": type_of(model), "Datum": "2025-03-03"})
        for other in required(model):
            if other != fld:
                cells[REQUIRED_CELLS[other][0]] = REQUIRED_CELLS[other][1]
        p = write_csv(tmp_path / "one.csv", header, [[cells[h] for h in header]])
        [rec] = iter_source_records(p, "standard-sv")
        assert rec.error == f"kolumn '{REQUIRED_CELLS[fld][0]}': saknas (behövs för {type_of(model)})"


def test_every_model_type_and_field_may_be_named(tmp_path):
    fields = sorted({n for m in EVENT_MODELS for n in names(m)} - {"case", "type", "at"})
    columns = "".join(f'"{f}" = "Kolumn {i}"\n' for i, f in enumerate(fields))
    types = "".join(f'"Typ {i}" = "{type_of(m)}"\n' for i, m in enumerate(EVENT_MODELS))
    p = tmp_path / "all.toml"
    p.write_text(MINIMAL + columns + '"child.initials" = "Initialer"\n"follow_up.date" = "Uppföljning"\n'
                 + "[values.type]\n" + types, "utf-8")
    m = load_mapping(p)
    assert set(fields) <= set(m.columns)
    assert {m.values["type"][f"typ{i}"] for i in range(len(EVENT_MODELS))} == {type_of(x) for x in EVENT_MODELS}


@pytest.mark.parametrize("extra, key", [
    ('meetnig = "Möte"\n', "columns.meetnig"),               # a field no model has
    ('"child.name" = "Barnets namn"\n', "columns.child.name"),  # the child model has no name
    ('"district.code" = "Kod"\n', "columns.district.code"),   # a text field has no parts
])
def test_a_field_the_models_lack_is_refused_naming_file_and_key(tmp_path, extra, key):
    p = tmp_path / "ours.toml"
    p.write_text(MINIMAL + extra, "utf-8")
    with pytest.raises(MappingError) as exc:
        load_mapping(p)
    assert str(exc.value).startswith(f"mapping {p}: nyckel '{key}': ") and "\n" not in str(exc.value)
    csvp = write_csv(tmp_path / "a.csv", ["Ärende", "Händelse", "Datum"], [["K1", "SIP initierad", "2025-03-03"]])
    res = CliRunner().invoke(import_cmd, [str(csvp), "--mapping", str(p), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip().splitlines() == [f"compliance: {exc.value}"]


@pytest.mark.parametrize("table, good, bad", [
    ("channel", "letter", "fax"), ("kind", "sip_followup", "bus"), ("by", "child", "teacher"),
    ("form", "oral", "sms"), ('"child.gender"', "unknown", "x"), ("type", "protocol.sent", "meeting.done"),
])
def test_closed_values_are_the_models_literals(tmp_path, table, good, bad):
    column = table.strip('"')
    base = MINIMAL if column == "type" else MINIMAL + f'"{column}" = "Kolumn"\n'
    p = tmp_path / "m.toml"
    p.write_text(base + f'[values.{table}]\n"Vårt ord" = "{good}"\n', "utf-8")
    assert load_mapping(p).values[column]["vårtord"] == good
    p.write_text(base + f'[values.{table}]\n"Vårt ord" = "{bad}"\n', "utf-8")
    with pytest.raises(MappingError) as exc:
        load_mapping(p)
    assert f"""nyckel 'values.{column}."Vårt ord"': '{bad}' är inget tillåtet värde""" in str(exc.value)
