"""Index, holds, status and retention on both SQLite and PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from clearwatch.events.model import Event
from clearwatch.recording import Retention, RetentionPolicy
from clearwatch.sources.health import HealthSnapshot
from clearwatch.storage import (
    CameraStatusStore,
    Database,
    DatabaseError,
    EventStore,
    HoldStore,
    Message,
    OutboxStore,
    SegmentIndex,
    StorageUsage,
    find_gaps,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def _db(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def test_migrations_are_idempotent_and_create_schema(db_url: str) -> None:
    db = _db(db_url)
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"segments", "camera_status", "holds", "alembic_version"} <= tables
    db.dispose()


def test_segment_lifecycle_and_gaps(db_url: str) -> None:
    db = _db(db_url)
    idx = SegmentIndex(db)
    idx.open("gate", T0, "gate/a.mp4", "h264", 1920, 1080)
    idx.close("gate/a.mp4", T0 + timedelta(seconds=10), 10.0, 1000)
    idx.add_complete("gate", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20), "gate/b.mp4", 900, "h264",
                     1920, 1080)
    idx.add_complete("gate", T0 + timedelta(seconds=45), T0 + timedelta(seconds=55), "gate/c.mp4", 800, "h264",
                     1920, 1080)
    segs = idx.list("gate")
    assert [s.path for s in segs] == ["gate/a.mp4", "gate/b.mp4", "gate/c.mp4"]
    assert segs[0].status == "complete" and segs[0].start == T0 and segs[0].start.tzinfo is not None
    # range queries return overlapping segments only
    assert [s.path for s in idx.list("gate", T0 + timedelta(seconds=12), T0 + timedelta(seconds=46))] == [
        "gate/b.mp4", "gate/c.mp4"]
    gaps = find_gaps(segs)
    assert len(gaps) == 1 and gaps[0].seconds == 25
    assert idx.usage() == {"gate": StorageUsage(bytes=2700, segments=3)}
    db.dispose()


def test_event_start_update_end_is_one_row_with_its_messages(db_url: str) -> None:
    """A camera stores an event at its start, at updates and at its end: one row, always the latest state, each
    time with the messages that report it."""
    db = _db(db_url)
    store, outbox = EventStore(db), OutboxStore(db)
    start = T0.timestamp()
    ev = Event("gate", "object", "person", start, track_id=7, zones=["yard"], box=[0.1, 0.2, 0.3, 0.4],
               path=[(start, 0.1, 0.2)], data={"dwell": 1.5})
    store.save(ev.as_dict(), [Message("mqtt", "cw/events", '{"type": "start"}')])
    ev.path.append((start + 1, 0.2, 0.3))
    ev.crossings.append({"line": "door", "direction": "in", "time": start + 1})
    ev.end, ev.score, ev.snapshot = start + 2, 0.91, "gate/x.jpg"
    store.save(ev.as_dict(), [Message("mqtt", "cw/events", '{"type": "end"}'),
                              Message("webhook:ops", "event", '{"type": "end"}')])
    row = store.get(ev.id)
    assert row is not None and store.count() == 1
    assert row.end == T0 + timedelta(seconds=2) and row.score == 0.91 and row.snapshot == "gate/x.jpg"
    assert row.path == [[start, 0.1, 0.2], [start + 1, 0.2, 0.3]] and row.zones == ["yard"]
    assert row.crossings == [{"line": "door", "direction": "in", "time": start + 1}] and row.data == {"dwell": 1.5}
    assert row.site is None and row.version is None
    assert [m.payload for m in outbox.ready("mqtt", time.time())] == ['{"type": "start"}', '{"type": "end"}']
    assert [m.topic for m in outbox.ready("webhook:ops", time.time())] == ["event"]
    db.dispose()


def test_camera_status_upsert(db_url: str) -> None:
    db = _db(db_url)
    store = CameraStatusStore(db)
    row = HealthSnapshot(camera="gate", state="streaming", recording="recording", fps_in=25.0, last_frame_at=T0,
                         connected_since=T0, reconnects=0, last_error=None, last_error_at=None)
    store.write([row])
    store.write([replace(row, state="stalled", reconnects=3, last_error="no video for 5.0 s")])
    (got,) = store.read()
    assert (got.state, got.reconnects, got.last_error) == ("stalled", 3, "no video for 5.0 s")
    db.dispose()


def _fake_segment(root: Path, idx: SegmentIndex, camera: str, start: datetime, size: int = 1000,
                  status: str = "complete") -> str:
    rel = f"{camera}/{start:%Y-%m-%d}/{start:%H}/{start:%M.%S}.mp4"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(b"\0" * size)
    if status == "complete":
        idx.add_complete(camera, start, start + timedelta(seconds=10), rel, size, "h264", 10, 10)
    else:
        idx.open(camera, start, rel)
    return rel


def test_retention_by_age_respects_holds_and_open_segments(db_url: str, tmp_path: Path) -> None:
    db = _db(db_url)
    idx, holds = SegmentIndex(db), HoldStore(db)
    now = T0 + timedelta(days=10)
    old = [_fake_segment(tmp_path, idx, "gate", T0 + timedelta(minutes=i)) for i in range(4)]
    held = _fake_segment(tmp_path, idx, "gate", T0 + timedelta(hours=1))
    writing = _fake_segment(tmp_path, idx, "gate", T0 + timedelta(hours=2), status="recording")
    recent = _fake_segment(tmp_path, idx, "gate", now - timedelta(days=1))
    long_kept = _fake_segment(tmp_path, idx, "yard", T0)  # yard keeps 30 days
    holds.add("evidence", "gate", T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=5), "case 17", "test")
    policy = RetentionPolicy(default_days=7, camera_days={"yard": 30})
    report = Retention(tmp_path, idx, holds, policy, free_bytes=lambda _: 10**12).run_once(now)
    assert report.deleted_by_age == 4 and report.kept_held == 1
    remaining = {s.path for s in idx.list()}
    assert remaining == {held, writing, recent, long_kept}
    for rel in old:
        assert not (tmp_path / rel).exists()
    for rel in remaining:
        assert (tmp_path / rel).exists()
    db.dispose()


def test_retention_by_quota_deletes_oldest_first(db_url: str, tmp_path: Path) -> None:
    db = _db(db_url)
    idx, holds = SegmentIndex(db), HoldStore(db)
    rels = [_fake_segment(tmp_path, idx, cam, T0 + timedelta(minutes=i), size=1000)
            for i, cam in enumerate(["a", "b", "a", "b", "a", "b"])]
    policy = RetentionPolicy(default_days=365, max_bytes=3500)
    report = Retention(tmp_path, idx, holds, policy, free_bytes=lambda _: 10**12).run_once(T0 + timedelta(hours=1))
    assert report.deleted_by_quota == 3
    assert [s.path for s in sorted(idx.list(), key=lambda s: s.start)] == rels[3:]
    assert idx.total_bytes() <= 3500
    # minimum free space: pretend the disk is nearly full
    free = {"bytes": 1500}

    def fake_free(_: Path) -> int:
        return free["bytes"]

    policy2 = RetentionPolicy(default_days=365, min_free_bytes=3000)
    r2 = Retention(tmp_path, idx, holds, policy2, free_bytes=fake_free).run_once(T0 + timedelta(hours=1))
    assert r2.deleted_by_quota == 2  # 1500 free + 2 x 1000 freed >= 3000
    assert [s.path for s in idx.list()] == [rels[5]]
    db.dispose()


def test_unreachable_postgres_is_a_clear_error() -> None:
    db = Database("postgresql://nobody:pw@127.0.0.1:1/none")
    with pytest.raises(DatabaseError) as err:
        db.migrate()
    assert "cannot connect to database postgresql://nobody:***@127.0.0.1:1/none" in str(err.value)
    assert "pw@" not in str(err.value)
