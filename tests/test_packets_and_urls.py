from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from clearwatch.recording.layout import parse_segment_path, segment_path
from clearwatch.sources.packets import AccessUnitAssembler
from clearwatch.sources.urls import redact_url, scrub
from clearwatch.timeparse import parse_time


def _pkt(data: bytes, pts: int | None, key: bool = False, duration: int = 0) -> av.Packet:
    p = av.Packet(data)
    p.pts = pts
    p.dts = pts
    p.is_keyframe = key
    p.duration = duration
    return p


def test_slices_of_one_frame_are_merged_and_missing_stamp_filled() -> None:
    asm = AccessUnitAssembler(default_duration=3600)
    out = []
    # an unstamped first slice, its stamped second slice, then single-slice frames
    for p in [_pkt(b"A", None, key=True, duration=3600), _pkt(b"B", 0), _pkt(b"C", 3600), _pkt(b"D", 3600),
              _pkt(b"E", 7200)]:
        u = asm.push(p)
        if u:
            out.append(u)
    out.append(asm.flush())
    frames = [(b"".join(bytes(p) for p in u.packets), u.pts, u.dts, u.duration, u.keyframe) for u in out if u]
    assert frames[0][0] == b"A"  # the unstamped leading unit got the stamp before the next one
    assert frames[0][2] == -3600 and frames[0][4] is True
    assert frames[1][0] == b"B" and frames[1][2] == 0
    assert frames[2][0] == b"CD" and frames[2][2] == 3600 and frames[2][3] == 3600
    assert frames[3][0] == b"E" and frames[3][2] == 7200


def test_out_of_order_units_are_dropped() -> None:
    asm = AccessUnitAssembler(default_duration=1)
    units = [asm.push(_pkt(b"x", t)) for t in (0, 1, 5, 3, 6)]
    units.append(asm.flush())
    dts = [u.dts for u in units if u]
    assert dts == sorted(dts) and 3 not in dts


@pytest.mark.parametrize(("url", "shown"), [
    ("rtsp://admin:pa%40ss@10.0.0.5:554/s1", "rtsp://admin:***@10.0.0.5:554/s1"),
    ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
    ("http://u:p@[::1]:8080/v", "http://u:***@[::1]:8080/v"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_removes_password_in_any_spelling() -> None:
    url = "rtsp://admin:pa%40ss@10.0.0.5/s1"
    text = f"Connection to {url} failed; password pa@ss rejected"
    cleaned = scrub(text, url)
    assert "pa@ss" not in cleaned and "pa%40ss" not in cleaned and "admin:***@10.0.0.5" in cleaned


def test_segment_layout_roundtrip(tmp_path: Path) -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC).timestamp()
    p = segment_path(tmp_path, "gate", t)
    assert p.relative_to(tmp_path).as_posix() == "gate/2026-01-02/03/04.05.mp4"
    p.parent.mkdir(parents=True)
    p.touch()
    p2 = segment_path(tmp_path, "gate", t)
    assert p2.name == "04.05-1.mp4"
    cam, start = parse_segment_path(p2.relative_to(tmp_path).as_posix())  # type: ignore[misc]
    assert cam == "gate" and start == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_segment_path("gate/notes.txt") is None


def test_parse_time() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_time("-10m", now) == datetime(2026, 11, 25, 11, 50, tzinfo=UTC)
    assert parse_time("now", now) == now
    assert parse_time("2026-11-25T10:00:00", now) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_time("2026-11-25T10:00:00+01:00", now) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
