"""Untrusted image bytes → a BGR picture, or a clear refusal. Nothing here trusts a header."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from clearwatch.errors import ClearwatchError

MAX_PIXELS = 40_000_000  # a 40 MP photo is plenty; more is a decompression bomb or a mistake
MIN_SIDE = 16
MAX_BYTES = 50_000_000


class ImageError(ClearwatchError):
    """An image that cannot be used, with the reason."""


def read_bytes(path: Path) -> bytes:
    """A photo file's bytes, or ImageError saying why not."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{path}: file is larger than {MAX_BYTES // 1_000_000} MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None


def load_image(data: bytes | Path, name: str | None = None, *, holds: str = "a face") -> np.ndarray:
    """Decode ``data`` (bytes or a file) to BGR uint8, honouring EXIF orientation.

    Greyscale, CMYK, palette and alpha images are converted (alpha is composed on white).
    """
    label = name or (str(data) if isinstance(data, Path) else "image")
    if isinstance(data, Path):
        data = read_bytes(data)
    if not data:
        raise ImageError(f"{label}: empty file")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{label}: larger than {MAX_BYTES // 1_000_000} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size  # from the header only: checked before any pixel is decoded
            if w * h > MAX_PIXELS:
                raise ImageError(f"{label}: {w}x{h} pixels is too large (limit {MAX_PIXELS // 1_000_000} MP)")
            if min(w, h) < MIN_SIDE:
                raise ImageError(f"{label}: {w}x{h} pixels is too small to hold {holds}")
            img.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image (or a format that is not supported)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label}: image is too large (decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = "truncated or damaged" if "truncated" in str(exc).lower() or isinstance(exc, OSError) else str(exc)
        raise ImageError(f"{label}: cannot decode the image ({reason})") from None
    with contextlib.suppress(Exception):  # a broken EXIF block must not cost us the picture
        img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])
