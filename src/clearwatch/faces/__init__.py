"""Faces: YuNet detection, alignment, quality, SFace embeddings, and safe image loading."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.faces.detector import Face, FaceDetector
    from clearwatch.faces.embedder import EMBEDDING_SIZE, FaceEmbedder
    from clearwatch.faces.engine import FaceEngine, FaceShot
    from clearwatch.faces.images import ImageError, load_image
    from clearwatch.faces.quality import Quality

__getattr__, __dir__ = lazy_exports(__name__, {
    "EMBEDDING_SIZE": ".embedder",
    "Face": ".detector",
    "FaceDetector": ".detector",
    "FaceEmbedder": ".embedder",
    "FaceEngine": ".engine",
    "FaceShot": ".engine",
    "ImageError": ".images",
    "load_image": ".images",
    "Quality": ".quality",
})

__all__ = [
    "EMBEDDING_SIZE",
    "Face",
    "FaceDetector",
    "FaceEmbedder",
    "FaceEngine",
    "FaceShot",
    "ImageError",
    "Quality",
    "load_image",
]
