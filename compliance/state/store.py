"""Opening a store, and the transactions everything else runs in.

One store per municipality (SQLite file) or region (PostgreSQL database). Writers are
serialised: a scan takes the store's write lock for its one transaction (SQLite:
`BEGIN IMMEDIATE` with a busy timeout; PostgreSQL: a transaction-scoped advisory lock
with `lock_timeout`), so a second scan waits a bounded time and then fails with one
line, and a scan that dies part-way leaves nothing behind (the database rolls it back).
Readers are never blocked by a scan: SQLite runs in WAL mode, PostgreSQL reads its
snapshot.

Every database error leaving this module is a `StateError` with one Swedish line that
names the store (a PostgreSQL URL without its password), never a driver traceback.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .address import StoreAddress, parse_address
from .errors import NotAStore, StateError, StoreBusy, StoreMissing
from .migrate import needs_upgrade, stored_version, upgrade

# How long a writer waits for another one (a nightly scan records in well under this).
DEFAULT_LOCK_TIMEOUT = 60.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
# The PostgreSQL advisory lock that serialises the writers of one database.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"bus-compliance state store").digest()[:8], "big",
                              signed=True)


class Store:
    """An open store. Use `read()` and `write()` for transactions; `close()` when done."""

    def __init__(self, address: StoreAddress, engine: Engine, lock_timeout: float) -> None:
        self.address = address
        self.engine = engine
        self.lock_timeout = lock_timeout

    @property
    def display(self) -> str:
        return self.address.display

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one consistent state of the store."""
        with self._errors():
            with self.engine.connect() as conn:
                if self.dialect == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn

    @contextmanager
    def write(self, *, exclusive: bool = False, timeout: float | None = None) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an exception.

        `exclusive` (a scan, a migration) also takes the store's write lock, waiting at
        most `timeout` seconds (default: the store's) before StoreBusy. On SQLite every
        writer takes it (`BEGIN IMMEDIATE`): two writers never deadlock mid-transaction.
        """
        wait = self.lock_timeout if timeout is None else timeout
        with self._errors(wait):
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn.execution_options(compliance_write=True, compliance_wait=wait)
                with conn.begin():
                    if exclusive and self.dialect == "postgresql":
                        _pg_lock(conn, wait)
                    yield conn

    @contextmanager
    def _errors(self, wait: float | None = None) -> Iterator[None]:
        try:
            yield
        except StateError:
            raise
        except DBAPIError as exc:
            raise translate(exc, self.display, self.lock_timeout if wait is None else wait) from None
        except SQLAlchemyError as exc:
            raise StateError(f"{self.display}: databasfel: {_first_line(exc)}") from None

    def _prepare(self, create: bool) -> None:
        """Check that this is our store; create or upgrade its schema under the write lock."""
        with self.read() as conn:
            version = stored_version(conn, self.display)
        if version == "" and not create:
            raise StoreMissing(f"{self.display}: det finns inget tillstånd här ännu "
                               "(compliance scan --state skapar det)")
        if not needs_upgrade(version, self.display):
            return
        if version == "" and self.dialect == "sqlite":
            _sqlite_wal(self)
        with self.write(exclusive=True) as conn:
            if needs_upgrade(stored_version(conn, self.display), self.display):   # another process may have
                upgrade(conn)


def open_store(value: str | Path, *, create: bool = False,
               lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Store:
    """Open the store at `--state` value; create it when `create` (a scan) and it is missing.

    An older schema is upgraded; a newer one, a missing store (unless `create`), an
    unreadable or locked one, or a file or database that is not ours raises StateError.
    """
    address = parse_address(value)
    if address.path is not None:
        _check_sqlite_file(address.path, create)
    engine = _engine(address, lock_timeout)
    store = Store(address, engine, lock_timeout)
    try:
        store._prepare(create)
    except BaseException:
        engine.dispose()
        raise
    return store


def _check_sqlite_file(path: Path, create: bool) -> None:
    if path.is_dir():
        raise StateError(f"{path}: är en mapp, inte ett tillstånd")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StateError(f"{path}: kan inte läsa tillståndet: {exc.strerror or exc}") from None
        if head and head != _SQLITE_MAGIC:
            raise NotAStore(f"{path}: filen är inget tillstånd för compliance (inte en SQLite-databas)")
        return
    if not create:
        raise StoreMissing(f"{path}: tillståndet finns inte (compliance scan --state skapar det)")
    if not path.parent.is_dir():
        raise StateError(f"{path}: mappen {path.parent} finns inte")


def _engine(address: StoreAddress, lock_timeout: float) -> Engine:
    if address.is_sqlite:
        engine = create_engine(address.url, connect_args={"timeout": lock_timeout})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(address.url, connect_args={"connect_timeout": 10, "application_name": "compliance"})


def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin), so that DDL
    # (migrations) and reads are inside them too.
    dbapi_conn.isolation_level = None
    dbapi_conn.execute("PRAGMA foreign_keys = ON")


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("compliance_write"):
        wait_ms = int(options.get("compliance_wait", DEFAULT_LOCK_TIMEOUT) * 1000)
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")   # take the write lock now, waiting busy_timeout
    else:
        conn.exec_driver_sql("BEGIN")


def _sqlite_wal(store: Store) -> None:
    """A new SQLite store keeps a write-ahead log: readers go on while a scan writes."""
    with store._errors():
        raw = store.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode = WAL")
        finally:
            raw.close()


def _pg_lock(conn: Connection, wait: float) -> None:
    """The database's write lock for this transaction; LockNotAvailable after `wait` s."""
    before = conn.execute(select(func.current_setting("lock_timeout"))).scalar_one()
    conn.execute(select(func.set_config("lock_timeout", f"{max(1, int(wait * 1000))}ms", True)))
    conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    conn.execute(select(func.set_config("lock_timeout", before, True)))


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def translate(exc: DBAPIError, display: str, wait: float) -> StateError:
    """A driver error → one Swedish line naming the store."""
    orig = exc.orig
    text = _first_line(exc)
    low = text.lower()
    if isinstance(orig, sqlite3.Error):
        if "locked" in low or "busy" in low:
            return StoreBusy(f"{display}: tillståndet är låst av en annan körning; "
                             f"gav upp efter {wait:g} s")
        if "not a database" in low:
            return NotAStore(f"{display}: filen är inget tillstånd för compliance (inte en SQLite-databas)")
        if "unable to open" in low:
            return StateError(f"{display}: kan inte öppna tillståndet")
        if "readonly" in low:
            return StateError(f"{display}: tillståndet är skrivskyddat")
        if "malformed" in low or "disk i/o" in low or "corrupt" in low:
            return StateError(f"{display}: tillståndet är skadat ({text})")
        return StateError(f"{display}: databasfel: {text}")
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "55P03":   # lock_not_available
        return StoreBusy(f"{display}: tillståndet är låst av en annan körning; gav upp efter {wait:g} s")
    if sqlstate is None or sqlstate.startswith("08") or sqlstate == "3D000" or sqlstate.startswith("28"):
        return StateError(f"{display}: kan inte ansluta till databasen ({text})")
    return StateError(f"{display}: databasfel: {text}")
