"""Where a store lives: the `--state` value turned into a database address.

A plain path or `sqlite:///PATH` is SQLite, the embedded default (nothing to install);
`postgresql://…` (or `postgres://…`) is PostgreSQL through psycopg 3. Anything else is
refused: the tool supports these two and tests both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import StateError


@dataclass(frozen=True)
class StoreAddress:
    """A parsed `--state` value."""

    url: URL
    path: Path | None          # the SQLite file; None for PostgreSQL

    @property
    def is_sqlite(self) -> bool:
        return self.path is not None

    @property
    def display(self) -> str:
        """How messages name the store: the file, or the URL without its password."""
        if self.path is not None:
            return str(self.path)
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)


def parse_address(value: str | Path) -> StoreAddress:
    """`--state` → the address; a one-line Swedish StateError when it is neither kind."""
    text = str(value).strip()
    if not text:
        raise StateError("--state: ange en fil eller en databasadress")
    if "://" not in text:
        path = Path(text).expanduser()
        return StoreAddress(URL.create("sqlite+pysqlite", database=str(path)), path)
    scheme = text.split("://", 1)[0].lower()
    try:
        url = make_url(text)
    except ArgumentError:
        raise StateError(f"--state: ogiltig databasadress {_masked(text)!r}") from None
    if scheme in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise StateError("--state: sqlite:///SÖKVÄG behöver en fil")
        path = Path(url.database).expanduser()
        return StoreAddress(URL.create("sqlite+pysqlite", database=str(path)), path)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return StoreAddress(url.set(drivername="postgresql+psycopg"), None)
    raise StateError(f"--state: {scheme}:// stöds inte; ange en fil, sqlite:///SÖKVÄG eller postgresql://…")


def _masked(text: str) -> str:
    """A URL for an error message, with any password blanked."""
    head, sep, rest = text.partition("://")
    if "@" in rest:
        cred, _, host = rest.rpartition("@")
        if ":" in cred:
            cred = cred.split(":", 1)[0] + ":***"
        rest = f"{cred}@{host}"
    return head + sep + rest
