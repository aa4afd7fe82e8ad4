"""Identity registry: persons, encrypted face templates, settings; who an event's face was.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from clearwatch.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("external_ref", sa.String(200)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("watchlists", sa.JSON, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("enrolled_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_persons_external_ref", "persons", ["external_ref"])
    op.create_table(
        "face_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("template", sa.LargeBinary, nullable=False),
        sa.Column("crop", sa.LargeBinary),
        sa.Column("quality", sa.Float, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_face_templates_person_id", "face_templates", ["person_id"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("identity", sa.String(32)))
        batch.add_column(sa.Column("identity_name", sa.String(200)))
        batch.add_column(sa.Column("similarity", sa.Float))
        batch.add_column(sa.Column("face_snapshot", sa.String(255)))
    op.create_index("ix_events_identity_start", "events", ["identity", "start"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_index("ix_events_identity_start", "events")
    with op.batch_alter_table("events") as batch:
        for col in ("face_snapshot", "similarity", "identity_name", "identity"):
            batch.drop_column(col)
    op.drop_index("ix_face_templates_person_id", "face_templates")
    op.drop_table("face_templates")
    op.drop_index("ix_persons_external_ref", "persons")
    op.drop_table("persons")
