"""The console and API's config section."""

from __future__ import annotations

from pydantic import Field

from clearwatch.config.base import Section


class WebConfig(Section):
    """The console and API. Keep it on 127.0.0.1 unless a TLS-terminating proxy stands in front."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
