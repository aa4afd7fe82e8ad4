"""A generated road clip with known plates: the shared car photo, its plate replaced by each test plate (the
shared plate crops, or plates rendered in a plate-like type), driving across a road with motion blur, growing as
it comes nearer, through JPEG and H.264 compression. Every vehicle's plate, time and direction is known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from clearwatch.media import write_clip

SIZE = (1280, 720)
FPS = 10
CAR_BOX = (125, 5, 545, 361)  # the car itself in car_ab123cd.jpg (the parked cars beside it left out)
CAR_PLATE_BOX = (268 - 125, 202 - 5, 390 - 125, 233 - 5)  # where its plate sits, in that crop


@dataclass(frozen=True)
class Pass:
    plate: str
    enter: float  # seconds into the clip
    seconds: float  # time to cross the frame
    leftwards: bool  # driving right → left
    source: str | None = None  # a shared plate image to paste, else the plate is rendered

    @property
    def leave(self) -> float:
        return self.enter + self.seconds


PASSES = [
    Pass("AC456DF", 1.0, 5.0, False),
    Pass("KRW301", 7.0, 5.0, True, "plate_krw301.png"),
    Pass("GH789JK", 13.0, 5.0, False),
    Pass("AD799KB", 19.0, 5.0, True, "plate_ad799kb.png"),
    Pass("MN321PQ", 25.0, 3.0, False),
    # the same car again after a gap longer than a track survives: a new track, but the same pass (one read)
    Pass("MN321PQ", 32.0, 3.0, False),
]
SECONDS = 37.0


FONTS = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")]  # Debian's fonts-dejavu-core


def render_plate(text: str, size: tuple[int, int] = (240, 60)) -> np.ndarray:
    """White plate, black rim, bold black capitals squeezed a little, as plates are set."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    font_file = next((f for f in FONTS if f.is_file()), None)
    if font_file is None:
        raise FileNotFoundError("no DejaVu font: apt-get install fonts-dejavu-core (make test does)")
    font = ImageFont.truetype(str(font_file), int(h * 0.75))
    x1, y1, x2, y2 = font.getbbox(text)
    glyphs = Image.new("L", (x2 - x1 + 8, y2 - y1 + 8), 235)
    ImageDraw.Draw(glyphs).text((4 - x1, 4 - y1), text, font=font, fill=15)
    plate = np.full((h, w, 3), 235, np.uint8)
    cv2.rectangle(plate, (2, 2), (w - 3, h - 3), (20, 20, 20), 3)
    inner = cv2.resize(np.asarray(glyphs), (w - 24, h - 16), interpolation=cv2.INTER_AREA)
    plate[8:h - 8, 12:w - 12] = inner[:, :, None]
    return plate


def car_with_plate(car: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """The plate over the car's own, as wide as it and as tall as its proportions make it."""
    out = car.copy()
    x1, y1, x2, y2 = CAR_PLATE_BOX
    w = x2 - x1 + 12
    h = round(w * plate.shape[0] / plate.shape[1])
    cy = (y1 + y2) // 2
    out[cy - h // 2:cy - h // 2 + h, x1 - 6:x1 - 6 + w] = cv2.resize(plate, (w, h), interpolation=cv2.INTER_AREA)
    return out


def _road() -> np.ndarray:
    w, h = SIZE
    road = np.full((h, w, 3), 90, np.uint8)
    road[: h // 3] = (150, 130, 110)  # a wall / verge behind the road
    yy = np.arange(h)[:, None, None]
    road = np.clip(road.astype(np.int16) + (yy - h // 2) // 12, 0, 255).astype(np.uint8)
    for x in range(0, w, 160):  # lane markings
        cv2.rectangle(road, (x, int(h * 0.82)), (x + 80, int(h * 0.84)), (220, 220, 220), -1)
    return road


def _frames(shared: Path, passes: list[Pass], seconds: float) -> Iterator[np.ndarray]:
    x1, y1, x2, y2 = CAR_BOX
    car = cv2.imread(str(shared / "car_ab123cd.jpg"))[y1:y2, x1:x2]
    sprites = {}
    for p in passes:
        plate = cv2.imread(str(shared / p.source)) if p.source else render_plate(p.plate)
        sprites[p] = car_with_plate(car, plate)
    road = _road()
    rng = np.random.default_rng(7)
    w, h = SIZE
    for i in range(round(seconds * FPS)):
        t = i / FPS
        frame = road.copy()
        for p in passes:
            if not p.enter <= t < p.leave:
                continue
            f = (t - p.enter) / p.seconds
            scale = 1.1 + 0.3 * f  # coming nearer (an entrance camera: plates ~25-40 px tall)
            sprite = cv2.resize(sprites[p], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            sh, sw = sprite.shape[:2]
            travel = w + sw
            x = (w - f * travel) if p.leftwards else (f * travel - sw)
            kernel = np.zeros((1, 7), np.float32)
            kernel[0, :] = 1 / 7  # horizontal motion blur
            sprite = cv2.filter2D(sprite, -1, kernel)
            x0, y0 = round(x), int(h * 0.78 - sh)
            a, b = max(0, x0), min(w, x0 + sw)
            if b > a:
                frame[y0:y0 + sh, a:b] = sprite[:, a - x0:b - x0]
        frame = np.clip(frame.astype(np.int16) + rng.integers(-4, 5, frame.shape), 0, 255).astype(np.uint8)
        _ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 70])
        yield cv2.imdecode(buf, cv2.IMREAD_COLOR)


def road_clip(dst: Path, shared_plates: Path, passes: list[Pass] | None = None,
              seconds: float = SECONDS) -> Path:
    """Write the clip (once; it is cached by path) and return it."""
    if dst.exists():
        return dst
    return write_clip(dst, _frames(shared_plates, passes or PASSES, seconds), fps=FPS)
