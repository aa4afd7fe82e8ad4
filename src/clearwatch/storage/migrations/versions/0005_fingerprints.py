"""Fingerprint templates of enrolled people (encrypted).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finger_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("finger", sa.Integer, nullable=False),
        sa.Column("template", sa.LargeBinary, nullable=False),
        sa.Column("image", sa.LargeBinary),
        sa.Column("minutiae", sa.Integer, nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_finger_templates_person_id", "finger_templates", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_finger_templates_person_id", "finger_templates")
    op.drop_table("finger_templates")
