"""The store's tables as the code sees them (SQLAlchemy Core), at the newest schema.

The migrations in `migrations/versions/` create and change these tables step by step;
they never import this module (a migration must stay what it was when it shipped). A
test migrates an empty store and compares it with these definitions, so the two
cannot drift apart.

Dates of the domain (`due`, `actual`, a filing's date) are ISO text, exactly as
findings.jsonl holds them: text sorts like the dates and compares byte for byte. Moments
(`started_at`, `decided_at`, sign-ins) are UTC; they are shown in Stockholm time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey,
                        Index, Integer, LargeBinary, MetaData, String, Table, Text)
from sqlalchemy.types import TypeDecorator

# Named constraints: SQLite can only change a table by copying it (Alembic's batch
# mode), which needs every constraint to have a name.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# Alembic's record of the schema version; a table of this name is what makes a
# database one of ours.
VERSION_TABLE = "compliance_schema"

FINDING_STATES = ("present", "resolved")
CHANGES = ("new", "changed", "resolved", "reopened")
DECISIONS = ("acknowledged", "deviation-filed", "justified", "data-error", "reopen")
SOURCES = ("cli", "web", "log")
ROLES = ("enhetschef", "samordnare", "revisor", "admin")


class UtcDateTime(TypeDecorator):
    """A moment stored in UTC and read back aware (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a moment without time zone cannot be stored")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(Column(column).in_(values), name=name)


# One scan recorded in the store (a körning).
runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("profile", String(64), nullable=False),
    Column("rules_digest", String(64), nullable=False),
    Column("inputs", JSON, nullable=False),        # [{path, sha256, lines}, …] as in manifest.json
    Column("counts", JSON, nullable=False),        # the scan's counts, as in manifest.json
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("tool_version", String(32), nullable=False),
    Column("findings", Integer, nullable=False),   # present after this run
    Column("new", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("reopened", Integer, nullable=False),
    # A scan's --out and the folder its outputs were written into before the swap: the
    # store commits first, then the folder is swapped in; a scan killed in between is
    # finished by the next one (compliance/nightly.py).
    Column("out_dir", Text),
    Column("staged_dir", Text),
)

# Every finding ever seen, by its stable id, with its current (or last known) fields.
findings = Table(
    "findings", metadata,
    Column("id", String(16), primary_key=True),
    Column("rule", String(100), nullable=False),
    Column("case", String, nullable=False),
    Column("event", String),
    Column("meeting", String),
    Column("unit", String),
    Column("status", String(16), nullable=False),
    Column("due", String(10), nullable=False),
    Column("actual", String(10)),
    Column("rule_version", String(32)),
    Column("days_late", Integer, nullable=False),
    Column("business_days_late", Integer, nullable=False),
    Column("data", Text, nullable=False),          # the findings.jsonl line (JSON)
    Column("state", String(10), nullable=False),
    Column("first_seen_run", ForeignKey("runs.id"), nullable=False),
    Column("resolved_run", ForeignKey("runs.id")),  # set while resolved
    _one_of("state", FINDING_STATES, "state"),
    Index(None, "case"),
    Index(None, "unit", "state"),
    Index(None, "state"),
    Index(None, "first_seen_run"),
)

# What each run changed about a finding: the values it saw and those before it.
finding_changes = Table(
    "finding_changes", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("finding_id", ForeignKey("findings.id"), nullable=False),
    Column("change", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("due", String(10), nullable=False),
    Column("actual", String(10)),
    Column("rule_version", String(32)),
    Column("old_status", String(16)),
    Column("old_due", String(10)),
    Column("old_actual", String(10)),
    Column("old_rule_version", String(32)),
    _one_of("change", CHANGES, "change"),
    Index(None, "run_id"),
    Index(None, "finding_id", "run_id"),
)

# Review decisions (granskningsbeslut): appended, never updated or deleted.
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("finding_id", ForeignKey("findings.id"), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("reason", Text),
    Column("reference", String(100)),              # the deviation's reference, e.g. AV-2025-07
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("source", String(8), nullable=False),
    Column("from_address", String(100)),           # the web client's address
    Column("seen_run", ForeignKey("runs.id"), nullable=False),  # the newest run when decided
    Column("event_id", String),                    # the log's deviation.filed event
    Column("event_date", String(10)),
    _one_of("decision", DECISIONS, "decision"),
    _one_of("source", SOURCES, "source"),
    Index(None, "finding_id"),
)

# People who sign in to the review app (issue 13), and the units a unit head sees.
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text),                 # None: signs in through the SSO proxy only
    Column("disabled", Boolean(create_constraint=False), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    _one_of("role", ROLES, "role"),
)

user_units = Table(
    "user_units", metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("unit", String, primary_key=True),
    Index(None, "unit"),
)

# Every sign-in attempt, successful or not (audit trail; also the attempt limit).
sign_ins = Table(
    "sign_ins", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_name", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("address", String(100)),
    Column("success", Boolean(create_constraint=False), nullable=False),
    Index(None, "user_name", "at"),
    Index(None, "address", "at"),
)

# A case's last result, for incremental scans: reused while nothing it depends on changed.
case_results = Table(
    "case_results", metadata,
    Column("case", String, primary_key=True),
    Column("events_digest", String(64), nullable=False),
    Column("context_digest", String(64), nullable=False),   # rules + profile + calendar + warn horizon
    Column("stable_until", String(10)),            # first as-of on which the result may change
    Column("findings", LargeBinary, nullable=False),
    Column("evidence", LargeBinary, nullable=False),
    Column("summary", LargeBinary, nullable=False),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
)

# The newest run's view of each case, for the review app and its drafts: the case's
# summary (its cases.jsonl line: routing, meetings, the statistics' facts) and the events
# its findings cite (its evidence.jsonl lines). Pseudonymous, as the scan's outputs are.
# A case is rewritten only when its lines change (`digest`); `run_id` is the run that
# wrote it last.
case_summaries = Table(
    "case_summaries", metadata,
    Column("case", String, primary_key=True),
    Column("summary", Text, nullable=False),       # the cases.jsonl line (JSON)
    Column("digest", String(64), nullable=False),  # of the summary and the evidence rows
    Column("run_id", ForeignKey("runs.id"), nullable=False),
)

evidence = Table(
    "evidence", metadata,
    Column("case", ForeignKey("case_summaries.case"), primary_key=True),
    Column("id", String, primary_key=True),        # the event's id
    Column("seq", Integer, nullable=False),        # its place in the case's evidence.jsonl lines
    Column("type", String(64), nullable=False),
    Column("date", String(10)),                    # local date in Stockholm, ISO
    Column("time", String(8)),                     # local time HH:MM, or None
    Column("unit", String),
    Column("meeting", String),
    Column("to", String),
    Column("kind", String(32)),
    Column("planned", String(10)),
)
