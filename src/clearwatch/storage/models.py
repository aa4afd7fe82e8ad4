"""ORM models. Schema changes go through Alembic migrations in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from clearwatch.storage.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class Segment(Base):
    """One MP4 file of one camera. ``status`` is 'recording' until the file is closed."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(512), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="recording")
    codec: Mapped[str | None] = mapped_column(String(32), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_segments_camera_start", "camera", "start"),
        Index("ix_segments_start", "start"),
    )


class CameraStatus(Base):
    """Last known health of a camera, written by the running service for the CLI and API."""

    __tablename__ = "camera_status"

    camera: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    recording: Mapped[str] = mapped_column(String(16), default="off")
    fps_in: Mapped[float] = mapped_column(Float, default=0.0)
    last_frame_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    connected_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sound: Mapped[str | None] = mapped_column(String(64), nullable=True)  # what of its sound is recorded
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Hold(Base):
    """Footage that retention must keep: an evidence hold, or an export in progress."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # 'evidence' | 'export'
    camera: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: every camera
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EventRecord(Base):
    """An analytics event (object, loitering, machine state); ``end`` is NULL while it is going on."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    track_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    crossings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    box: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    path: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    snapshot: Mapped[str | None] = mapped_column(String(255), nullable=True)
    identity: Mapped[str | None] = mapped_column(String(32), nullable=True)
    identity_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    face_snapshot: Mapped[str | None] = mapped_column(String(255), nullable=True)
    clip_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clip_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: this installation's own
    version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the site's version, at the central node

    __table_args__ = (
        Index("ix_events_site_start", "site", "start"),
        Index("ix_events_site_camera_start", "site", "camera", "start"),
        Index("ix_events_camera_start", "camera", "start"),
        Index("ix_events_start", "start"),
        Index("ix_events_label_start", "label", "start"),
        Index("ix_events_kind_start", "kind", "start"),
    )


class OutboxMessage(Base):
    """A message waiting for delivery; written in the same transaction as the event it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    target: Mapped[str] = mapped_column(String(80))  # 'mqtt' | 'webhook:<name>'
    topic: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    retain: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[float] = mapped_column(Float, default=0.0)  # epoch seconds
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | failed
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_target_status_id", "target", "status", "id"),)


class HourlyStat(Base):
    """Per hour: a machine's seconds per state and starts/stops, or a counter's crossings."""

    __tablename__ = "hourly_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # machine | counter
    name: Mapped[str] = mapped_column(String(64))
    hour: Mapped[datetime] = mapped_column(UTCDateTime())
    running_s: Mapped[float] = mapped_column(Float, default=0.0)
    idle_s: Mapped[float] = mapped_column(Float, default=0.0)
    stopped_s: Mapped[float] = mapped_column(Float, default=0.0)
    starts: Mapped[int] = mapped_column(Integer, default=0)
    stops: Mapped[int] = mapped_column(Integer, default=0)
    count_in: Mapped[int] = mapped_column(Integer, default=0)
    count_out: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("camera", "kind", "name", "hour", name="uq_hourly_stats_key"),)


class Person(Base):
    """Someone an authorised operator enrolled, with the legal basis for holding their biometrics."""

    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    watchlists: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text)
    enrolled_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FaceTemplate(Base):
    """One enrolled face: its embedding and aligned crop, both encrypted (AES-GCM)."""

    __tablename__ = "face_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32), ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    template: Mapped[bytes] = mapped_column(LargeBinary)
    crop: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    quality: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255))
    photo_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Setting(Base):
    """Small facts about this database (e.g. which encryption key wrote it, as a fingerprint)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    """Someone who may use the console or the API. ``cameras`` None means every camera."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | viewer | auditor
    password_hash: Mapped[str] = mapped_column(String(255))
    cameras: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    sites: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # at the central node; None: every site
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for machines; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    """A console login: the cookie carries a random token, the database only its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditRecord(Base):
    """One entry of the append-only audit trail; ``hash`` chains it to the entry before."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, as hashed
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    justification: Mapped[str | None] = mapped_column(Text, nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_actor_id", "actor", "id"), Index("ix_audit_action_id", "action", "id"))


class FingerTemplate(Base):
    """One enrolled finger: its minutiae template (and optionally the image), encrypted like face templates."""

    __tablename__ = "finger_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32), ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    finger: Mapped[int] = mapped_column(Integer)  # ISO finger position 1-10
    template: Mapped[bytes] = mapped_column(LargeBinary)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    minutiae: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlateList(Base):
    """A named list of plates with what a match means: allow, deny, watch, or visitors (with validity dates)."""

    __tablename__ = "plate_lists"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlateListEntry(Base):
    __tablename__ = "plate_list_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str] = mapped_column(String(64), ForeignKey("plate_lists.name", ondelete="CASCADE"))
    plate: Mapped[str] = mapped_column(String(16), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("list_name", "plate", name="uq_plate_list_entries_list_plate"),)


class Alarm(Base):
    """One alarm on the desk: raised by a rule, repeats grouped into it, acknowledged and closed by people."""

    __tablename__ = "alarms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    camera: Mapped[str | None] = mapped_column(String(64), nullable=True)
    priority: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # new | acknowledged | closed
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    event_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    snapshot: Mapped[str | None] = mapped_column(String(255), nullable=True)
    clip_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clip_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: this installation's own

    __table_args__ = (
        Index("ix_alarms_state_priority", "state", "priority"),
        Index("ix_alarms_rule_camera_state", "rule", "camera", "state"),
        Index("ix_alarms_first_at", "first_at"),
    )


class Arming(Base):
    """A schedule forced on (armed) or off (disarmed) by hand, until a time or until set back to automatic."""

    __tablename__ = "arming"

    schedule: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # armed | disarmed
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    set_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditCheckpoint(Base):
    """A signed statement of the audit chain's head (``record_id``, ``hash``) at a moment: made every few minutes
    and at every trim of old records, so what remains still verifies and a rewritten chain shows."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # interval | trim | manual
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(Text)  # the signed JSON, as published


class Approval(Base):
    """A request for an action that needs a second authorised person (dual authorisation), and its decision."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action: Mapped[str] = mapped_column(String(32))  # export | face_search | finger_search | unmask
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected | used
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_approvals_state_created", "state", "created_at"),)


class FedSite(Base):
    """At the central node: one site, how far its stream has been applied, and its link."""

    __tablename__ = "fed_sites"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # the site stream's sequence last applied
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[int] = mapped_column(BigInteger, default=0)  # site-stream messages never seen (should stay 0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    link_up: Mapped[bool] = mapped_column(Boolean, default=False)
    link_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    link_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    link_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FedRecord(Base):
    """At the central node: the latest of a site's other records (audit checkpoints, erasure receipts)."""

    __tablename__ = "fed_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("site", "kind", "key", name="uq_fed_records_site_kind_key"),)


class FedCommand(Base):
    """At the central node: what it told sites (erase a person, enrol one, users); their confirmations are
    FedRecords of kind 'receipt' keyed by the command's id."""

    __tablename__ = "fed_commands"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="erase")  # erase | person | users
    target: Mapped[str] = mapped_column(String(32))  # the person (erase, person) or '' (users)
    requested_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sites: Mapped[list[str]] = mapped_column(JSON)
