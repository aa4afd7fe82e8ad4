"""The configuration schema: site-wide sections and the cameras, each camera resolved once (see ``camera``).
Every section forbids unknown keys so typos are caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from clearwatch.config.base import CameraName, ConfigPath, Name, Section
from clearwatch.config.camera import INHERITED, CameraConfig, CameraSections, resolve_camera, site_defaults
from clearwatch.config.events import MqttConfig, WebhookConfig
from clearwatch.config.identity import IdentityConfig
from clearwatch.config.units import ByteSize, Duration
from clearwatch.config.web import WebConfig


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
    recordings_dir: ConfigPath | None = Field(default=None, description="Default: <data_dir>/recordings.")
    max_size: ByteSize | None = Field(default=None, description="Total quota for all recordings.")
    min_free: ByteSize = Field(default=1_000_000_000, description="Free space to keep on the file system.")


class RetentionConfig(Section):
    days: float = Field(default=7.0, gt=0, description="Default age limit for recordings.")
    interval: Duration = Field(default=60.0, ge=1, description="How often retention runs.")


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(CameraSections):
    """The whole file. Its ``CameraSections`` (``record``, ``detect``, ``motion``, ``objects``, ``faces``,
    ``events``, ``plates``) are the site's defaults, already merged into every camera."""

    data_dir: ConfigPath = Field(default=Path("clearwatch-data"), description="Where Clearwatch keeps its data.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    webhooks: dict[Name, WebhookConfig] = Field(default_factory=dict)
    cameras: dict[CameraName, CameraConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _resolve_cameras(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        cameras = data.get("cameras")
        if cameras is None:
            return {**data, "cameras": {}}
        if not isinstance(cameras, dict):
            return data
        site = site_defaults(data, info.context)
        return {**data, "cameras": {name: resolve_camera(str(name), own, site) for name, own in cameras.items()}}

    @model_validator(mode="after")
    def _names_match(self) -> Config:
        for key, cam in self.cameras.items():
            if cam.name != key:
                raise ValueError(f"cameras.{key}.name: a camera's name is its key ({key!r}); leave 'name' out")
        return self

    @property
    def recordings_dir(self) -> Path:
        return self.storage.recordings_dir or self.data_dir / "recordings"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'clearwatch.db').absolute()}"

    def file_camera(self, path: Path, name: str = "file") -> CameraConfig:
        """A camera for a video file that is not configured: the site-wide sections as they are."""
        site = {key: getattr(self, key).model_dump(exclude_unset=True) for key in INHERITED}
        if "retention_days" not in site["record"]:
            site["record"]["retention_days"] = self.retention.days
        return CameraConfig.model_validate(resolve_camera(name, {"url": str(path), "loop": False}, site))
