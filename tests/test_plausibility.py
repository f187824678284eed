"""A child's birth date from a personal number that makes it over 25 when its case was
opened, or born in the future, is a warning naming the case (compliance.plausibility)."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from compliance.events import parse_record
from compliance.importers.cli import import_cmd
from compliance.plausibility import BirthDates
from compliance.privacy import luhn_check_digit
from compliance.records import Record

HEADER = "Ärende;Personnummer;Händelse;Datum;Enhet\r\n"


def number(yymmdd: str, serial: str = "121") -> str:
    return f"{yymmdd}-{serial}{luhn_check_digit(yymmdd + serial)}"


def test_the_test_identity_born_1912_is_implausible_for_a_child(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text(HEADER
                   + "K1;19121212-1212;Ärende öppnat;2025-03-03;soc\r\n"              # Tolvan: 112 years
                   + f"K2;{number('121212')};Ärende öppnat;2025-03-03;soc\r\n"        # born 2012: a child
                   + f"K3;{number('121212').replace('-', '+')};Ärende öppnat;2025-03-03;soc\r\n"  # '+': 1912
                   + f"K4;20{number('301212')};SIP initierad;2025-03-05;soc\r\n"      # born 2030
                   + "K4;;Ärende öppnat;2025-03-03;soc\r\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(import_cmd, [str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    warnings = [x for x in res.output.splitlines() if x.startswith("varning: ")]
    assert warnings == [
        "varning: ärende K1: barnet var 112 år när ärendet öppnades 2025-03-03 (över 25); "
        "kontrollera personnumret (fel sekel?)",
        "varning: ärende K3: barnet var 112 år när ärendet öppnades 2025-03-03 (över 25); "
        "kontrollera personnumret (fel sekel?)",
        "varning: ärende K4: barnets födelsedatum ligger i framtiden; kontrollera personnumret",
    ]
    assert "1912" not in res.output.replace("2025-03-03", "")      # neither number nor birth date shown
    births = {json.loads(x)["case"]: json.loads(x).get("child", {}).get("birth_date")
              for x in out.read_text().splitlines()}
    assert births["K1"] == "1912-12-12"          # the event keeps what the number says


def test_age_is_counted_at_the_opening_of_the_case():
    check = BirthDates(today=dt.date(2025, 12, 31))
    check.see("A", "case.opened", dt.date(2025, 6, 1), "2000-06-02")   # 24 the day before 25
    check.see("B", "case.opened", dt.date(2025, 6, 2), "1999-06-01")   # 26
    check.see("C", "sip.initiated", dt.date(2025, 6, 2), "1990-01-01")
    check.see("C", "case.opened", dt.date(2010, 1, 1), None)           # opened at 20: fine
    assert check.warnings() == [
        "ärende B: barnet var 26 år när ärendet öppnades 2025-06-02 (över 25); kontrollera personnumret (fel sekel?)"]
    event = parse_record(Record("f", 1, json.dumps({"id": "e", "case": "D", "type": "case.opened",
                                                    "at": "2025-01-01", "child": {"birth_date": "2026-01-01"}})))
    check.see_event(event)
    assert check.warnings()[-1] == "ärende D: barnets födelsedatum ligger i framtiden; kontrollera personnumret"
