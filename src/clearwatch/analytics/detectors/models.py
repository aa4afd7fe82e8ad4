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
    """A model file we know: its name in a model directory, its SHA-256, and where it comes from."""

    file: str
    sha256: str
    source: str


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


def locate_model(spec: ModelSpec, path: Path | None = None, sha256: str | None = None) -> Path:
    """The verified path of ``spec``'s model: ``path`` if given (checked against ``sha256`` if given, else the
    spec's), else the first model directory that has it."""
    expected = sha256 or spec.sha256
    if path is None:
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
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ModelError(f"model {path} has SHA-256 {actual}, expected {expected}: the file is damaged or different")
    return path
