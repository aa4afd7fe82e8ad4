"""Playback in the console as one timeline: across segments and a gap, at speed, from an event, and an export of
a range marked on the timeline (Debian's Chromium, a running service)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from clearwatch.events.model import Event
from clearwatch.governance import AuditLog, Users
from clearwatch.media import write_clip
from clearwatch.service import Service
from clearwatch.storage.alarms import AlarmStore, Raised
from clearwatch.storage.events import EventStore
from clearwatch.storage.models import AuditRecord
from tests.support.helpers import make_config, wait_for

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SEG = 4.0  # seconds per recorded segment
GAP = 6.0  # seconds with nothing recorded between the second and the third


@dataclass
class Recorded:
    svc: Service
    url: str
    password: str
    t0: datetime  # start of the first segment
    segments: list[tuple[datetime, datetime]]
    event_at: datetime
    alarm_at: datetime


def _segment(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (15, 20, 3), np.uint8)
    frames = [np.ascontiguousarray(np.roll(np.repeat(np.repeat(base, 16, 0), 16, 1), i * 4, axis=1))
              for i in range(int(SEG * 10))]
    return write_clip(path, frames, fps=10, gop_seconds=1)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    tmp = tmp_path_factory.mktemp("playback")
    # a camera that is not there: the recordings below are what it left (the service adds none of its own)
    cfg = make_config(tmp / "data", {"yard": "rtsp://127.0.0.1:9/nothing"}, camera_extra="detect: {enabled: false}")
    svc = Service(cfg)
    svc.start()
    _, password = Users(svc.db).create("olga", "operator", None, None)
    t0 = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    starts = [t0, t0 + timedelta(seconds=SEG), t0 + timedelta(seconds=2 * SEG + GAP)]
    segments = []
    for i, start in enumerate(starts):
        rel = f"yard/{start:%Y-%m-%d}/{start:%H}/{start:%M.%S}.mp4"
        path = _segment(cfg.recordings_dir / rel, i)
        end = start + timedelta(seconds=SEG)
        svc.index.add_complete("yard", start, end, rel, path.stat().st_size, "h264", 320, 240)
        segments.append((start, end))
    event_at = starts[2] + timedelta(seconds=2.5)
    EventStore(svc.db).save(Event("yard", "object", "person", event_at.timestamp(),
                                  end=event_at.timestamp() + 1, score=0.9, track_id=7).as_dict())
    alarm_at = starts[0] + timedelta(seconds=3)
    AlarmStore(svc.db).raise_(Raised("yard-intrusion", "object", "yard", 1, "Person in the yard", alarm_at), 60)
    yield Recorded(svc, f"http://127.0.0.1:{svc.web_port}", password, t0, segments, event_at, alarm_at)
    svc.stop()


@pytest.fixture(scope="module")
def page(recorded: Recorded) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg.goto(recorded.url + "/")
        pg.fill("input[name=username]", "olga")
        pg.fill("input[name=password]", recorded.password)
        pg.click("button[type=submit]")
        pg.wait_for_url(recorded.url + "/")
        pg.goto(recorded.url + "/cameras/yard", wait_until="domcontentloaded")
        pg.wait_for_selector("#timeline .seg")
        yield pg
        browser.close()


def _shown(page: object) -> datetime | None:
    iso = page.evaluate("() => document.querySelector('#playing').dataset.time || null")  # type: ignore[attr-defined]
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None


def _click_timeline_at(page: object, t: datetime) -> None:
    """A click where ``t`` sits on the timeline, by the ends of the view the page drew."""
    box = page.locator("#timeline").bounding_box()  # type: ignore[attr-defined]
    view0, view1 = page.evaluate("""() => [Date.parse(document.querySelector('#axis-start').dataset.t),
                                            Date.parse(document.querySelector('#axis-end').dataset.t)]""")
    x = box["x"] + (t.timestamp() * 1000 - view0) / (view1 - view0) * box["width"]
    page.mouse.click(x, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]


def test_one_timeline_plays_across_segments_and_a_gap(page: object, recorded: Recorded) -> None:
    r = recorded
    segs = page.locator("#timeline .seg")  # type: ignore[attr-defined]
    assert segs.count() == 3
    # zoom to the last 10 minutes, where the three recordings are told apart
    page.click(".zoom button[data-minutes='10']")  # type: ignore[attr-defined]
    page.click(".transport .speed[data-rate='4']")  # type: ignore[attr-defined]
    _click_timeline_at(page, r.t0 + timedelta(seconds=1))
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => !document.querySelector('#player').paused && document.querySelector('#playing').dataset.time")
    assert page.evaluate("() => document.querySelector('#player').playbackRate") == 4  # type: ignore[attr-defined]
    first = _shown(page)
    assert first is not None and abs((first - (r.t0 + timedelta(seconds=1))).total_seconds()) < 1.5
    # on into the second segment, then past the gap into the third, without a click
    page.wait_for_function(  # type: ignore[attr-defined]
        "(t) => Date.parse(document.querySelector('#playing').dataset.time || 0) > t",
        arg=(r.segments[2][0].timestamp() + 0.5) * 1000, timeout=30_000)
    note = page.text_content("#gap-note")  # type: ignore[attr-defined]
    assert "nothing recorded" in note and f"({GAP:.0f} s)" in note
    assert page.evaluate("() => document.querySelector('#player').playbackRate") == 4  # type: ignore[attr-defined]
    played = {s.split("/api/recordings/")[1].split("/")[0] for s in page.evaluate(  # type: ignore[attr-defined]
        "() => performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/recordings/'))")}
    assert len(played) == 3  # each segment served as it was recorded


def test_an_event_on_the_timeline_plays_from_just_before_it(page: object, recorded: Recorded,
                                                          output_dir: Path) -> None:
    r = recorded
    page.click(".transport .speed[data-rate='1']")  # type: ignore[attr-defined]
    page.click("#timeline .ev:not(.alarm)")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "(t) => Math.abs(Date.parse(document.querySelector('#playing').dataset.time || 0) - t) < 1500",
        arg=(r.event_at.timestamp() - 2.0) * 1000, timeout=15_000)
    shown = _shown(page)
    assert shown is not None and r.segments[2][0] <= shown <= r.event_at
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(output_dir / "screenshots" / "playback.png"))  # type: ignore[attr-defined]


def test_an_alarm_is_marked_on_the_timeline_and_plays_from_just_before_it(page: object, recorded: Recorded) -> None:
    r = recorded
    mark = page.locator("#timeline .ev.alarm")  # type: ignore[attr-defined]
    assert mark.count() == 1 and "Person in the yard" in (mark.get_attribute("title") or "")
    mark.click()
    page.wait_for_function(  # type: ignore[attr-defined]
        "(t) => Math.abs(Date.parse(document.querySelector('#playing').dataset.time || 0) - t) < 1500",
        arg=(r.alarm_at.timestamp() - 2.0) * 1000, timeout=15_000)
    shown = _shown(page)
    assert shown is not None and r.segments[0][0] <= shown <= r.alarm_at


def test_a_range_marked_on_the_timeline_is_exported_with_its_reason(page: object, recorded: Recorded) -> None:
    r = recorded
    _click_timeline_at(page, r.t0 + timedelta(seconds=0.5))
    page.wait_for_function(  # type: ignore[attr-defined]  # the first segment loaded and playing
        "([a, b]) => { const t = Date.parse(document.querySelector('#playing').dataset.time || 0);"
        " return !document.querySelector('#player').paused && t >= a && t < b; }",
        arg=[r.segments[0][0].timestamp() * 1000, r.segments[0][1].timestamp() * 1000])
    page.evaluate("() => document.querySelector('#player').pause()")  # type: ignore[attr-defined]
    page.click("#mark-in")  # type: ignore[attr-defined]
    # paused in the first segment: what is on screen is its start plus the player's position
    marked_in = r.segments[0][0] + timedelta(
        seconds=page.evaluate("() => document.querySelector('#player').currentTime"))  # type: ignore[attr-defined]
    page.evaluate(f"() => {{ document.querySelector('#player').currentTime = {SEG - 0.5}; }}")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => {{ const v = document.querySelector('#player'); return v.currentTime >= {SEG - 0.6} && !v.seeking; }}")
    page.click("#mark-out")  # type: ignore[attr-defined]
    assert page.evaluate("() => document.querySelector('#export-panel').open")  # type: ignore[attr-defined]
    assert page.is_visible("#timeline .sel")  # type: ignore[attr-defined]
    start_value = page.input_value("#export-form input[name=start]")  # type: ignore[attr-defined]
    # the browser keeps a datetime-local value in its shortest form: "…T00:29" for 00:29:00 (one mark in sixty)
    assert marked_in is not None
    assert datetime.fromisoformat(start_value) == marked_in.astimezone().replace(microsecond=0, tzinfo=None)
    page.fill("#export-form input[name=justification]", "incident 42: the yard at dawn")  # type: ignore[attr-defined]
    with page.expect_download(timeout=60_000) as got:  # type: ignore[attr-defined]
        page.click("#export-form button")  # type: ignore[attr-defined]
    clip = Path(got.value.path())
    with av.open(str(clip)) as c:
        seconds = float(c.duration or 0) / 1e6
    assert 2.0 <= seconds <= SEG + 0.5, seconds

    def exported() -> AuditRecord | None:
        rows = AuditLog(r.svc.db).list(action="footage.export")
        return rows[0] if rows else None

    assert wait_for(lambda: exported() is not None, 10) is not None, "the export is on the audit trail"
    row = exported()
    assert row is not None and row.actor == "olga" and row.target == "yard"
    assert row.justification == "incident 42: the yard at dawn"
    audited_start = datetime.fromisoformat(json.loads(row.detail)["start"])
    assert abs((audited_start - marked_in).total_seconds()) < 1.0  # the form keeps whole seconds
