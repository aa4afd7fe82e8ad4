"""Which enrolled people appear in a video file, and when."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clearwatch.analytics.frames import iter_file_frames
from clearwatch.identity.face_registry import FaceRegistry

MERGE_GAP = 3.0  # s: sightings closer than this are one appearance


@dataclass
class Appearance:
    person_id: str
    name: str
    start: float
    end: float
    best_similarity: float
    sightings: int = 1
    watchlists: list[str] = field(default_factory=list)


@dataclass
class VideoSearch:
    appearances: list[Appearance]
    frames: int
    faces_seen: int
    faces_embedded: int
    unknown: int  # embedded faces that matched nobody (kept as counts only: no identity is made for them)
    video_seconds: float


def search_video(path: Path, registry: FaceRegistry, *, fps: float = 2.0, width: int = 1920, min_quality: float = 0.3,
                 progress: Callable[[float, float], None] | None = None) -> VideoSearch:
    open_: dict[str, Appearance] = {}
    done: list[Appearance] = []
    frames = seen = embedded = unknown = 0
    last_t = 0.0
    for frame in iter_file_frames(path, "search", fps, width, progress=progress):
        frames += 1
        last_t = frame.time
        shots = registry.engine.analyse(frame.image, min_quality=min_quality, max_side=max(frame.size))
        seen += len(shots)
        for shot in shots:
            if shot.embedding is None:
                continue
            embedded += 1
            best = registry.identify(shot.embedding, k=1)
            if not best or best[0].similarity < registry.threshold:
                unknown += 1
                continue
            c = best[0]
            app = open_.get(c.person_id)
            if app is not None and frame.time - app.end <= MERGE_GAP:
                app.end = frame.time
                app.sightings += 1
                app.best_similarity = max(app.best_similarity, c.similarity)
            else:
                if app is not None:
                    done.append(app)
                open_[c.person_id] = Appearance(c.person_id, c.name, frame.time, frame.time, c.similarity,
                                                watchlists=c.watchlists)
    done.extend(open_.values())
    done.sort(key=lambda a: (a.start, a.name))
    return VideoSearch(done, frames, seen, embedded, unknown, last_t)
