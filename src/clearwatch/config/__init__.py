"""Configuration: one YAML file, validated with pydantic; each camera resolved once into a ``CameraConfig``.
Parts load on first use (building the schema takes a noticeable part of a second)."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.config.camera import CameraConfig, RecordConfig
    from clearwatch.config.loader import default_config, load_config, parse_config
    from clearwatch.config.models import Config

__getattr__, __dir__ = lazy_exports(__name__, {
    "CameraConfig": ".camera",
    "Config": ".models",
    "RecordConfig": ".camera",
    "default_config": ".loader",
    "load_config": ".loader",
    "parse_config": ".loader",
})

__all__ = ["CameraConfig", "Config", "RecordConfig", "default_config", "load_config", "parse_config"]
