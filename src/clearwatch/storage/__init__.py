"""Storage: the database (SQLite or PostgreSQL) and what Clearwatch keeps in it."""

from clearwatch.storage.camera_status import CameraStatusStore
from clearwatch.storage.database import Database, DatabaseError
from clearwatch.storage.holds import HoldStore, held
from clearwatch.storage.models import CameraStatus, Hold, Segment
from clearwatch.storage.segments import COMPLETE, RECORDING, Gap, SegmentIndex, find_gaps

__all__ = [
    "COMPLETE",
    "RECORDING",
    "CameraStatus",
    "CameraStatusStore",
    "Database",
    "DatabaseError",
    "Gap",
    "Hold",
    "HoldStore",
    "Segment",
    "SegmentIndex",
    "find_gaps",
    "held",
]
