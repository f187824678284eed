"""The nightly state of a scan: runs, findings and their changes, review decisions.

Revision 0001, the first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    return sa.CheckConstraint(sa.column(column).in_(values), name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("new", sa.Integer, nullable=False),
        sa.Column("changed", sa.Integer, nullable=False),
        sa.Column("resolved", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("case", sa.String, nullable=False),
        sa.Column("event", sa.String),
        sa.Column("meeting", sa.String),
        sa.Column("unit", sa.String),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("actual", sa.String(10)),
        sa.Column("rule_version", sa.String(32)),
        sa.Column("days_late", sa.Integer, nullable=False),
        sa.Column("business_days_late", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("first_seen_run", sa.Integer, nullable=False),
        sa.Column("resolved_run", sa.Integer),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.ForeignKeyConstraint(["first_seen_run"], ["runs.id"], name=op.f("fk_findings_first_seen_run_runs")),
        sa.ForeignKeyConstraint(["resolved_run"], ["runs.id"], name=op.f("fk_findings_resolved_run_runs")),
        _one_of("findings", "state", ("present", "resolved")),
    )
    op.create_index(op.f("ix_findings_case"), "findings", ["case"])
    op.create_index(op.f("ix_findings_unit_state"), "findings", ["unit", "state"])
    op.create_index(op.f("ix_findings_state"), "findings", ["state"])
    op.create_index(op.f("ix_findings_first_seen_run"), "findings", ["first_seen_run"])
    op.create_table(
        "finding_changes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("finding_id", sa.String(16), nullable=False),
        sa.Column("change", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("actual", sa.String(10)),
        sa.Column("rule_version", sa.String(32)),
        sa.Column("old_status", sa.String(16)),
        sa.Column("old_due", sa.String(10)),
        sa.Column("old_actual", sa.String(10)),
        sa.Column("old_rule_version", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_changes")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_finding_changes_run_id_runs")),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"],
                                name=op.f("fk_finding_changes_finding_id_findings")),
        _one_of("finding_changes", "change", ("new", "changed", "resolved", "reopened")),
    )
    op.create_index(op.f("ix_finding_changes_run_id"), "finding_changes", ["run_id"])
    op.create_index(op.f("ix_finding_changes_finding_id_run_id"), "finding_changes", ["finding_id", "run_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("finding_id", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("reference", sa.String(100)),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("from_address", sa.String(100)),
        sa.Column("seen_run", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String),
        sa.Column("event_date", sa.String(10)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], name=op.f("fk_decisions_finding_id_findings")),
        sa.ForeignKeyConstraint(["seen_run"], ["runs.id"], name=op.f("fk_decisions_seen_run_runs")),
        _one_of("decisions", "decision",
                ("acknowledged", "deviation-filed", "justified", "data-error", "reopen")),
        _one_of("decisions", "source", ("cli", "web", "log")),
    )
    op.create_index(op.f("ix_decisions_finding_id"), "decisions", ["finding_id"])


def downgrade() -> None:
    for table in ("decisions", "finding_changes", "findings", "runs"):
        op.drop_table(table)
