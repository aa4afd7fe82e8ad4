"""Video core: segments, camera status, holds.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("path", sa.String(512), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("codec", sa.String(32)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
    )
    op.create_index("ix_segments_camera_start", "segments", ["camera", "start"])
    op.create_index("ix_segments_start", "segments", ["start"])
    op.create_table(
        "camera_status",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("recording", sa.String(16), nullable=False),
        sa.Column("fps_in", sa.Float, nullable=False),
        sa.Column("last_frame_at", UTCDateTime()),
        sa.Column("connected_since", UTCDateTime()),
        sa.Column("reconnects", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("camera", sa.String(64)),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
    )


def downgrade() -> None:
    op.drop_table("holds")
    op.drop_table("camera_status")
    op.drop_index("ix_segments_start", "segments")
    op.drop_index("ix_segments_camera_start", "segments")
    op.drop_table("segments")
