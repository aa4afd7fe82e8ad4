"""The configuration schema: site-wide sections and the cameras, each camera resolved once (see ``camera``).
Every section forbids unknown keys so typos are caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from clearwatch.config.alarms import AlarmRuleConfig, AlarmsConfig, ScheduleConfig, SiteConfig
from clearwatch.config.base import CameraName, ConfigPath, Name, Section
from clearwatch.config.camera import INHERITED, CameraConfig, CameraSections, resolve_camera, site_defaults
from clearwatch.config.events import MqttConfig, WebhookConfig
from clearwatch.config.federation import CentralConfig
from clearwatch.config.governance import DataRetentionConfig, GovernanceConfig
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


class RetentionConfig(DataRetentionConfig):
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
    site: SiteConfig = Field(default_factory=SiteConfig)
    schedules: dict[Name, ScheduleConfig] = Field(default_factory=dict)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    central: CentralConfig | None = Field(default=None, description="Makes this a central node (no cameras).")
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
        if self.central is not None:
            if self.cameras:
                raise ValueError("central: a central node has no cameras of its own (cameras: stay at the sites)")
            if self.site.nats is not None:
                raise ValueError("central: a node is a site (site.nats) or the central node (central:), not both")
        return self

    @model_validator(mode="after")
    def _alarm_rules(self) -> Config:
        for name, rule in self.alarms.rules.items():
            key = f"alarms.rules.{name}"
            for field in ("schedule", "unless"):
                sched = getattr(rule, field)
                if sched is not None and sched not in self.schedules:
                    raise ValueError(f"{key}.{field}: no schedule {sched!r} (schedules: "
                                     f"{', '.join(self.schedules) or 'none'})")
            for hook in [*rule.notify, *(rule.escalate.notify if rule.escalate else [])]:
                if hook not in self.webhooks:
                    raise ValueError(f"{key}.notify: no webhook {hook!r} "
                                     f"(webhooks: {', '.join(self.webhooks) or 'none'})")
            unknown = [c for c in rule.cameras if c not in self.cameras]
            if unknown:
                raise ValueError(f"{key}.cameras: no camera {unknown[0]!r}")
            self.alarm_cameras(name)
        for where, hooks in (("alarms.escalate.notify", self.alarms.escalate.notify),
                             ("governance.witnesses", self.governance.witnesses)):
            for hook in hooks:
                if hook not in self.webhooks:
                    raise ValueError(f"{where}: no webhook {hook!r}")
        return self

    def alarm_cameras(self, rule_name: str) -> list[str]:
        """The cameras a rule watches: those it lists, or every camera that has what it names. Raises ValueError
        (naming the rule's key) when a camera cannot do what the rule asks."""
        rule: AlarmRuleConfig = self.alarms.rules[rule_name]
        key = f"alarms.rules.{rule_name}"
        listed = bool(rule.cameras)
        out, problems = [], []
        for cam_name in rule.cameras or list(self.cameras):
            problem = _cannot(self.cameras[cam_name], rule)
            if problem is None:
                out.append(cam_name)
                continue
            at = f"{key}.{problem[0]}" if problem[0] else key
            if listed:
                raise ValueError(f"{at}: camera {cam_name!r} {problem[1]}")
            problems.append((not problem[1].startswith("has no zone"), at, cam_name, problem[1]))
        if not out and problems:
            # the camera that came closest (it has the zone, but not set up for this) says most
            _, at, cam_name, why = max(problems, key=lambda p: p[0])
            raise ValueError(f"{at}: no camera can raise it; camera {cam_name!r} {why}")
        return out

    @property
    def recordings_dir(self) -> Path:
        return self.storage.recordings_dir or self.data_dir / "recordings"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def signing_key_path(self) -> Path:
        return self.governance.signing_key or self.data_dir / "signing.key"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

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


def _cannot(cam: CameraConfig, rule: AlarmRuleConfig) -> tuple[str, str] | None:
    """Why ``cam`` cannot raise ``rule``'s alarms: (the rule's key at fault, the reason), or None."""
    k = rule.kind
    if k == "offline":
        return None
    if not cam.detect.enabled:
        return "", "has no analytics (detect.enabled is false)"
    if k == "intrusion" and not cam.detects_objects:
        return "", "does not detect objects (objects.enabled is false)"
    if k == "tamper" and not cam.tamper.enabled:
        return "", "does not watch for tampering (tamper.enabled is false)"
    if k == "face" and not cam.faces.enabled:
        return "", "does not recognise faces (faces.enabled is false)"
    if k == "plate" and not cam.reads_plates:
        return "", "does not read plates (plates.enabled is false)"
    if k == "machine" and rule.machine not in cam.machines:
        return "machine", f"has no machine {rule.machine!r}"
    if rule.line is not None and k == "intrusion" and rule.line not in cam.lines:
        return "line", f"has no line {rule.line!r}"
    if rule.zone is not None and k in ("intrusion", "loitering", "left", "removed"):
        zone = cam.zones.get(rule.zone)
        if zone is None:
            return "zone", f"has no zone {rule.zone!r} ({', '.join(cam.zones) or 'no zones'})"
        if k == "loitering" and zone.loiter is None:
            return "zone", f"zone {rule.zone!r} has no loiter time (zones.{rule.zone}.loiter)"
        if k in ("left", "removed") and getattr(zone, k) is None:
            return "zone", f"zone {rule.zone!r} does not watch for {k} objects (zones.{rule.zone}.{k}: DELAY)"
    return None
