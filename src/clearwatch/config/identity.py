"""Config sections for the identity registry and face recognition on cameras."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clearwatch.config.base import ConfigPath, Section
from clearwatch.config.units import Duration


class IdentityConfig(Section):
    """The registry of enrolled people. Biometric data is encrypted with a key kept outside the database."""

    key_file: ConfigPath | None = Field(default=None, description="File with the base64 AES-256 key (mode 600).")
    key_env: str = Field(default="CLEARWATCH_KEY", description="Else this environment variable holds the key.")
    operating_point: Literal["1e-2", "1e-3", "1e-4"] = Field(default="1e-3", description="False accept rate.")
    min_enrol_quality: float = Field(default=0.5, ge=0, le=1)
    exact_search_below: int = Field(default=50_000, ge=1, description="Above this many templates: IVF search.")


class FacesConfig(Section):
    """Face recognition on a camera's person tracks."""

    enabled: bool = False
    min_quality: float = Field(default=0.3, ge=0, le=1, description="Faces below this are not embedded.")
    shots: int = Field(default=5, ge=1, le=50, description="Face shots a track collects before deciding.")
    interval: Duration = Field(default=0.4, ge=0, description="Least time between face looks at one track.")
