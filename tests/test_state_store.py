"""Opening a store: created and migrated by the tool, a newer one refused, anything that
is not a store of ours refused with one Swedish line (exit 1), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from compliance.cli import main
from compliance.state import NotAStore, StateError, StoreMissing, StoreTooNew, open_store
from compliance.state.address import parse_address
from compliance.state.migrate import HEAD, migrations_dir, stored_version, upgrade
from compliance.state.schema import VERSION_TABLE, metadata
from state_support import finding, new_store_url, run_info, store, store_url  # noqa: F401


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compliance: "), result.stderr
    return lines[0]


def _engine(url: str):
    address = parse_address(url)
    return create_engine(address.url)


def test_a_new_store_has_the_newest_schema_exactly_as_the_code_defines_it(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    with store.read() as conn:
        assert stored_version(conn, store.display) == HEAD
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_the_newest_migration_shipped_is_the_one_the_code_expects():
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == HEAD
    revisions = [r.revision for r in script.walk_revisions()]
    assert all(r.isdigit() for r in revisions), "numbered revisions tell a newer store from a foreign one"


def test_opening_again_is_idempotent_and_keeps_what_was_recorded(store_url):
    from compliance.state import list_findings, record_scan
    with open_store(store_url, create=True) as first:
        record_scan(first, run_info("2025-03-04"), [finding()])
    with open_store(store_url) as again:
        assert [f.id for f in list_findings(again)] == [finding()["id"]]


def test_an_older_store_is_upgraded_on_open_and_keeps_its_data(store_url):
    engine = _engine(store_url)
    with engine.begin() as conn:
        upgrade(conn, "0001")
    f = finding()
    with engine.begin() as conn:
        names = set(inspect(conn).get_table_names())
        assert "findings" in names and "users" not in names        # really the old schema
        run_id = conn.execute(text(
            "INSERT INTO runs (as_of, profile, rules_digest, inputs, counts, started_at, ended_at, tool_version,"
            " findings, new, changed, resolved, reopened) VALUES ('2025-03-04', 'core', 'x', '[]', '{}',"
            " '2025-03-04 01:00:00', '2025-03-04 01:05:00', '0.0.9', 1, 1, 0, 0, 0) RETURNING id")).scalar_one()
        conn.execute(text(
            "INSERT INTO findings (id, rule, \"case\", event, meeting, unit, status, due, actual, rule_version,"
            " days_late, business_days_late, data, state, first_seen_run) VALUES (:id, :rule, :case, :event,"
            " :meeting, :unit, :status, :due, NULL, :rv, 1, 1, :data, 'present', :run)"),
            {**f, "rv": f["rule_version"], "data": __import__("json").dumps(f), "run": run_id})
        conn.execute(text(
            "INSERT INTO decisions (finding_id, decision, reason, decided_by, decided_at, source, seen_run)"
            " VALUES (:id, 'justified', 'Mötet flyttades', 'anna', '2025-03-05 08:00:00', 'cli', :run)"),
            {"id": f["id"], "run": run_id})
    engine.dispose()

    from compliance.state import add_user, get_finding
    with open_store(store_url) as upgraded:
        with upgraded.read() as conn:
            assert stored_version(conn, upgraded.display) == HEAD
        item = get_finding(upgraded, f["id"])
        assert item.review.status == "justified" and item.review.decision.by == "anna"
        add_user(upgraded, "anna", "enhetschef", ["bup"])                # the new tables work


def test_a_store_from_a_newer_tool_is_refused_with_one_line(store_url):
    open_store(store_url, create=True).close()
    engine = _engine(store_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreTooNew, match="nyare"):
        open_store(store_url)
    line = one_line_error(cli("review", "list", "--state", store_url))
    assert "schemaversion 0099" in line and "uppgradera compliance" in line


def test_a_database_of_another_application_is_not_a_store(store_url):
    engine = _engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)"))
    engine.dispose()
    with pytest.raises(NotAStore):
        open_store(store_url, create=True)     # not even a scan turns it into one
    line = one_line_error(cli("review", "list", "--state", store_url))
    assert "inget tillstånd för compliance" in line
    engine = _engine(store_url)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == ["patients"]  # untouched
    engine.dispose()


def test_an_empty_database_is_no_store_for_the_review_commands(store_url):
    if "://" in store_url:                       # PostgreSQL: the database exists, empty
        line = one_line_error(cli("review", "list", "--state", store_url))
        assert "inget tillstånd här ännu" in line
    else:
        line = one_line_error(cli("review", "list", "--state", store_url))
        assert "finns inte" in line
        assert not os.path.exists(store_url)     # a read does not create it
    with open_store(store_url, create=True):     # a scan does
        pass
    assert cli("review", "list", "--state", store_url).exit_code == 0


def test_files_that_are_not_stores_get_one_line_each(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("inte en databas\n", encoding="utf-8")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    cases = {
        str(notes): "inte en SQLite-databas",
        str(other): "inget tillstånd för compliance",
        str(broken): "",
        str(tmp_path): "är en mapp",
        str(tmp_path / "missing.db"): "finns inte",
        f"sqlite:///{tmp_path}/missing.db": "finns inte",
        "mysql://localhost/x": "stöds inte",
        "sqlite://": "behöver en fil",
    }
    for state, expected in cases.items():
        line = one_line_error(cli("review", "list", "--state", state))
        assert expected in line, (state, line)
    assert notes.read_text(encoding="utf-8") == "inte en databas\n"
    with pytest.raises(StateError, match="mappen .* finns inte"):
        open_store(tmp_path / "no" / "such" / "state.db", create=True)


def test_a_scan_creates_a_missing_store_and_sqlite_urls_name_the_same_file(tmp_path):
    path = tmp_path / "state.db"
    with pytest.raises(StoreMissing):
        open_store(path)
    with open_store(path, create=True) as created:
        assert created.display == str(path)
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    with open_store(f"sqlite:///{path}") as same:
        with same.read() as conn:
            assert stored_version(conn, same.display) == HEAD


def test_messages_never_show_a_postgresql_password():
    address = parse_address("postgresql://kalle:hemligt@db.example:5432/tillstand")
    assert "hemligt" not in address.display and address.display.startswith("postgresql://kalle:")
    assert address.url.drivername == "postgresql+psycopg"
    refused = CliRunner().invoke(main, ["review", "list", "--state", "postgresql://kalle:hemligt@127.0.0.1:1/x"])
    assert refused.exit_code == 1 and "hemligt" not in refused.output
    assert "kan inte ansluta" in refused.stderr


def test_the_real_command_exits_1_with_one_line_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "compliance", "review", "list", "--state",
                           str(tmp_path / "saknas.db")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"compliance: {tmp_path / 'saknas.db'}: tillståndet finns inte (compliance scan --state skapar det)"]


def test_the_state_can_come_from_the_environment(store_url):
    open_store(store_url, create=True).close()
    result = CliRunner(env={"COMPLIANCE_STATE": store_url}).invoke(main, ["review", "list"])
    assert result.exit_code == 0, result.output
