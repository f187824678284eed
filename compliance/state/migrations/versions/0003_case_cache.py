"""Each case's last result, for incremental scans (state.md, "Incremental scans").

Revision 0003, after 0002.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_results",
        sa.Column("case", sa.String, nullable=False),
        sa.Column("events_digest", sa.String(64), nullable=False),
        sa.Column("context_digest", sa.String(64), nullable=False),
        sa.Column("stable_until", sa.String(10)),
        sa.Column("findings", sa.LargeBinary, nullable=False),
        sa.Column("evidence", sa.LargeBinary, nullable=False),
        sa.Column("summary", sa.LargeBinary, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("case", name=op.f("pk_case_results")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_case_results_run_id_runs")),
    )


def downgrade() -> None:
    op.drop_table("case_results")
