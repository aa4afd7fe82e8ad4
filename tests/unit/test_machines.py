"""Machine state hysteresis, back-dating and hourly statistics on made-up activity."""

from __future__ import annotations

import numpy as np
import pytest

from clearwatch.analytics.machinery import MachineMonitor, StatsBook
from clearwatch.analytics.motion import Motion
from clearwatch.config.analytics import MachineConfig

SIZE = (40, 30)
FPS = 5


def frame(active: float) -> Motion:
    """A motion sample where ``active`` of the machine's area changed since the frame before."""
    prev = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    grey = prev.copy()
    n = round(active * SIZE[0] * SIZE[1])
    grey.reshape(-1)[:n] = 255
    return Motion(np.zeros((0, 4), np.float32), active, grey, prev, 1.0)


def run(monitor: MachineMonitor, schedule: list[tuple[float, float]], t0: float = 0.0) -> list[tuple[str, float]]:
    """``schedule``: (seconds, activity) pieces; returns (state, back-dated time) of each transition."""
    out, t = [], t0
    for seconds, active in schedule:
        for _ in range(round(seconds * FPS)):
            out += [(tr.state, round(tr.at, 2)) for tr in monitor.update(frame(active), t)]
            t += 1 / FPS
    return out


def machine(**kw: float) -> MachineMonitor:
    cfg = MachineConfig(points=[(0, 0), (1, 0), (1, 1), (0, 1)], start_after=1.0, idle_after=2.0, stop_after=5.0,
                        **kw)
    return MachineMonitor("press", cfg, SIZE, StatsBook())


def test_states_follow_activity_and_are_back_dated() -> None:
    m = machine()
    states = run(m, [(10, 0.5), (10, 0.0), (5, 0.5)])
    assert states == [("running", 0.0), ("idle", 9.8), ("stopped", 14.8), ("running", 20.0)]
    assert m.starts == 2 and m.stops == 1


def test_hysteresis_keeps_a_running_machine_running_between_the_levels() -> None:
    m = machine(on_level=0.2, off_level=0.05)
    # 0.1 is under the on level (does not start it) but over the off level (does not stop it)
    assert run(m, [(3, 0.1)]) == [("idle", 0.0)]
    m = machine(on_level=0.2, off_level=0.05)
    assert run(m, [(3, 0.3), (10, 0.1)]) == [("running", 0.0)]


def test_a_short_burst_does_not_start_the_machine() -> None:
    m = machine()
    assert run(m, [(3, 0.0), (0.6, 0.5), (3, 0.0)]) == [("idle", 0.0)]


def test_uptime_adds_up_and_is_split_at_the_hour() -> None:
    m = machine()
    start = 3600.0 * 10 - 4.0  # 4 s before an hour boundary
    run(m, [(10, 0.5), (10, 0.0)], t0=start)
    assert m.totals["running"] == pytest.approx(9.8, abs=1e-6)
    pending = m.book.drain()
    running = {hour: h.seconds["running"] for (kind, _, hour), h in pending.items() if kind == "machine"}
    assert set(running) == {3600.0 * 9, 3600.0 * 10}
    assert running[3600.0 * 9] == pytest.approx(4.0, abs=1e-6)
    assert sum(running.values()) == pytest.approx(m.totals["running"], abs=1e-6)
    assert sum(h.starts for h in pending.values()) == 1 and sum(h.stops for h in pending.values()) == 1


def test_stats_book_splits_time_over_hours() -> None:
    book = StatsBook()
    book.add_time("m", "idle", 3500.0, 7300.0)
    idle = {hour: h.seconds["idle"] for (_, _, hour), h in book.drain().items()}
    assert idle == {0.0: 100.0, 3600.0: 3600.0, 7200.0: 100.0}
