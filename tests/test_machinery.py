"""Machines and production counters on a generated clip whose truth we know exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from clearwatch.analytics.offline import CollectingSink, analyze_file
from clearwatch.config.analytics import CounterConfig, MachineConfig, ObjectsConfig
from clearwatch.media import write_clip
from tests.support.helpers import camera

W, H, FPS, SECONDS = 640, 360, 10, 40
RUNNING = [(0.0, 10.0), (20.0, 30.0)]  # when the machine moves
ITEM_EVERY = 4.0  # a box enters the conveyor every 4 s
ITEM_SPEED = 8  # px per frame, left to right
ITEM_SIZE = (40, 30)


def running(t: float) -> bool:
    return any(a <= t < b for a, b in RUNNING)


def frames() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:H, 0:W]
    base = (((xx // 24 + yy // 24) % 2) * 40 + 60).astype(np.uint8)
    base = np.repeat(base[:, :, None], 3, axis=2)
    base[270:330] = 90  # conveyor belt
    phase = 0.0
    for i in range(SECONDS * FPS):
        t = i / FPS
        img = base.copy()
        if running(t):
            phase += 0.9
        # press: a bar that moves up and down while the machine runs, and stands still otherwise
        y = int(120 + 60 * np.sin(phase))
        img[y:y + 30, 60:200] = (40, 200, 240)
        for k in range(int(t // ITEM_EVERY) + 1):
            x = int((i - k * ITEM_EVERY * FPS) * ITEM_SPEED) - ITEM_SIZE[0]
            if -ITEM_SIZE[0] < x < W:
                img[285:285 + ITEM_SIZE[1], max(0, x):max(0, x + ITEM_SIZE[0])] = (250, 250, 250)
        noise = rng.integers(-2, 3, img.shape, dtype=np.int16)
        yield np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def factory_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("factory") / "factory.mp4", frames(), fps=FPS)


def expected_items() -> int:
    line_x = 0.7 * (W - 1)
    n = 0
    for k in range(int(SECONDS / ITEM_EVERY) + 1):
        # the centre passes the line at frame f: (f - k*40)*8 - 40 + 20 = line_x
        f = (line_x + ITEM_SIZE[0] / 2) / ITEM_SPEED + k * ITEM_EVERY * FPS
        if f < SECONDS * FPS - 2:
            n += 1
    return n


def test_machine_states_uptime_and_production_count(factory_clip: Path) -> None:
    machine = MachineConfig(points=[[0.05, 0.2], [0.35, 0.2], [0.35, 0.7], [0.05, 0.7]],
                            start_after=1.0, idle_after=2.0, stop_after=5.0)
    counter = CounterConfig(points=[[0.7, 0.6], [0.7, 1.0]], source="motion")
    s = camera("line1", fps=5, objects=ObjectsConfig(enabled=False), machines={"press": machine},
               counters={"boxes": counter})
    sink = CollectingSink()
    result = analyze_file(factory_clip, s, None, sink)
    assert result.error is None

    states = [(u.event.data["state"], u.event.start) for u in sink.updates
              if u.type == "start" and u.event.kind == "machine"]
    assert [st for st, _ in states] == ["running", "idle", "stopped", "running", "idle", "stopped"]
    expected_at = [0.0, 10.0, 15.0, 20.0, 30.0, 35.0]
    for (state, at), want in zip(states, expected_at, strict=True):
        assert abs(at - want) <= 0.5, (state, at, want)

    monitor = result.analytics.machines["press"]
    truth = sum(b - a for a, b in RUNNING)
    assert abs(monitor.totals["running"] - truth) <= 1.0
    assert monitor.starts == 2 and monitor.stops == 2
    booked = sum(h.seconds["running"] for (kind, name, _), h in sink.stats.items() if kind == "machine")
    assert abs(booked - monitor.totals["running"]) < 1e-6, "hourly statistics add up to the same uptime"

    assert sink.counters["boxes"] == (expected_items(), 0)  # left to right is 'in' for a top-to-bottom line
    counted = sum(h.count_in for (kind, _, _), h in sink.stats.items() if kind == "counter")
    assert counted == expected_items()


def test_hourly_statistics_are_stored_and_queryable(factory_clip: Path, tmp_path: Path) -> None:
    """The clip straddles an hour boundary: its uptime is split between the two hours, and adds up."""
    import json
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    from clearwatch.events import EventService
    from clearwatch.storage import Database, EventStore
    from tests.support.helpers import make_config

    cfg = make_config(tmp_path / "data", {})
    db = Database(cfg.database_url)
    db.migrate()
    svc = EventService(cfg, db)
    machine = MachineConfig(points=[[0.05, 0.2], [0.35, 0.2], [0.35, 0.7], [0.05, 0.7]],
                            start_after=1.0, idle_after=2.0, stop_after=5.0)
    s = camera("line1", fps=5, objects=ObjectsConfig(enabled=False), machines={"press": machine},
               counters={"boxes": CounterConfig(points=[[0.7, 0.6], [0.7, 1.0]], source="motion")})
    start = datetime(2026, 11, 26, 10, 59, 55, tzinfo=UTC).timestamp()
    result = analyze_file(factory_clip, s, None, svc, start_wall=start)
    uptime = result.analytics.machines["press"].totals["running"]

    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "clearwatch", "machines", "stats", "--data", str(cfg.data_dir),
                        "--since", "2026-11-26T10:00:00Z", "--until", "2026-11-26T12:00:00Z", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    press = [row for row in rows if row["name"] == "press"]
    assert [row["hour"][:13] for row in press] == ["2026-11-26T10", "2026-11-26T11"]
    assert press[0]["running_s"] == pytest.approx(5.0 - 0.2, abs=0.3)  # 10:59:55.2 to 11:00:00, then hour 11
    assert sum(row["running_s"] for row in press) == pytest.approx(uptime, abs=0.2)
    assert sum(row["starts"] for row in press) == 2 and sum(row["stops"] for row in press) == 2
    boxes = [row for row in rows if row["name"] == "boxes"]
    assert sum(row["count_in"] for row in boxes) == expected_items()
    machine_events = EventStore(db).list(kind="machine")
    assert len(machine_events) == 6 and all(e.end is not None for e in machine_events)
