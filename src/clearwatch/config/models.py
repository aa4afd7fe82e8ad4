"""The configuration schema. Every section forbids unknown keys so typos are caught."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clearwatch.config.analytics import (
    CounterConfig,
    DetectConfig,
    EventsConfig,
    FacesConfig,
    IdentityConfig,
    LineConfig,
    MachineConfig,
    MotionConfig,
    MqttConfig,
    ObjectsConfig,
    WebConfig,
    WebhookConfig,
    ZoneConfig,
)
from clearwatch.config.units import ByteSize, Duration

CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}


def _camera_name(name: str) -> str:
    if not CAMERA_NAME.match(name):
        raise ValueError(f"camera name {name!r} must be 1-64 letters, digits, '_' or '-' (it is used in paths)")
    return name


CameraName = Annotated[str, AfterValidator(_camera_name)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DatabaseConfig(Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file clearwatch.db in the data directory.",
    )

    @field_validator("url")
    @classmethod
    def _known_backend(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = v.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(f"unsupported database {scheme!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")
        return v


class StorageConfig(Section):
    recordings_dir: Path | None = Field(default=None, description="Default: <data_dir>/recordings.")
    max_size: ByteSize | None = Field(default=None, description="Total quota for all recordings.")
    min_free: ByteSize = Field(default=1_000_000_000, description="Free space to keep on the file system.")


class RetentionConfig(Section):
    days: float = Field(default=7.0, gt=0, description="Default age limit for recordings.")
    interval: Duration = Field(default=60.0, ge=1, description="How often retention runs.")


class RecordConfig(Section):
    """Recording settings; a camera's own ``record`` section overrides these key by key."""

    enabled: bool | None = None
    mode: Literal["continuous", "motion", "events"] | None = None
    segment_seconds: Duration | None = Field(default=None, ge=2, le=600)
    pre_roll: Duration | None = Field(default=None, ge=0, le=120)
    post_roll: Duration | None = Field(default=None, ge=0, le=600)
    retention_days: float | None = Field(default=None, gt=0)


RECORD_DEFAULTS = RecordConfig(
    enabled=True, mode="continuous", segment_seconds=10.0, pre_roll=5.0, post_roll=10.0
)


class ReconnectConfig(Section):
    initial_delay: Duration = Field(default=0.5, gt=0, le=60)
    max_delay: Duration = Field(default=5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must be at least initial_delay")
        return self


class CameraConfig(Section):
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
    record: RecordConfig = Field(default_factory=RecordConfig)
    # analytics: a camera's detect/motion/objects sections override the global ones key by key
    detect: DetectConfig | None = None
    motion: MotionConfig | None = None
    objects: ObjectsConfig | None = None
    faces: FacesConfig | None = None
    zones: dict[CameraName, ZoneConfig] = Field(default_factory=dict)
    lines: dict[CameraName, LineConfig] = Field(default_factory=dict)
    machines: dict[CameraName, MachineConfig] = Field(default_factory=dict)
    counters: dict[CameraName, CounterConfig] = Field(default_factory=dict)

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

    @property
    def is_file(self) -> bool:
        return urlsplit(self.url).scheme.lower() not in NETWORK_SCHEMES

    @property
    def file_path(self) -> Path:
        parts = urlsplit(self.url)
        return Path(parts.path if parts.scheme == "file" else self.url)


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(Section):
    data_dir: Path = Field(default=Path("clearwatch-data"), description="Where Clearwatch keeps its data.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    webhooks: dict[CameraName, WebhookConfig] = Field(default_factory=dict)
    cameras: dict[CameraName, CameraConfig] = Field(default_factory=dict)

    @field_validator("cameras", mode="before")
    @classmethod
    def _no_cameras(cls, v: object) -> object:
        return {} if v is None else v

    # Resolved settings -------------------------------------------------------------------------------

    @property
    def recordings_dir(self) -> Path:
        return self.storage.recordings_dir or self.data_dir / "recordings"

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'clearwatch.db').absolute()}"

    def detect_for(self, camera: str) -> DetectConfig:
        return _overlay(self.detect, self.cameras[camera].detect)

    def motion_for(self, camera: str) -> MotionConfig:
        return _overlay(self.motion, self.cameras[camera].motion)

    def objects_for(self, camera: str) -> ObjectsConfig:
        return _overlay(self.objects, self.cameras[camera].objects)

    def faces_for(self, camera: str) -> FacesConfig:
        return _overlay(self.faces, self.cameras[camera].faces)

    def record_for(self, camera: str) -> ResolvedRecord:
        own = self.cameras[camera].record
        merged = {}
        for field in RecordConfig.model_fields:
            for layer in (own, self.record, RECORD_DEFAULTS):
                value = getattr(layer, field)
                if value is not None:
                    merged[field] = value
                    break
        merged.setdefault("retention_days", self.retention.days)
        return ResolvedRecord(**merged)


S = TypeVar("S", bound=BaseModel)


def _overlay(base: S, own: S | None) -> S:
    """``base`` with the keys the camera's section actually wrote."""
    if own is None:
        return base
    return base.model_copy(update=own.model_dump(exclude_unset=True))


class ResolvedRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    enabled: bool
    mode: Literal["continuous", "motion", "events"]
    segment_seconds: float
    pre_roll: float
    post_roll: float
    retention_days: float
