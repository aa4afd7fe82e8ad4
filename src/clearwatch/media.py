"""Make H.264 clips: the demo camera's footage, and test/benchmark streams (no B-frames, fixed GOP)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from clearwatch.errors import ClearwatchError

DEMO_CLIP_NAMES = ("data/video/vtest.avi",)
DEBIAN_VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def find_demo_clip(cwd: Path | None = None) -> Path | None:
    """First of $CLEARWATCH_SHARED/data/video/vtest.avi, ../shared/..., Debian's opencv-doc copy."""
    cwd = cwd or Path.cwd()
    candidates = []
    if os.environ.get("CLEARWATCH_SHARED"):
        candidates.append(Path(os.environ["CLEARWATCH_SHARED"]) / "data/video/vtest.avi")
    candidates += [cwd / "../shared/data/video/vtest.avi", DEBIAN_VTEST]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


def find_shared_models(cwd: Path | None = None) -> Path | None:
    """The shared model folder ($CLEARWATCH_SHARED/models or ../shared/models), if there is one."""
    cwd = cwd or Path.cwd()
    candidates = [Path(os.environ["CLEARWATCH_SHARED"]) / "models"] if os.environ.get("CLEARWATCH_SHARED") else []
    candidates.append(cwd / "../shared/models")
    return next((c.resolve() for c in candidates if c.is_dir()), None)


def _encoder(out: av.container.OutputContainer, fps: Fraction, width: int, height: int, gop: int,
             bitrate: int | None) -> av.video.stream.VideoStream:
    options = {"preset": "veryfast", "bf": "0", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
               "x264-params": "sliced-threads=0"}
    stream = out.add_stream("libx264", rate=fps, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if bitrate:
        stream.bit_rate = bitrate
        stream.codec_context.options.update({"maxrate": str(bitrate), "bufsize": str(bitrate * 2)})
    return stream


def _encode_frame(out: av.container.OutputContainer, stream: av.video.stream.VideoStream,
                  frame: av.VideoFrame, index: int, fps: Fraction) -> None:
    # Stamp every frame explicitly: left unstamped, PyAV keeps the source's timing and a re-timed
    # clip (say 10 fps source, 25 fps wanted) comes out at the source's rate.
    frame.pts = index
    frame.time_base = 1 / fps
    for pkt in stream.encode(frame):
        out.mux(pkt)


def transcode_h264(src: Path, dst: Path, *, width: int | None = None, height: int | None = None,
                   gop_seconds: float = 2.0, bitrate: int | None = None, min_seconds: float = 0.0,
                   fps: int | None = None, keep_speed: bool = False, every: int = 1,
                   progress: Callable[[float], None] | None = None) -> Path:
    """Re-encode ``src`` to H.264 MP4 (repeating it until ``min_seconds`` long). Written atomically.

    ``fps``: the output's frame rate. By default the frames are re-timed (the clip plays faster or slower: fine
    for a test of streaming); with ``keep_speed`` the clip keeps its pace, a frame between two of the source's
    being their blend (a camera's frames all differ: repeated ones would make decoding unrealistically cheap).
    ``every``: keep one frame in that many, on the same timeline (a camera's sub-stream beside its main stream)."""
    tmp = dst.with_name(dst.name + ".part")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(src)) as probe:
            vs = probe.streams.video[0]
            src_rate = vs.average_rate or Fraction(25)
            src_frames = vs.frames or int(float(probe.duration or 0) / 1e6 * float(src_rate))
            w, h = width or vs.codec_context.width, height or vs.codec_context.height
    except (av.error.FFmpegError, IndexError) as exc:
        raise ClearwatchError(f"cannot read video {src}: {exc}") from None
    step = src_rate / fps if fps and keep_speed else Fraction(1)  # source frames per output frame
    rate = Fraction(fps) if fps else src_rate / every
    total_frames = int((max(1, src_frames) - 1) / step) + 1  # of one pass, before ``every``
    need = max(-(-total_frames // every), int(min_seconds * float(rate)))
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = _encoder(out, rate, w, h, max(1, round(gop_seconds * float(rate))), bitrate)
        n = 0
        while n < need:
            with av.open(str(src)) as inp:
                frames = (f.reformat(width=w, height=h, format="yuv420p") for f in inp.decode(video=0))
                for i, frame in enumerate(frames if step == 1 else _paced(frames, step)):
                    if i % every:
                        continue
                    _encode_frame(out, stream, frame, n, rate)
                    n += 1
                    if progress and n % 25 == 0:
                        progress(min(1.0, n / need))
                    if n >= need:
                        break
        for pkt in stream.encode():
            out.mux(pkt)
    os.replace(tmp, dst)
    if progress:
        progress(1.0)
    return dst


def _paced(frames: Iterator[av.VideoFrame], step: Fraction) -> Iterator[av.VideoFrame]:
    """One frame every ``step`` source frames (yuv420p), on the source's timeline: each the blend of the two
    source frames it falls between, weighted by how near it is to each."""
    import cv2

    planes: Iterator[np.ndarray] = (f.to_ndarray() for f in frames)
    a, b = next(planes, None), next(planes, None)
    at = n = 0  # the source index of ``a``; the output frame's
    while a is not None:
        pos = n * step
        while pos >= at + 1 and b is not None:
            a, b, at = b, next(planes, None), at + 1
        weight = float(pos - at)
        picture: np.ndarray
        if weight == 0:
            picture = a
        elif b is None:
            return  # past the last source frame
        else:
            picture = np.asarray(cv2.addWeighted(a, 1 - weight, b, weight, 0), np.uint8)
        yield av.VideoFrame.from_ndarray(picture, format="yuv420p")
        n += 1


def write_clip(dst: Path, frames: Iterable[np.ndarray], fps: int = 10, gop_seconds: float = 2.0) -> Path:
    """Encode BGR frames (all the same size) to an H.264 MP4, atomically."""
    tmp = dst.with_name(dst.name + ".part")
    dst.parent.mkdir(parents=True, exist_ok=True)
    stream = None
    with av.open(str(tmp), "w", format="mp4") as out:
        for i, img in enumerate(frames):
            if stream is None:
                stream = _encoder(out, Fraction(fps), img.shape[1], img.shape[0], max(1, round(gop_seconds * fps)),
                                  None)
            _encode_frame(out, stream, av.VideoFrame.from_ndarray(img, format="bgr24"), i, Fraction(fps))
        if stream is None:
            raise ClearwatchError("write_clip: no frames")
        for pkt in stream.encode():
            out.mux(pkt)
    os.replace(tmp, dst)
    return dst


def test_pattern(dst: Path, seconds: float = 60, fps: int = 10, width: int = 640, height: int = 360,
                 moving: bool = True) -> Path:
    """A moving synthetic pattern when no real clip is available (vectorised, no per-pixel loops)."""
    tmp = dst.with_name(dst.name + ".part")
    dst.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    base = ((xx // 40 + yy // 40) % 2 * 60 + 40).astype(np.uint8)
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = _encoder(out, Fraction(fps), width, height, fps * 2, None)
        for i in range(int(seconds * fps)):
            img = np.repeat(base[:, :, None], 3, axis=2)
            x = int((i * 8) % (width - 80)) if moving else width // 2
            img[height // 2 - 40: height // 2 + 40, x: x + 80] = (230, 120, 30)
            _encode_frame(out, stream, av.VideoFrame.from_ndarray(img, format="rgb24"), i, Fraction(fps))
        for pkt in stream.encode():
            out.mux(pkt)
    os.replace(tmp, dst)
    return dst
