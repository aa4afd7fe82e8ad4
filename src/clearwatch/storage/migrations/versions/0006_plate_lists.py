"""Plate lists (allow, deny, watch, visitors) and their entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_lists",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "plate_list_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("list_name", sa.String(64), sa.ForeignKey("plate_lists.name", ondelete="CASCADE"), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("valid_from", UTCDateTime()),
        sa.Column("valid_until", UTCDateTime()),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("list_name", "plate", name="uq_plate_list_entries_list_plate"),
    )
    op.create_index("ix_plate_list_entries_plate", "plate_list_entries", ["plate"])
    op.create_index("ix_events_kind_start", "events", ["kind", "start"])


def downgrade() -> None:
    op.drop_index("ix_events_kind_start", "events")
    op.drop_index("ix_plate_list_entries_plate", "plate_list_entries")
    op.drop_table("plate_list_entries")
    op.drop_table("plate_lists")
