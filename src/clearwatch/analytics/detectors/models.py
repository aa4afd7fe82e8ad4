"""Find model files and prove they are the ones we expect: nothing is downloaded, everything is hashed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from clearwatch.errors import ClearwatchError


class ModelError(ClearwatchError):
    """A model is missing, damaged or not the file we know."""


@dataclass(frozen=True)
class ModelSpec:
    file: str
    sha256: str
    source: str


KNOWN_MODELS: dict[str, ModelSpec] = {
    "yolox_nano": ModelSpec(
        "yolox_nano.onnx",
        "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d",
        "opencv/opencv_zoo models/object_detection_yolox/yolox_nano.onnx (Apache-2.0)",
    ),
    "fastestdet": ModelSpec(
        "FastestDet.onnx",
        "31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880",
        "dog-qiuqiu/FastestDet example/onnx-runtime/FastestDet.onnx (BSD-3-Clause)",
    ),
}


def model_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("CLEARWATCH_MODELS"):
        dirs.append(Path(os.environ["CLEARWATCH_MODELS"]).expanduser())
    dirs.append(Path.home() / ".cache" / "clearwatch" / "models")
    return dirs


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate_model(name: str, path: Path | None = None, sha256: str | None = None) -> Path:
    """The verified path of model ``name``: ``path`` if given, else the first model directory that has it."""
    spec = KNOWN_MODELS.get(name)
    expected = sha256 or (spec.sha256 if spec else None)
    if path is None:
        if spec is None:
            raise ModelError(f"unknown model {name!r}: give its file with 'path:' and its 'sha256:'")
        candidates = [d / spec.file for d in model_dirs()]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            where = " or ".join(str(c) for c in candidates)
            raise ModelError(
                f"model {spec.file} not found: put it at {where} (set CLEARWATCH_MODELS to choose the folder). "
                f"Expected SHA-256 {spec.sha256}; source: {spec.source}"
            )
        path = found
    elif not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if expected is None:
        raise ModelError(f"model {path} has no known SHA-256: give 'sha256:' in the config to pin it")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ModelError(f"model {path} has SHA-256 {actual}, expected {expected}: the file is damaged or different")
    return path
