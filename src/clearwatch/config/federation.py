"""Config for sites and the central node: how each reaches its NATS server, and what the central node sources."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from clearwatch.config.base import ConfigPath, Name, Section
from clearwatch.config.units import ByteSize, Duration


class NatsConnection(Section):
    url: str = Field(default="nats://127.0.0.1:4222", description="nats:// or tls:// URL of the server.")
    user: str | None = None
    password: str | None = Field(default=None, repr=False)
    tls_ca: ConfigPath | None = Field(default=None, description="CA file to verify the server (turns TLS on).")
    tls_cert: ConfigPath | None = Field(default=None, description="Client certificate, when the server asks.")
    tls_key: ConfigPath | None = None
    connect_timeout: Duration = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("nats://", "tls://")):
            raise ValueError(f"{v!r}: a NATS URL starts with nats:// or tls://")
        return v

    @model_validator(mode="after")
    def _pairs(self) -> NatsConnection:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


class SiteLinkConfig(NatsConnection):
    """A site's link: its own (leaf) server keeps what the site publishes until the central node has it."""

    domain: str | None = Field(default=None, description="The site server's JetStream domain (default site-NAME).")
    hub_domain: str = Field(default="hub", description="The central server's JetStream domain.")
    stream_max_age: Duration = Field(default=7 * 86400.0, ge=3600,
                                     description="How long the site's stream keeps what the hub has not taken.")
    stream_max_bytes: ByteSize = Field(default=2_000_000_000, ge=10_000_000)
    lag_alarm: float = Field(default=0.5, gt=0, le=0.9, description=(
        "Alarm when the oldest message the hub has not taken is older than this share of stream_max_age: an "
        "outage longer than the stream's age loses data, so say so well before."))
    snapshot_max_bytes: ByteSize = Field(default=512_000, ge=0, description="Larger snapshots stay at the site.")
    health_interval: Duration = Field(default=10.0, ge=1)


class CentralSiteConfig(Section):
    domain: str | None = Field(default=None, description="The site server's JetStream domain (default site-NAME).")
    leaf_password: str | None = Field(default=None, repr=False, description=(
        "Password of the site server's leaf connection (user = the site's name), for `federation nats-config`."))


class CentralConfig(Section):
    """``clearwatch central``: no cameras; sources every site's stream and serves one console over all of them."""

    nats: NatsConnection = Field(default_factory=NatsConnection)
    hub_domain: str = "hub"
    sites: dict[Name, CentralSiteConfig] = Field(default_factory=dict)
    ping_interval: Duration = Field(default=5.0, ge=0.5, description="How often each site's link is checked.")
    request_timeout: Duration = Field(default=10.0, ge=1, description="Longest wait for a site's answer.")
    commands_max_age: Duration = Field(default=30 * 86400.0, ge=3600,
                                       description="How long a command waits for an offline site.")


def site_domain(name: str, configured: str | None) -> str:
    return configured or f"site-{name}"
