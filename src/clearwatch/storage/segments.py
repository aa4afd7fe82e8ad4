"""The recordings index: which MP4 segment covers which span of which camera."""

from __future__ import annotations

import builtins  # annotations inside SegmentIndex, where `list` is the method
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from clearwatch.storage.database import Database, rowcount
from clearwatch.storage.models import Segment

RECORDING = "recording"
COMPLETE = "complete"


@dataclass(frozen=True)
class Gap:
    camera: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class StorageUsage:
    bytes: int = 0
    segments: int = 0


class SegmentIndex:
    def __init__(self, db: Database):
        self.db = db

    def open(self, camera: str, start: datetime, path: str, codec: str | None = None,
             width: int | None = None, height: int | None = None) -> int:
        with self.db.session() as s:
            seg = Segment(camera=camera, start=start, end=start, duration=0.0, bytes=0, path=path,
                          status=RECORDING, codec=codec, width=width, height=height)
            s.add(seg)
            s.flush()
            return seg.id

    def close(self, path: str, end: datetime, duration: float, size: int) -> None:
        with self.db.session() as s:
            s.execute(update(Segment).where(Segment.path == path)
                      .values(end=end, duration=duration, bytes=size, status=COMPLETE))

    def add_complete(self, camera: str, start: datetime, end: datetime, path: str, size: int,
                     codec: str | None, width: int | None, height: int | None) -> None:
        with self.db.session() as s:
            s.add(Segment(camera=camera, start=start, end=end, duration=(end - start).total_seconds(),
                          bytes=size, path=path, status=COMPLETE, codec=codec, width=width, height=height))

    def list(self, camera: str | None = None, start: datetime | None = None, end: datetime | None = None,
             status: str | None = None, limit: int | None = None) -> list[Segment]:
        q = select(Segment)
        if camera:
            q = q.where(Segment.camera == camera)
        if start is not None:
            q = q.where(Segment.end > start)
        if end is not None:
            q = q.where(Segment.start < end)
        if status:
            q = q.where(Segment.status == status)
        q = q.order_by(Segment.camera, Segment.start)
        if limit:
            q = q.limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def get(self, seg_id: int) -> Segment | None:
        with self.db.session() as s:
            return s.get(Segment, seg_id)

    def paths(self, camera: str | None = None) -> dict[str, Segment]:
        with self.db.session() as s:
            q = select(Segment)
            if camera:
                q = q.where(Segment.camera == camera)
            return {seg.path: seg for seg in s.scalars(q)}

    def delete_ids(self, ids: Iterable[int]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        with self.db.session() as s:
            n = 0
            for i in range(0, len(ids), 500):
                n += rowcount(s.execute(delete(Segment).where(Segment.id.in_(ids[i:i + 500]))))
            return n

    def delete_paths(self, paths: Iterable[str]) -> int:
        paths = list(paths)
        with self.db.session() as s:
            return rowcount(s.execute(delete(Segment).where(Segment.path.in_(paths))))

    def update(self, seg_id: int, **values: object) -> None:
        with self.db.session() as s:
            s.execute(update(Segment).where(Segment.id == seg_id).values(**values))

    def oldest_complete(self, camera: str | None = None, before: datetime | None = None,
                        limit: int = 200) -> Sequence[Segment]:
        q = select(Segment).where(Segment.status == COMPLETE)
        if camera:
            q = q.where(Segment.camera == camera)
        if before is not None:
            q = q.where(Segment.end < before)
        with self.db.session() as s:
            return list(s.scalars(q.order_by(Segment.start).limit(limit)))

    def usage(self) -> dict[str, StorageUsage]:
        """Bytes and segment count per camera."""
        q = select(Segment.camera, func.coalesce(func.sum(Segment.bytes), 0), func.count()).group_by(Segment.camera)
        with self.db.session() as s:
            return {cam: StorageUsage(int(b), int(n)) for cam, b, n in s.execute(q)}

    def total_bytes(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.coalesce(func.sum(Segment.bytes), 0))) or 0)

    def cameras(self) -> builtins.list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(Segment.camera).distinct().order_by(Segment.camera)))


def find_gaps(segments: Sequence[Segment], tolerance: float = 1.5) -> list[Gap]:
    """Spans between consecutive segments of a camera longer than ``tolerance`` seconds."""
    gaps: list[Gap] = []
    by_cam: dict[str, list[Segment]] = {}
    for seg in segments:
        by_cam.setdefault(seg.camera, []).append(seg)
    slack = timedelta(seconds=tolerance)
    for cam, segs in by_cam.items():
        segs.sort(key=lambda s: s.start)
        for prev, nxt in itertools.pairwise(segs):
            if nxt.start - prev.end > slack:
                gaps.append(Gap(cam, prev.end, nxt.start))
    return gaps
