"""Camera health says whether (and which of) a camera's sound is being recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("camera_status") as batch:
        batch.add_column(sa.Column("sound", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera_status") as batch:
        batch.drop_column("sound")
