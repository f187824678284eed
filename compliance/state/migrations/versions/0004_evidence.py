"""Each case's evidence events and summary, for the review app and its drafts.

Revision 0004, after 0003.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_summaries",
        sa.Column("case", sa.String, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("case", name=op.f("pk_case_summaries")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_case_summaries_run_id_runs")),
    )
    op.create_table(
        "evidence",
        sa.Column("case", sa.String, nullable=False),
        sa.Column("id", sa.String, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("date", sa.String(10)),
        sa.Column("time", sa.String(8)),
        sa.Column("unit", sa.String),
        sa.Column("meeting", sa.String),
        sa.Column("to", sa.String),
        sa.Column("kind", sa.String(32)),
        sa.Column("planned", sa.String(10)),
        sa.PrimaryKeyConstraint("case", "id", name=op.f("pk_evidence")),
        sa.ForeignKeyConstraint(["case"], ["case_summaries.case"], name=op.f("fk_evidence_case_case_summaries")),
    )


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("case_summaries")
