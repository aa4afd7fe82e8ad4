"""Commands of every kind the central node sends to sites (erasures, enrolments, users), not only erasures.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("fed_erasures", "fed_commands")
    with op.batch_alter_table("fed_commands") as b:
        b.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="erase"))
        b.alter_column("person_id", new_column_name="target")


def downgrade() -> None:
    with op.batch_alter_table("fed_commands") as b:
        b.alter_column("target", new_column_name="person_id")
        b.drop_column("kind")
    op.rename_table("fed_commands", "fed_erasures")
