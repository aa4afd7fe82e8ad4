"""The pipeline against hand-checked facts of a real CCTV clip, and motion masks."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from clearwatch.analytics import CameraAnalytics, Detector, iter_file_frames
from clearwatch.analytics.offline import CollectingSink
from clearwatch.config import CameraConfig
from clearwatch.config.analytics import LineConfig, MotionConfig, ObjectsConfig
from clearwatch.media import write_clip
from tests.support.helpers import camera

EXPECT = yaml.safe_load((Path(__file__).parent / "data/vtest_expectations.yaml").read_text())
FPS = 10  # vtest.avi's own rate


def settings(**kw: object) -> CameraConfig:
    return camera("vtest", **kw)


def run(clip: Path, s: CameraConfig, detector: Detector, until: float | None = None) -> CollectingSink:
    sink = CollectingSink()
    analytics = CameraAnalytics(s, detector, sink)
    last = 0.0
    for frame in iter_file_frames(clip, "vtest", s.detect.fps, 640):
        if until is not None and frame.time > until:
            break
        analytics.process(frame)
        last = frame.time
    analytics.finish(last)
    return sink


@pytest.mark.parametrize("gated", [True, False], ids=["motion-gated", "every-frame"])
def test_people_and_line_crossings_match_hand_checked_clip(vtest: Path, detector: Detector, gated: bool) -> None:
    line = LineConfig(points=EXPECT["line"]["points"])
    s = settings(objects=ObjectsConfig(motion_gated=gated), lines={"L": line})
    sink = CollectingSink()
    analytics = CameraAnalytics(s, detector, sink)
    visible: dict[int, int] = {}
    wanted = {round(int(k) / FPS, 1): int(k) for k in EXPECT["people_visible"]}
    # people seen in this frame or the one before; things that never moved (a sign post taken for a
    # person) are tracked but are not events, and are not counted here either
    window = 1.5 / s.detect.fps
    for frame in iter_file_frames(vtest, "vtest", s.detect.fps, 640):
        analytics.process(frame)
        key = round(frame.time, 1)
        if key in wanted:
            assert analytics.tracker is not None
            visible[wanted[key]] = sum(1 for tr in analytics.tracker.tracks.values()
                                       if tr.label == "person" and tr.moved and tr.last >= frame.time - window)
    analytics.finish()
    if gated:  # with some frames carried on the tracks' own motion (objects.tracked_interval), not all detected
        assert analytics.finder is not None and analytics.finder.stats.coasted > 10
    tol = EXPECT["people_tolerance"]
    for frame_no, expected in EXPECT["people_visible"].items():
        assert abs(visible[int(frame_no)] - expected) <= tol, (frame_no, visible, EXPECT["people_visible"])

    crossings = [c for ev in sink.ended for c in ev.crossings]
    for spec in EXPECT["crossings"]:
        lo, hi = spec["window"]
        got = [c for c in crossings if lo <= c["time"] <= hi]
        for direction in ("in", "out"):
            n = sum(1 for c in got if c["direction"] == direction)
            assert abs(n - spec[direction]) <= EXPECT["crossing_tolerance"], (spec, got)
    # every finished person event has a sane lifecycle
    people = [e for e in sink.ended if e.label == "person"]
    assert len(people) >= 15
    assert all(e.end is not None and e.end >= e.start and e.track_id is not None for e in people)
    assert len({e.track_id for e in people}) == len(people)


def test_motion_mask_suppresses_detections_inside_it(vtest: Path, detector: Detector) -> None:
    right_half = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
    plain = run(vtest, settings(), detector, until=20)
    masked = run(vtest, settings(motion=MotionConfig(masks=[right_half])), detector, until=20)
    xs_plain = [x for e in plain.ended for _, x, _ in e.path]
    xs_masked = [x for e in masked.ended for _, x, _ in e.path]
    assert any(x > 0.55 for x in xs_plain), "the clip has people on the right: the test could fail"
    assert xs_masked, "people on the left half are still found"
    assert all(x <= 0.5 for x in xs_masked)


def test_full_frame_mask_gives_no_events(vtest: Path, detector: Detector) -> None:
    everything = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    sink = run(vtest, settings(motion=MotionConfig(masks=[everything])), detector, until=20)
    assert sink.updates == []


def test_static_clip_gives_no_events(vtest: Path, detector: Detector, tmp_path: Path) -> None:
    """A still picture full of people and cars: objects are tracked, but nothing moves, so no events. What the
    first whole frame found stays tracked under the same ids by looking again at the tracks' own boxes, not by
    whole-frame passes."""
    with av.open(str(vtest)) as c:
        still = next(c.decode(video=0)).to_ndarray(format="bgr24")
    rng = np.random.default_rng(1)
    # sensor noise, so the clip is static the way a real camera is, not bit-identical
    frames = (np.clip(still.astype(np.int16) + rng.integers(-3, 4, still.shape), 0, 255).astype(np.uint8)
              for _ in range(150))
    clip = write_clip(tmp_path / "still.mp4", frames, fps=10)
    s = settings()
    sink = CollectingSink()
    analytics = CameraAnalytics(s.model_copy(update={"name": "still"}), detector, sink)
    steady: set[int] = set()
    n = 0
    for frame in iter_file_frames(clip, "still", s.detect.fps, 640):
        analytics.process(frame)
        assert analytics.tracker is not None
        if not steady and frame.time >= 3.0:  # seen three times by then: no detector's flicker
            steady = {i for i, tr in analytics.tracker.tracks.items() if tr.hits >= 3}
        n += 1
    assert n >= 70
    assert len(steady) >= 3
    assert steady <= set(analytics.tracker.tracks)  # 12 s on, each still tracked (lost_after is 3 s)
    stats = analytics.finder.stats if analytics.finder is not None else None
    assert stats is not None and stats.full_passes <= 2 and stats.still_checks >= 10
    analytics.finish()
    assert sink.updates == []


def test_a_dropped_camera_ends_open_events_and_starts_afresh(vtest: Path, detector: Detector) -> None:
    """Frames up to 12 s, the camera drops, frames again from 20 s: nothing stays open across the gap."""
    line = LineConfig(points=EXPECT["line"]["points"])
    sink = CollectingSink()
    analytics = CameraAnalytics(settings(lines={"L": line}), detector, sink)
    frames = list(iter_file_frames(vtest, "vtest", 5, 640))
    before = [f for f in frames if f.time <= 12.0]
    after = [f for f in frames if f.time >= 20.0]
    for f in before:
        analytics.process(f)
    open_now = {ev.id for ev in analytics.events.values()}
    assert open_now, "people are in view at 12 s: the test could fail"
    counts = {n: dict(c) for n, c in analytics.zones.counts.items()}
    analytics.interrupted()
    closed = {ev.id: ev for ev in sink.ended}
    assert open_now <= set(closed)
    assert all(before[0].time <= closed[i].end <= before[-1].time for i in open_now)  # type: ignore[operator]
    assert analytics.events == {}
    analytics.interrupted()  # twice is harmless
    n_ended = len(sink.ended)
    assert n_ended == len(closed)
    for f in after:
        analytics.process(f)
    analytics.finish(after[-1].time)
    later = [e for e in sink.ended[n_ended:] if e.kind == "object"]
    assert later and all(e.start >= 20.0 for e in later), "tracks after the gap are new tracks"
    for name, c in counts.items():  # line counts carry on across the gap
        assert all(analytics.zones.counts[name][d] >= c[d] for d in c)


def test_frame_decoder_reports_a_gap_in_order(vtest: Path, tmp_path: Path) -> None:
    from fractions import Fraction

    from clearwatch.analytics import FrameDecoder
    from clearwatch.media import transcode_h264
    from clearwatch.sources.packets import StreamPacket

    clip = transcode_h264(vtest, tmp_path / "vtest.mp4", width=320, height=240)  # H.264, as cameras send
    seen: list[object] = []
    decoder = FrameDecoder("vtest", lambda f: seen.append(f.time), fps=5, width=320,
                           on_gap=lambda: seen.append("gap"))
    decoder.start()
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        packets = [p for p in c.demux(stream) if p.size][:60]
        tb = Fraction(stream.time_base)

        def feed(base: float) -> None:
            decoder.on_connect(stream)
            for p in packets:
                decoder.on_packet(StreamPacket(bytes(p), p.pts, p.dts, p.duration or 1, p.is_keyframe, tb,
                                               base + float(p.pts * tb)))
            decoder.on_disconnect()

        feed(1000.0)
        feed(2000.0)
        decoder.on_disconnect()  # a drop before any frame came: no gap to report
        decoder.stop()
        decoder.join(30)
    assert seen.count("gap") == 2
    first = seen.index("gap")
    assert all(isinstance(t, float) and t < 1100 for t in seen[:first])
    assert all(isinstance(t, float) and t >= 2000 for t in seen[first + 1:-1]) and seen[-1] == "gap"
    assert len(seen) - 2 >= 20
