"""Config sections for analytics. Coordinates are fractions of the frame (0..1, origin top-left),
so zones survive a change of detect resolution."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from clearwatch.config.base import ConfigPath, Section
from clearwatch.config.units import Duration

DEFAULT_OBJECTS = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]


def _points(v: list[tuple[float, float]]) -> list[tuple[float, float]]:
    for x, y in v:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point [{x}, {y}] is outside the frame: coordinates are fractions from 0 to 1")
    return v


def _polygon(v: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(v) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(v)}")
    return _points(v)


def _segment(v: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(v) != 2:
        raise ValueError(f"a line is exactly 2 points [[x1, y1], [x2, y2]], got {len(v)}")
    if tuple(v[0]) == tuple(v[1]):
        raise ValueError("the two points of a line must differ")
    return _points(v)


Polygon = Annotated[list[tuple[float, float]], AfterValidator(_polygon)]
Segment = Annotated[list[tuple[float, float]], AfterValidator(_segment)]


class DetectConfig(Section):
    """The decoded picture all analytics share."""

    enabled: bool = True
    fps: float = Field(default=5.0, gt=0, le=30, description="Frames per second analysed.")
    width: int = Field(default=640, ge=64, le=3840, description="Decode width (height keeps the aspect).")
    skip_deblocking: bool = Field(
        default=True, description="Skip H.264/H.265 in-loop deblocking on inter frames when decoding for analytics: "
        "a quarter less decoding CPU for a slightly blockier analytics picture (restored at every keyframe). "
        "Recordings, exports and the live video pass the camera's packets on undecoded and are not affected "
        "(snapshots and the MJPEG fallback are made from the analytics picture).")


class MotionConfig(Section):
    threshold: int = Field(default=25, ge=1, le=255, description="Grey-level change that counts as motion.")
    min_area: float = Field(default=0.0015, ge=0, le=1, description="Smallest moving area, fraction of the frame.")
    width: int = Field(default=320, ge=32, le=1280, description="Width of the grey picture motion works on.")
    masks: list[Polygon] = Field(default_factory=list, description="Polygons where motion is ignored.")


class ObjectFilter(Section):
    min_score: float | None = Field(default=None, ge=0, le=1)
    min_area: float | None = Field(default=None, ge=0, le=1, description="Fraction of the frame.")
    max_area: float | None = Field(default=None, ge=0, le=1)


class ObjectsConfig(Section):
    enabled: bool = True
    detector: str = Field(default="yolox_nano", description="A backend in analytics/detectors/backends.")
    model: ConfigPath | None = Field(default=None, description="Model file; default: looked up by name.")
    sha256: str | None = Field(default=None, description="Required with a model file we do not know.")
    input_size: int = Field(default=416, ge=96, le=1280, description="Model input for a whole frame.")
    threads: int = Field(default=1, ge=1, le=64)
    track: list[str] = Field(default_factory=lambda: list(DEFAULT_OBJECTS))
    min_score: float = Field(default=0.45, ge=0, le=1)
    filters: dict[str, ObjectFilter] = Field(default_factory=dict)
    motion_gated: bool = Field(default=True, description="Run the detector only where something moves.")
    full_frame_interval: Duration = Field(
        default=10.0, ge=0, description="Whole-frame pass: finds what is there without having moved (what moves is "
        "looked at where it moves, and what stands still once tracked is looked at again by `still_interval`).")
    still_interval: Duration = Field(
        default=1.0, gt=0, description="Tracks not seen in the last frame (standing, parked, or gone) are looked at "
        "again this often, the detector on their own boxes: that keeps what stands still tracked. Less than "
        "`lost_after`.")
    tracked_interval: int = Field(
        default=2, ge=1, le=10, description="While everything that moves lies where settled tracks are about to "
        "be (and near no track that is new or has not moved), run the detector on one frame in N and carry the "
        "tracks on their own motion through the others (1: every frame). Motion anywhere else is looked at at once.")
    min_frames: int = Field(default=3, ge=1, le=100, description="Detections before a track becomes an event.")
    lost_after: Duration = Field(default=3.0, gt=0, description="A track unseen this long has ended.")

    @model_validator(mode="after")
    def _still_before_lost(self) -> ObjectsConfig:
        if self.still_interval >= self.lost_after:
            raise ValueError(f"still_interval ({self.still_interval:g} s) must be less than lost_after "
                             f"({self.lost_after:g} s), or a track that stands still ends before it is looked at "
                             "again")
        return self

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, v: str) -> str:
        from clearwatch.analytics.detectors.registry import available

        if v not in available():
            raise ValueError(f"unknown detector {v!r}: use one of {', '.join(available())}")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 64 or any(c not in "0123456789abcdefABCDEF" for c in v)):
            raise ValueError("must be 64 hexadecimal digits")
        return v

    @model_validator(mode="after")
    def _known_labels(self) -> ObjectsConfig:
        from clearwatch.analytics.labels import COCO_LABELS

        unknown = [x for x in [*self.track, *self.filters] if x not in COCO_LABELS]
        if unknown:
            raise ValueError(f"unknown object label(s) {', '.join(map(repr, unknown))}; labels are COCO names "
                             "such as person, car, truck, bus, bicycle, motorcycle")
        return self


class ZoneConfig(Section):
    points: Polygon
    objects: list[str] = Field(default_factory=list, description="Labels that count here; empty: all tracked.")
    loiter: Duration | None = Field(default=None, gt=0, description="Dwell time that raises a loitering event.")
    left: Duration | None = Field(default=None, gt=0, description="A new still thing here this long: 'left'.")
    removed: Duration | None = Field(default=None, gt=0,
                                     description="Something that was here, gone this long: 'removed'.")
    min_object: float = Field(default=0.001, gt=0, le=1,
                              description="Smallest left or removed thing, fraction of the frame.")


class TamperConfig(Section):
    """Camera tampering, judged against a slowly refreshed reference of the view (see README)."""

    enabled: bool = True
    after: Duration = Field(default=5.0, ge=0.5, le=600,
                            description="Covered, moved or defocused this long before it is reported.")
    frozen_after: Duration = Field(default=10.0, ge=1, le=3600,
                                   description="The same picture this long before it is reported as frozen.")
    relearn: Duration = Field(default=120.0, ge=5,
                              description="A moved or defocused view this long becomes the new reference.")
    sensitivity: float = Field(default=0.5, gt=0, lt=1,
                               description="Higher reports smaller changes of the view (more false alarms).")


class LineConfig(Section):
    points: Segment
    objects: list[str] = Field(default_factory=list)


class MachineConfig(Section):
    """An area whose movement means the machine runs."""

    points: Polygon
    threshold: int = Field(default=20, ge=1, le=255, description="Grey-level change between frames.")
    on_level: float = Field(default=0.02, gt=0, le=1, description="Moving fraction of the area that means running.")
    off_level: float | None = Field(default=None, gt=0, le=1, description="Below this it is not (default: half).")
    start_after: Duration = Field(default=1.0, ge=0, description="Movement this long before 'running'.")
    idle_after: Duration = Field(default=2.0, ge=0, description="Stillness this long before 'idle'.")
    stop_after: Duration = Field(default=30.0, ge=0, description="Stillness this long before 'stopped'.")

    @model_validator(mode="after")
    def _levels(self) -> MachineConfig:
        if self.off_level is not None and self.off_level > self.on_level:
            raise ValueError("off_level must not exceed on_level (that is the hysteresis)")
        if self.stop_after < self.idle_after:
            raise ValueError("stop_after must be at least idle_after")
        return self


class CounterConfig(Section):
    """Counts things crossing a line: tracked objects, or moving blobs for items no detector knows."""

    points: Segment
    source: Literal["objects", "motion"] = "objects"
    objects: list[str] = Field(default_factory=list)
    min_area: float = Field(default=0.0005, ge=0, le=1, description="motion source: smallest blob, frame fraction.")
