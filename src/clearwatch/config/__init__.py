"""Configuration: one YAML file, validated with pydantic."""

from clearwatch.config.loader import default_config, load_config, parse_config
from clearwatch.config.models import CameraConfig, Config, ResolvedRecord

__all__ = ["CameraConfig", "Config", "ResolvedRecord", "default_config", "load_config", "parse_config"]
