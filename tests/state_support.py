"""Fixtures and helpers for the state-store tests (tests/test_state_*.py).

Every state test runs on SQLite and on PostgreSQL: the fixture `store_url` is
parametrized over both. The PostgreSQL server comes from COMPLIANCE_TEST_PG_URL (a
throwaway one: `bash .ci/postgres.sh python -m pytest …`); each test gets a database of
its own on it, dropped afterwards. Without the variable the PostgreSQL cases skip and
say why, unless COMPLIANCE_CI=1, where they fail: CI must test PostgreSQL for real.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from compliance.findings import finding_id

PG_ENV = "COMPLIANCE_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def _pg_server_url() -> str:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    why = (f"{PG_ENV} is not set; run the tests under a throwaway server: "
           "bash .ci/postgres.sh python -m pytest tests/test_state_*.py")
    if os.environ.get("COMPLIANCE_CI") == "1":
        pytest.fail(f"COMPLIANCE_CI=1 but PostgreSQL is not available: {why}", pytrace=False)
    pytest.skip(why)


class _PgDatabases:
    """Fresh databases on the test server, dropped when the test ends."""

    def __init__(self, server_url: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url
        self._psycopg = psycopg
        self._base = make_url(server_url)
        self._admin = self._base.set(drivername="postgresql").render_as_string(hide_password=False)
        self.created: list[str] = []

    def new(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self._base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._psycopg.connect(self._admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def new_store_url(request, tmp_path) -> Iterator[Callable[[], str]]:
    """A factory of URLs of fresh, empty stores on the test's backend."""
    if request.param == "sqlite":
        count = iter(range(1_000_000))
        yield lambda: str(tmp_path / f"state-{next(count)}.db")
        return
    databases = _PgDatabases(_pg_server_url())
    try:
        yield databases.new
    finally:
        databases.drop_all()


@pytest.fixture
def store_url(new_store_url) -> str:
    """The URL of one fresh, empty store (a SQLite path or a PostgreSQL database)."""
    return new_store_url()


@pytest.fixture
def store(store_url):
    """An open, freshly created store."""
    from compliance.state import open_store
    opened = open_store(store_url, create=True)
    yield opened
    opened.close()


def finding(case: str = "K1", rule: str = "mandatory-attendance", *, event: str | None = "e1",
            meeting: str | None = "M1", unit: str | None = "bup", status: str = "violation",
            due: str = "2025-03-03", actual: str | None = None, rule_version: str = "2018-04-17",
            days_late: int = 1, business_days_late: int = 1) -> dict:
    """A finding dict with every field of findings.jsonl, its id computed as the scan does."""
    return {"id": finding_id(rule, case, event, meeting, unit), "rule": rule, "case": case, "status": status,
            "event": event, "meeting": meeting, "unit": unit, "due": due, "actual": actual,
            "days_late": days_late, "business_days_late": business_days_late, "evidence": [e for e in [event] if e],
            "message": f"{rule} i {case} för {unit}", "rule_version": rule_version, "title": rule}


def run_info(as_of: str | dt.date, **kw):
    from compliance.state import RunInfo
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
    return RunInfo(as_of=day, rules_digest=kw.pop("rules_digest", "0" * 64), **kw)
