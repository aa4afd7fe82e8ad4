"""Identity: the registry of enrolled people, encrypted templates, and the matching index."""

from clearwatch.identity.crypto import Cipher, EncryptionKeyError, create_key_file, load_key
from clearwatch.identity.index import FaceIndex
from clearwatch.identity.registry import Candidate, EnrolmentError, NotFound, Photo, Registry, main_face
from clearwatch.identity.thresholds import DEFAULT_POINT, OPERATING_POINTS, threshold

__all__ = [
           "DEFAULT_POINT",
           "OPERATING_POINTS",
           "Candidate",
           "Cipher",
           "EncryptionKeyError",
           "EnrolmentError",
           "FaceIndex",
           "NotFound",
           "Photo",
           "Registry",
           "create_key_file",
           "load_key",
           "main_face",
           "threshold",
]
