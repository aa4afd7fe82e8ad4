"""Identity: the registry of enrolled people (faces and fingerprints), encrypted templates, and the matching
index. Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.identity.crypto import Cipher, EncryptionKeyError, create_key_file, load_key
    from clearwatch.identity.errors import EnrolmentError, NotFound
    from clearwatch.identity.face_registry import Candidate, FaceRegistry, Photo, main_face, open_face_registry
    from clearwatch.identity.index import FaceIndex
    from clearwatch.identity.thresholds import DEFAULT_POINT, OPERATING_POINTS, threshold

__getattr__, __dir__ = lazy_exports(__name__, {
    "Candidate": ".face_registry",
    "Cipher": ".crypto",
    "DEFAULT_POINT": ".thresholds",
    "EncryptionKeyError": ".crypto",
    "EnrolmentError": ".errors",
    "FaceIndex": ".index",
    "FaceRegistry": ".face_registry",
    "NotFound": ".errors",
    "OPERATING_POINTS": ".thresholds",
    "Photo": ".face_registry",
    "create_key_file": ".crypto",
    "load_key": ".crypto",
    "main_face": ".face_registry",
    "open_face_registry": ".face_registry",
    "threshold": ".thresholds",
})

__all__ = ["DEFAULT_POINT", "OPERATING_POINTS", "Candidate", "Cipher", "EncryptionKeyError", "EnrolmentError",
           "FaceIndex", "FaceRegistry", "NotFound", "Photo", "create_key_file", "load_key", "main_face",
           "open_face_registry", "threshold"]
