"""Fingerprint images: TIFF, PNG, BMP, JPEG and WSQ (the FBI's format, via the ``wsq`` Pillow plugin) to an
8-bit grey array at a known resolution. Sizes are checked from the header before decoding."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import wsq  # noqa: F401 - registers the WSQ codec with Pillow
from PIL import Image, UnidentifiedImageError

from clearwatch.errors import ClearwatchError

MIN_SIDE = 64  # px: smaller holds too few ridges to find a minutia
MAX_SIDE = 4000
DEFAULT_DPI = 500.0


class FingerprintImageError(ClearwatchError):
    pass


def load_fingerprint(data: bytes | Path, name: str | None = None,
                     dpi: float | None = None) -> tuple[np.ndarray, float]:
    """(grey uint8 image, dpi). ``dpi`` overrides the file's; without either, 500 dpi is assumed."""
    label = name or (str(data) if isinstance(data, Path) else "image")
    if isinstance(data, Path):
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise FingerprintImageError(f"{label}: cannot read ({exc.strerror})") from None
    if not data:
        raise FingerprintImageError(f"{label}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
                raise FingerprintImageError(f"{label}: {w}x{h} pixels is not a plausible fingerprint image "
                                            f"(each side must be {MIN_SIDE}-{MAX_SIDE} px)")
            img.load()
    except FingerprintImageError:
        raise
    except UnidentifiedImageError:
        raise FingerprintImageError(f"{label}: not an image in a supported format (TIFF, PNG, BMP, JPEG, WSQ)") \
            from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FingerprintImageError(f"{label}: image is too large") from None
    except Exception as exc:  # decoders (the WSQ plugin among them) fail in many ways on damaged input
        raise FingerprintImageError(f"{label}: cannot decode the image (truncated or damaged: "
                                    f"{type(exc).__name__}: {exc})") from None
    file_dpi = img.info.get("dpi")
    found = float(file_dpi[0]) if isinstance(file_dpi, tuple) and file_dpi and file_dpi[0] else None
    # many scanners write 72 or 96 dpi into files they never measured: only believe fingerprint resolutions
    resolution = dpi or (found if found and 250 <= found <= 1500 else DEFAULT_DPI)
    grey = np.asarray(img.convert("L"), dtype=np.uint8)
    if grey.std() < 2.0:
        raise FingerprintImageError(f"{label}: the image is blank (no ridge contrast)")
    return np.ascontiguousarray(grey), resolution

