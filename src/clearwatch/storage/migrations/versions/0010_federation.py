"""Sites and the central node: where a row came from, what the central node has applied from each site.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as b:
        b.add_column(sa.Column("site", sa.String(64)))
        b.add_column(sa.Column("version", sa.BigInteger))
    op.create_index("ix_events_site_start", "events", ["site", "start"])
    with op.batch_alter_table("alarms") as b:
        b.add_column(sa.Column("site", sa.String(64)))
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("sites", sa.JSON))
    op.create_table(
        "fed_sites",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("applied", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("gaps", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rejected", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_message_at", UTCDateTime()),
        sa.Column("last_event_at", UTCDateTime()),
        sa.Column("health", sa.JSON),
        sa.Column("link_up", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("link_checked_at", UTCDateTime()),
        sa.Column("link_error", sa.Text),
        sa.Column("link_changed_at", UTCDateTime()),
    )
    op.create_table(
        "fed_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("site", "kind", "key", name="uq_fed_records_site_kind_key"),
    )
    op.create_table(
        "fed_erasures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fed_erasures")
    op.drop_table("fed_records")
    op.drop_table("fed_sites")
    with op.batch_alter_table("users") as b:
        b.drop_column("sites")
    with op.batch_alter_table("alarms") as b:
        b.drop_column("site")
    op.drop_index("ix_events_site_start", "events")
    with op.batch_alter_table("events") as b:
        b.drop_column("version")
        b.drop_column("site")
