"""The OCR models for plates ship inside the ``rapidocr`` (PP-OCRv6 det/rec small) and ``rapidocr-onnxruntime``
(PP-OCRv4 rec) wheels, Apache-2.0. We read the ONNX files from the installed packages — without importing them,
so their Python dependencies are not needed — or from ``$CLEARWATCH_MODELS``, and check their SHA-256."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from clearwatch.analytics.detectors.models import ModelError, sha256_file


@dataclass(frozen=True)
class OcrModel:
    package: str  # the wheel that ships it (its import name)
    file: str  # path inside that package
    sha256: str

    @property
    def name(self) -> str:
        return Path(self.file).name


OCR_MODELS = {
    "det": OcrModel("rapidocr", "models/PP-OCRv6_det_small.onnx",
                    "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    "rec": OcrModel("rapidocr", "models/PP-OCRv6_rec_small.onnx",
                    "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    "rec_v4": OcrModel("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx",
                       "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
}
_verified: dict[str, Path] = {}


def ocr_model(kind: str) -> Path:
    """Verified path of an OCR model: ``$CLEARWATCH_MODELS/<file>`` if there, else the installed wheel's."""
    if kind in _verified:
        return _verified[kind]
    spec = OCR_MODELS[kind]
    candidates = []
    if os.environ.get("CLEARWATCH_MODELS"):
        candidates.append(Path(os.environ["CLEARWATCH_MODELS"]).expanduser() / spec.name)
    found = importlib.util.find_spec(spec.package)  # finds the package folder without running its __init__
    if found is not None and found.submodule_search_locations:
        candidates += [Path(p) / spec.file for p in found.submodule_search_locations]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise ModelError(f"plate OCR model {spec.name} not found: install the Python package "
                         f"'{spec.package.replace('_', '-')}' (make installs it from requirements.lock) or put the "
                         f"file in $CLEARWATCH_MODELS. Expected SHA-256 {spec.sha256}")
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ModelError(f"plate OCR model {path} has SHA-256 {actual}, expected {spec.sha256}: the file is "
                         "damaged or a different version")
    _verified[kind] = path
    return path
