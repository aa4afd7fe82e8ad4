"""The alarm desk and manual arming of schedules.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("camera", sa.String(64)),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(32)),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.String(255)),
        sa.Column("clip_start", UTCDateTime()),
        sa.Column("clip_end", UTCDateTime()),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("acked_by", sa.String(64)),
        sa.Column("acked_at", UTCDateTime()),
        sa.Column("ack_note", sa.Text),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("close_note", sa.Text),
        sa.Column("escalated_at", UTCDateTime()),
    )
    op.create_index("ix_alarms_state_priority", "alarms", ["state", "priority"])
    op.create_index("ix_alarms_rule_camera_state", "alarms", ["rule", "camera", "state"])
    op.create_index("ix_alarms_first_at", "alarms", ["first_at"])
    op.create_table(
        "arming",
        sa.Column("schedule", sa.String(64), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("until", UTCDateTime()),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("arming")
    op.drop_index("ix_alarms_first_at", "alarms")
    op.drop_index("ix_alarms_rule_camera_state", "alarms")
    op.drop_index("ix_alarms_state_priority", "alarms")
    op.drop_table("alarms")
