"""Users of the review app (roles and units) and the audit trail of their sign-ins.

Revision 0002, after 0001.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("disabled", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.CheckConstraint(sa.column("role").in_(("enhetschef", "samordnare", "revisor", "admin")),
                           name=op.f("ck_users_role")),
    )
    op.create_table(
        "user_units",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("unit", sa.String, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "unit", name=op.f("pk_user_units")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_units_user_id_users")),
    )
    op.create_index(op.f("ix_user_units_unit"), "user_units", ["unit"])
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(100)),
        sa.Column("success", sa.Boolean(create_constraint=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_ins")),
    )
    op.create_index(op.f("ix_sign_ins_user_name_at"), "sign_ins", ["user_name", "at"])
    op.create_index(op.f("ix_sign_ins_address_at"), "sign_ins", ["address", "at"])


def downgrade() -> None:
    for table in ("sign_ins", "user_units", "users"):
        op.drop_table(table)
