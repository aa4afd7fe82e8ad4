"""A camera's configuration, resolved: the site-wide sections (``record``, ``detect``, ``motion``, ``objects``,
``faces``, ``events``, ``plates``, ``tamper``) deep-merged under the camera's own, then validated as a whole. Everything
that runs a camera (recording, analytics, the API, ``analyze``) reads this one object; nothing merges again."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clearwatch.config.analytics import (
    CounterConfig,
    DetectConfig,
    LineConfig,
    MachineConfig,
    MotionConfig,
    ObjectsConfig,
    Polygon,
    TamperConfig,
    ZoneConfig,
)
from clearwatch.config.base import Name, Section
from clearwatch.config.events import EventsConfig
from clearwatch.config.identity import FacesConfig
from clearwatch.config.plates import PlatesConfig
from clearwatch.config.units import Duration

NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}


class RecordConfig(Section):
    enabled: bool = True
    mode: Literal["continuous", "motion", "events"] = "continuous"
    segment_seconds: Duration = Field(default=10.0, ge=2, le=600)
    pre_roll: Duration = Field(default=5.0, ge=0, le=120)
    post_roll: Duration = Field(default=10.0, ge=0, le=600)
    retention_days: float = Field(default=7.0, gt=0, description="Default: retention.days.")
    audio: bool = Field(
        default=False,
        description="Record the camera's sound with its video, and let live and playback viewers hear it on request. "
                    "Off unless set: recording sound is legally sensitive (in many places it needs its own legal "
                    "basis and signage). AAC and Opus are kept as sent; G.711 is converted to AAC.",
    )


class ReconnectConfig(Section):
    initial_delay: Duration = Field(default=0.5, gt=0, le=60)
    max_delay: Duration = Field(default=5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must be at least initial_delay")
        return self


class CameraSections(Section):
    """The sections a camera inherits from the site's (top-level) ones and may override key by key."""

    record: RecordConfig = Field(default_factory=RecordConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    plates: PlatesConfig = Field(default_factory=PlatesConfig)
    tamper: TamperConfig = Field(default_factory=TamperConfig)


INHERITED: dict[str, type[Section]] = {name: cast(type[Section], f.annotation)
                                       for name, f in CameraSections.model_fields.items()}


class CameraConfig(CameraSections):
    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The camera's key under 'cameras:' (set from it, and checked there).")
    url: str = Field(
        description="rtsp://, rtsps://, http(s):// stream, or a video file path (file:// or plain).",
        repr=False,
    )
    detect_url: str | None = Field(
        default=None, repr=False,
        description="A smaller stream of the same camera (a sub-stream) for analytics; default: url.",
    )
    enabled: bool = True
    loop: bool = Field(default=True, description="Files only: loop as a live camera at native rate.")
    stall_timeout: Duration = Field(default=5.0, ge=1, le=60)
    open_timeout: Duration = Field(default=10.0, ge=1, le=120)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    zones: dict[Name, ZoneConfig] = Field(default_factory=dict)
    lines: dict[Name, LineConfig] = Field(default_factory=dict)
    machines: dict[Name, MachineConfig] = Field(default_factory=dict)
    counters: dict[Name, CounterConfig] = Field(default_factory=dict)
    privacy_masks: list[Polygon] = Field(
        default_factory=list, description="Never shown to roles without 'unmask': live, snapshots, playback, exports.")

    @field_validator("url", "detect_url")
    @classmethod
    def _check_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        parts = urlsplit(v)
        scheme = parts.scheme.lower()
        if scheme in NETWORK_SCHEMES:
            if not parts.hostname:
                raise ValueError(f"{scheme}:// URL has no host")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ValueError("URL has an invalid port") from None
            return v
        if scheme == "file" or scheme == "" or (len(scheme) == 1 and v[1:3] in (":\\", ":/")):
            path = Path(parts.path if scheme == "file" else v)
            base = (info.context or {}).get("base_dir")
            if base is not None and not path.is_absolute():
                path = Path(base) / path
            if not path.is_file():
                raise ValueError(f"video file not found: {path}")
            return str(path.absolute())
        raise ValueError(f"unsupported scheme {scheme!r}: use rtsp, rtsps, http, https or a file path")

    def detect_source(self) -> CameraConfig:
        """This camera as seen through its detect stream."""
        if self.detect_url is None:
            return self
        return self.model_copy(update={"url": self.detect_url, "detect_url": None})

    @model_validator(mode="after")
    def _plate_line(self) -> CameraConfig:
        if self.plates.line is not None and self.plates.line not in self.lines:
            raise ValueError(f"plates.line {self.plates.line!r} is not one of this camera's lines "
                             f"({', '.join(self.lines) or 'none'})")
        return self

    @property
    def analysed(self) -> bool:
        """Frames are decoded for analytics: detection is on, or recording waits for motion or events."""
        return self.detect.enabled or self.record.mode in ("motion", "events")

    @property
    def detects_objects(self) -> bool:
        return self.detect.enabled and self.objects.enabled and not (self.plates.enabled and self.plates.dedicated)

    @property
    def reads_plates(self) -> bool:
        return self.detect.enabled and self.plates.enabled

    @property
    def is_file(self) -> bool:
        return urlsplit(self.url).scheme.lower() not in NETWORK_SCHEMES

    @property
    def file_path(self) -> Path:
        parts = urlsplit(self.url)
        return Path(parts.path if parts.scheme == "file" else self.url)


def deep_merge(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """``own`` over ``base``, mapping by mapping; anything else in ``own`` (a list, a number) replaces."""
    out = dict(base)
    for key, value in own.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def site_defaults(data: Mapping[str, Any], context: Any = None) -> dict[str, dict[str, Any]]:
    """The site-wide sections of raw config data that a camera inherits. A section that is invalid on its own
    is left out: its error is reported once, where it was written, not again under every camera."""
    out: dict[str, dict[str, Any]] = {}
    for key, section in INHERITED.items():
        raw = data.get(key)
        if not isinstance(raw, Mapping):
            continue
        try:
            section.model_validate(raw, context=context)
        except ValidationError:
            continue
        out[key] = dict(raw)
    retention = data.get("retention")
    if isinstance(retention, Mapping) and isinstance(retention.get("days"), int | float) \
            and not isinstance(retention.get("days"), bool) and retention["days"] > 0:
        out["record"] = {"retention_days": retention["days"], **out.get("record", {})}
    return out


def resolve_camera(name: str, own: Any, site: Mapping[str, Mapping[str, Any]]) -> Any:
    """A camera's raw section with the site's sections merged under it (still to be validated)."""
    if not isinstance(own, Mapping):
        return own
    merged = {"name": name, **own}
    for key, base in site.items():
        mine = own.get(key, {})
        if isinstance(mine, Mapping):
            merged[key] = deep_merge(base, mine)
    return merged
