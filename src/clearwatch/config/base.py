"""What every config section shares: unknown keys are errors, defaults are validated, and relative paths are
anchored to the config file's folder (not to the shell's working directory)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _name(name: str, what: str = "name") -> str:
    if not NAME.match(name):
        raise ValueError(f"{what} {name!r} must be 1-64 letters, digits, '_' or '-' (it is used in paths)")
    return name


RESERVED_CAMERA_NAMES = {"verify"}  # `clearwatch export verify FILE`


def _camera_name(name: str) -> str:
    if name in RESERVED_CAMERA_NAMES:
        raise ValueError(f"camera name {name!r} is reserved (it is a command word); pick another")
    return _name(name, "camera name")


def _anchor(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = path.expanduser()
    if base is not None and not path.is_absolute():
        return (Path(base) / path).absolute()
    return path


Name = Annotated[str, AfterValidator(_name)]
CameraName = Annotated[str, AfterValidator(_camera_name)]
# a path in the config file: relative to that file
ConfigPath = Annotated[Path, AfterValidator(_anchor)]
