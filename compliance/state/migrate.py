"""The store's schema version: read it, upgrade an older store, refuse a newer one.

Migrations are Alembic scripts shipped in `compliance/state/migrations/` and found
through importlib.resources, so an installed wheel migrates exactly as a checkout does.
Versions are numbered (0001, 0002, …) so that a store written by a newer tool is told
apart from one that is simply not ours.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from sqlalchemy import Connection, inspect, select, table, column

from .errors import NotAStore, StoreTooNew
from .schema import VERSION_TABLE

# The newest migration this version of the tool ships (a test checks it against Alembic).
HEAD = "0005"

_EMPTY = ""


def migrations_dir() -> Path:
    """The Alembic script folder inside the installed package."""
    return Path(str(files("compliance.state") / "migrations"))


def stored_version(conn: Connection, display: str) -> str:
    """The store's schema version, "" for an empty database; NotAStore for a database
    that holds other tables and no version of ours."""
    names = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in names:
        if names:
            raise NotAStore(f"{display}: databasen är inget tillstånd för compliance "
                            f"(den har andra tabeller, t.ex. {sorted(names)[0]!r})")
        return _EMPTY
    rows = conn.execute(select(column("version_num")).select_from(table(VERSION_TABLE))).scalars().all()
    if len(rows) != 1 or not rows[0]:
        raise NotAStore(f"{display}: tillståndets schemaversion går inte att läsa")
    return rows[0]


def needs_upgrade(version: str, display: str) -> bool:
    """Whether a store at `version` must be migrated; StoreTooNew when it is past HEAD."""
    if version == HEAD:
        return False
    if version and (not version.isdigit() or int(version) > int(HEAD)):
        raise StoreTooNew(f"{display}: tillståndet har schemaversion {version}, nyare än den här "
                          f"versionen av compliance kan ({HEAD}); uppgradera compliance")
    return True


def upgrade(conn: Connection, target: str = "head") -> None:
    """Run the migrations inside the caller's transaction (which holds the write lock)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)
