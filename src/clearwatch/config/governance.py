"""Config for accountability: the signing key, audit checkpoints, and how long each kind of data is kept."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clearwatch.config.base import ConfigPath, Name, Section
from clearwatch.config.units import Duration

DAY = 86400.0


class GovernanceConfig(Section):
    signing_key: ConfigPath | None = Field(
        default=None, description="Ed25519 private key (PEM, mode 600). Default: <data_dir>/signing.key, created "
                                  "on first use.")
    signing_key_env: str = Field(default="CLEARWATCH_SIGNING_KEY", description="Or the PEM text in this variable.")
    trusted_keys: list[str] = Field(default_factory=list,
                                    description="Other key ids whose signatures verify (e.g. a previous key).")
    checkpoint_interval: Duration = Field(default=600.0, ge=10,
                                          description="How often the audit trail's head is signed.")
    witnesses: list[Name] = Field(default_factory=list,
                                  description="Webhooks that receive each signed checkpoint (MQTT gets it too).")
    dual_authorisation: list[Literal["export", "face_search", "finger_search", "unmask"]] = Field(
        default_factory=list, description="Actions that need a second authorised user's approval first.")
    approval_ttl: Duration = Field(default=3600.0, ge=60, description="How long a request (and an unmasking) holds.")
    public_transparency: bool = Field(default=False,
                                      description="Serve the transparency report at /transparency without login.")


class DataRetentionConfig(Section):
    """How long each kind of data is kept, beside the footage's ``retention.days``. Evidence holds keep
    anything of their cameras and time range, whatever its kind."""

    unknown_faces: Duration = Field(default=3 * DAY, gt=0,
                                    description="Face crops of people nobody recognised (72 h).")
    identity_links: Duration | None = Field(default=None, gt=0,
                                            description="Who was recognised in an event; default: the event's.")
    plates: Duration = Field(default=7 * DAY, gt=0, description="Plate reads that hit no list.")
    plate_hits: Duration = Field(default=90 * DAY, gt=0, description="Plate reads that hit a list, and alerts.")
    alarms: Duration = Field(default=90 * DAY, gt=0, description="Closed alarms.")
    exports: Duration = Field(default=7 * DAY, gt=0, description="Exports kept on the server for download.")
    audit: Duration | None = Field(default=None, gt=0,
                                   description="Audit records; default: kept for ever. Trimmed at a signed "
                                               "checkpoint, so what remains still verifies.")
