"""Config sections for events and their delivery (MQTT, webhooks)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clearwatch.config.base import Section
from clearwatch.config.units import Duration

EventType = Literal["start", "update", "end"]
EventKind = Literal["object", "loitering", "machine", "plate", "alert", "tamper", "left", "removed", "alarm"]


class EventsConfig(Section):
    snapshots: bool = True
    retain_days: float | None = Field(default=None, gt=0, description="Default: the recordings' retention.")
    update_interval: Duration = Field(default=5.0, ge=0.5, description="Least time between update messages.")



class MqttConfig(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    topic_prefix: str = Field(default="clearwatch", pattern=r"^[^#+]+$")
    client_id: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    qos: Literal[0, 1, 2] = 1
    keepalive: int = Field(default=30, ge=5, le=3600)


class WebhookConfig(Section):
    url: str = Field(pattern=r"^https?://", repr=False)
    secret: str | None = Field(default=None, repr=False, description="HMAC-SHA256 key for X-Clearwatch-Signature.")
    kinds: list[EventKind] = Field(
        default_factory=list, description="Empty: every event (alarms only when 'alarm' is listed, or by a rule).")
    lists: list[str] = Field(default_factory=list, description="Plate alerts from these plate lists only "
                             "(e.g. an allow list whose hits open a gate); empty: any.")
    types: list[EventType] = Field(default_factory=lambda: list[EventType](["start", "end"]))
    timeout: Duration = Field(default=10.0, gt=0, le=120)
