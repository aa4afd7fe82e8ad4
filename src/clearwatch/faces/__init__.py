"""Faces: YuNet detection, alignment, quality, SFace embeddings, and safe image loading."""

from clearwatch.faces.detector import Face, FaceDetector
from clearwatch.faces.embedder import EMBEDDING_SIZE, FaceEmbedder
from clearwatch.faces.engine import FaceEngine, FaceShot
from clearwatch.faces.images import ImageError, load_image
from clearwatch.faces.quality import Quality

__all__ = ["EMBEDDING_SIZE", "Face", "FaceDetector", "FaceEmbedder", "FaceEngine", "FaceShot", "ImageError",
           "Quality", "load_image"]
