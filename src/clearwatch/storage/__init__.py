"""Storage: the database (SQLite or PostgreSQL) and what Clearwatch keeps in it."""

from clearwatch.storage.camera_status import CameraStatusStore
from clearwatch.storage.database import Database, DatabaseError
from clearwatch.storage.events import EventStore, Message, OutboxStore, StatDelta, StatsStore
from clearwatch.storage.holds import HoldStore, held
from clearwatch.storage.models import CameraStatus, EventRecord, Hold, HourlyStat, OutboxMessage, Segment
from clearwatch.storage.segments import COMPLETE, RECORDING, Gap, SegmentIndex, StorageUsage, find_gaps

__all__ = [
    "COMPLETE",
    "RECORDING",
    "CameraStatus",
    "CameraStatusStore",
    "Database",
    "DatabaseError",
    "EventRecord",
    "EventStore",
    "Gap",
    "Hold",
    "HoldStore",
    "HourlyStat",
    "Message",
    "OutboxMessage",
    "OutboxStore",
    "Segment",
    "SegmentIndex",
    "StatDelta",
    "StatsStore",
    "StorageUsage",
    "find_gaps",
    "held",
]
