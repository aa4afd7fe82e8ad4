"""Analytics: events, the delivery outbox, hourly machine and counter statistics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime()),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("track_id", sa.Integer),
        sa.Column("zones", sa.JSON, nullable=False),
        sa.Column("crossings", sa.JSON, nullable=False),
        sa.Column("box", sa.JSON),
        sa.Column("path", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.String(255)),
        sa.Column("clip_start", UTCDateTime()),
        sa.Column("clip_end", UTCDateTime()),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_events_camera_start", "events", ["camera", "start"])
    op.create_index("ix_events_start", "events", ["start"])
    op.create_index("ix_events_label_start", "events", ["label", "start"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("retain", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_target_status_id", "outbox", ["target", "status", "id"])
    op.create_table(
        "hourly_stats",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("running_s", sa.Float, nullable=False),
        sa.Column("idle_s", sa.Float, nullable=False),
        sa.Column("stopped_s", sa.Float, nullable=False),
        sa.Column("starts", sa.Integer, nullable=False),
        sa.Column("stops", sa.Integer, nullable=False),
        sa.Column("count_in", sa.Integer, nullable=False),
        sa.Column("count_out", sa.Integer, nullable=False),
        sa.UniqueConstraint("camera", "kind", "name", "hour", name="uq_hourly_stats_key"),
    )


def downgrade() -> None:
    op.drop_table("hourly_stats")
    op.drop_index("ix_outbox_target_status_id", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_events_label_start", "events")
    op.drop_index("ix_events_start", "events")
    op.drop_index("ix_events_camera_start", "events")
    op.drop_table("events")
