"""Where a run's outputs were staged and published (the scan folder swapped in after the
store's commit; docs/state.md, "A scan with a store").

Revision 0005, after 0004.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("out_dir", sa.Text))
        batch.add_column(sa.Column("staged_dir", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("staged_dir")
        batch.drop_column("out_dir")
