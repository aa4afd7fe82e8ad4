"""One camera's analytics: frame → motion → (gated) detection → tracking → zones, lines, machines → events."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from clearwatch.analytics.counters import LineCounter
from clearwatch.analytics.detectors import Detector
from clearwatch.analytics.frames import Frame
from clearwatch.analytics.machinery import HourStats, MachineMonitor, StatsBook, Transition
from clearwatch.analytics.motion import Motion, MotionDetector, moving_now, polygon_mask
from clearwatch.analytics.objects import ObjectFinder, label_filter
from clearwatch.analytics.plate_events import PlateLooker, plate_events, side
from clearwatch.analytics.still import StillChange, StillWatcher
from clearwatch.analytics.tamper import TamperChange, TamperWatcher
from clearwatch.analytics.tracking import ObjectTracker, Track, render_snapshot
from clearwatch.analytics.zones import Crossing, LoiterChange, ZoneWatcher
from clearwatch.config.camera import CameraConfig
from clearwatch.events.model import CounterDelta, Event, EventType, EventUpdate, snapshot_name

if TYPE_CHECKING:
    from clearwatch.faces.recognizer import Identity
    from clearwatch.plates.lists import ListEntry
    from clearwatch.plates.watch import PlateDecision

STATS_FLUSH = 10.0  # seconds of video between writes of hourly statistics


class AnalyticsSink(Protocol):
    """Where a camera's analytics report to (the event service, or the ``analyze`` command)."""

    def on_event(self, update: EventUpdate, snapshot: bytes | None) -> None: ...
    def on_machine(self, camera: str, machine: str, state: dict[str, object]) -> None: ...
    def on_counter(self, delta: CounterDelta) -> None: ...
    def add_stats(self, camera: str, pending: dict[tuple[str, str, float], HourStats]) -> None: ...


@dataclass
class StageTimes:
    """CPU-ish seconds (thread time) spent per stage, for metrics and benchmarks."""

    motion: float = 0.0
    detect: float = 0.0
    track: float = 0.0
    rules: float = 0.0
    scene: float = 0.0  # tampering and left / removed objects (also inside ``rules``)
    frames: int = 0


class FaceLooker(Protocol):
    """Face recognition on person tracks (``faces.FaceRecognizer``), kept behind a protocol so analytics
    does not depend on the identity registry."""

    def look(self, track_id: int, image: np.ndarray, box: np.ndarray, t: float) -> Identity | None: ...
    def finish(self, track_id: int) -> Identity | None: ...


@dataclass(frozen=True)
class AnalyticsSummary:
    frames: int
    active: dict[str, int]  # label → objects in view now
    lines: dict[str, dict[str, int]]  # line → {"in": n, "out": n}
    machines: dict[str, str]  # machine → state
    detector: bool


@dataclass(frozen=True)
class Published:
    """What an object event's last message said, to tell when the next one is worth sending."""

    time: float
    zones: tuple[str, ...]
    crossings: int
    label: str
    quality: float


class CameraAnalytics:
    """``record_trigger`` is the camera's recorder's ``trigger`` when it records on motion or on events: the
    analytics call it directly, as soon as they see what the recording mode waits for."""

    def __init__(self, camera: CameraConfig, detector: Detector | None, sink: AnalyticsSink,
                 faces: FaceLooker | None = None, record_trigger: Callable[[float], None] | None = None,
                 plates: PlateLooker | None = None, plate_lists: Callable[[], list[ListEntry]] | None = None):
        # OpenCV splits even a 320-pixel blur across every core; on pictures this small the hand-offs cost more
        # than they save (a tenth of a camera's CPU), and cameras already run side by side on their own threads
        cv2.setNumThreads(1)
        self.camera = camera.name
        self.s = camera
        self.fps = camera.detect.fps
        self._trigger_motion = record_trigger if camera.record.mode == "motion" else None
        self._trigger_activity = record_trigger if camera.record.mode == "events" else None
        self.detector = detector
        self.sink = sink
        self.faces = faces
        self.plates = plates
        self.plate_lists = plate_lists
        self.book = StatsBook()
        self.times = StageTimes()
        self._size: tuple[int, int] | None = None
        self.events: dict[int, Event] = {}  # track id → its object event
        self._published: dict[int, Published] = {}
        self._loiter_events: dict[tuple[int, str], Event] = {}
        self._machine_events: dict[str, Event] = {}
        self.finished: list[Event] = []
        self._stats_flushed: float | None = None
        self.motion_frames = 0
        self._pending_files: dict[int, dict[str, bytes]] = {}
        self._last_t: float | None = None
        self._line_counts: dict[str, dict[str, int]] = {}  # carried across interruptions
        # kept across interruptions: a camera re-pointed while its cable was out is what tampering looks like
        self.tamper = TamperWatcher(camera.tamper) if camera.tamper.enabled else None
        self._tamper_event: Event | None = None
        self._still_events: dict[int, Event] = {}

    def _setup(self, size: tuple[int, int]) -> None:
        self._size = size
        self.motion = MotionDetector(self.s.motion, size)
        mask = polygon_mask(self.s.motion.masks, *size) if self.s.motion.masks else None
        self.finder = ObjectFinder(self.detector, self.s.objects, size, mask) if self.detector else None
        labels = self.detector.labels if self.detector else ()
        self.tracker = ObjectTracker(labels, self.s.objects.min_score, self.s.objects.lost_after, self.fps) \
            if self.detector else None
        self.zones = ZoneWatcher(self.s.zones, self.s.lines, size, labels)
        for name, counts in self._line_counts.items():
            if name in self.zones.counts:
                self.zones.counts[name].update(counts)
        msize = (self.motion.width, self.motion.height)
        self.machines = {n: MachineMonitor(n, c, msize, self.book) for n, c in self.s.machines.items()}
        self.counters = {n: LineCounter(n, c, size, labels) for n, c in self.s.counters.items()}
        self.still = StillWatcher(self.s.zones, msize)

    # ------------------------------------------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        if self._size != frame.size:
            if self._size is not None:
                self.finish(frame.time)
            self._setup(frame.size)
        t = self._last_t = frame.time
        c0 = time.thread_time()
        motion = self.motion.update(frame.image)
        c1 = time.thread_time()
        if motion.any:
            self.motion_frames += 1
            if self._trigger_motion is not None:
                self._trigger_motion(t)
        seen: list[Track] = []
        ended: list[Track] = []
        if self.finder is not None and self.tracker is not None:
            carried = self.tracker.predicted(t, self.s.objects.min_frames)
            if self.finder.carry(t, motion, carried.boxes, carried.others):
                c2 = time.thread_time()
                seen, ended = self.tracker.carry(carried, frame)
            else:
                dets = self.finder.find(frame.image, t, motion, self.tracker.boxes(), self.tracker.unseen(),
                                        self.tracker.new_boxes)
                c2 = time.thread_time()
                seen, ended = self.tracker.update(dets, frame)
            c3 = time.thread_time()
        else:
            c2 = c3 = c1
        crossings, loiter = self.zones.update(seen, ended, t)
        if self.faces is not None:
            self._recognise(seen, ended, frame)
        if self.plates is not None:
            self._read_plates(seen, ended, frame, motion)
        self._object_events(seen, ended, crossings, t, frame.size)
        self._loitering(loiter, frame.size)
        for monitor in self.machines.values():
            for tr in monitor.update(motion, t):
                self._machine_event(tr, monitor.snapshot())
        self._count(seen, motion, t)
        s0 = time.thread_time()
        self._scene(frame, motion, seen)
        self.times.scene += time.thread_time() - s0
        if self._trigger_activity is not None and (any(tr.id in self.events for tr in seen) or self._loiter_events):
            self._trigger_activity(t)
        if self._stats_flushed is None:
            self._stats_flushed = t
        elif t - self._stats_flushed >= STATS_FLUSH:
            self._flush_stats(t)
        c4 = time.thread_time()
        st = self.times
        st.motion += c1 - c0
        st.detect += c2 - c1
        st.track += c3 - c2
        st.rules += c4 - c3
        st.frames += 1

    def finish(self, t: float | None = None) -> None:
        """End everything still open (end of file, shutdown, resolution change)."""
        if self._size is None:
            return
        ended = self.tracker.finish() if self.tracker is not None else []
        end_t = t if t is not None else max([tr.last for tr in ended], default=time.time())
        _, loiter = self.zones.update([], ended, end_t)
        if self.faces is not None:
            for tr in ended:
                self._identified(tr.id, self.faces.finish(tr.id), end_t, emit=False)
        if self.plates is not None:
            self._plates_ended(ended)
            for decision in self.plates.finish_all():
                self._plate(decision, None)
        self._loitering(loiter, self._size)
        self._object_events([], ended, [], end_t, self._size)
        for name, ev in list(self._machine_events.items()):
            ev.end = end_t
            self._emit("end", ev)
            del self._machine_events[name]
        for ev in [*self._still_events.values(), *([self._tamper_event] if self._tamper_event else [])]:
            ev.end = end_t
            self._emit("end", ev)
        self._still_events.clear()
        self._tamper_event = None
        if self.tamper is not None:
            self.tamper.forget()  # seen again, if it still holds, when frames return
        self._flush_stats(end_t)

    def interrupted(self) -> None:
        """The camera dropped out: end what is open at the last frame seen, and start afresh when frames
        return (a new background, new tracks, machines re-judged), so nothing stays "in view" while the
        camera is away. Line counts carry on."""
        if self._size is None:
            return
        self.finish(self._last_t)
        self._line_counts = {n: dict(c) for n, c in self.zones.counts.items()}
        self._size = None

    def _flush_stats(self, t: float) -> None:
        self._stats_flushed = t
        pending = self.book.drain()
        if pending:
            self.sink.add_stats(self.camera, pending)

    def summary(self) -> AnalyticsSummary:
        """A glance for status displays: what is in view now and what the lines counted."""
        active: dict[str, int] = {}
        for ev in list(self.events.values()):
            active[ev.label] = active.get(ev.label, 0) + 1
        lines = ({n: dict(c) for n, c in self.zones.counts.items()} if self._size is not None
                 else {n: dict(c) for n, c in self._line_counts.items()})
        machines = {n: m.state or "unknown" for n, m in self.machines.items()} if self._size is not None else {}
        return AnalyticsSummary(self.times.frames, active, lines, machines, self.detector is not None)

    # events -----------------------------------------------------------------------------------------

    def _emit(self, kind: EventType, event: Event, snapshot: bytes | None = None,
              files: dict[str, bytes] | None = None) -> None:
        if kind == "end":
            event.clip_end = (event.end or event.start) + self.s.record.post_roll
            self.finished.append(event)
        self.sink.on_event(EventUpdate(kind, event, files or {}), snapshot)

    def _object_events(self, seen: list[Track], ended: list[Track], crossings: list[Crossing], t: float,
                       size: tuple[int, int]) -> None:
        w, h = size
        for c in crossings:
            ev = self.events.get(c.track.id)
            record = {"line": c.line, "direction": c.direction, "time": round(c.time, 3)}
            if ev is not None:
                ev.crossings.append(record)
            else:
                c.track.pending_crossings.append(record)
        for tr in seen:
            label = tr.label
            ev = self.events.get(tr.id)
            if ev is None:
                if tr.hits < self.s.objects.min_frames or not tr.moved \
                        or tr.max_score < label_filter(self.s.objects, label, "min_score", self.s.objects.min_score):
                    continue
                ev = Event(self.camera, "object", label, tr.first, track_id=tr.id,
                           clip_start=tr.first - self.s.record.pre_roll)
                ev.crossings.extend(tr.pending_crossings)
                self.events[tr.id] = ev
                self._fill(ev, tr, w, h)
                snap = self._snapshot(ev, tr)
                self._emit("start", ev, snap)
                self._published[tr.id] = Published(t, tuple(ev.zones), len(ev.crossings), label, tr.best_quality)
                continue
            self._fill(ev, tr, w, h)
            last = self._published[tr.id]
            changed = tuple(ev.zones) != last.zones or len(ev.crossings) != last.crossings or label != last.label
            if changed or (t - last.time >= self.s.events.update_interval and tr.best_quality > last.quality):
                snap = self._snapshot(ev, tr) if tr.best_quality > last.quality else None
                self._emit("update", ev, snap)
                self._published[tr.id] = Published(t, tuple(ev.zones), len(ev.crossings), label,
                                                   max(last.quality, tr.best_quality) if snap else last.quality)
        for tr in ended:
            ev = self.events.pop(tr.id, None)
            published = self._published.pop(tr.id, None)
            if ev is None:
                continue
            self._fill(ev, tr, w, h)
            ev.end = tr.last
            snap = self._snapshot(ev, tr) if published is None or tr.best_quality > published.quality else None
            self._emit("end", ev, snap, self._pending_files.pop(tr.id, None))

    def _fill(self, ev: Event, tr: Track, w: int, h: int) -> None:
        ev.label = tr.label
        ev.score = round(tr.max_score, 4)
        ev.box = [round(float(v), 4) for v in (tr.box / np.array([w, h, w, h], np.float32))]
        ev.path = list(tr.path)
        zones = set(ev.zones) | set(self.zones.zones_of(tr.id))  # zones ever entered
        ev.zones = sorted(zones)

    def _snapshot(self, ev: Event, tr: Track) -> bytes | None:
        if not self.s.events.snapshots:
            return None
        data = render_snapshot(tr, tr.label)
        if data is not None:
            ev.snapshot = snapshot_name(ev)
        return data

    def _recognise(self, seen: list[Track], ended: list[Track], frame: Frame) -> None:
        assert self.faces is not None
        for tr in seen:
            ev = self.events.get(tr.id)
            if ev is not None and tr.label == "person" and ev.identity is None:
                self._identified(tr.id, self.faces.look(tr.id, frame.image, tr.box, frame.time), frame.time)
        for tr in ended:  # decided on what was collected; the end update that follows carries it
            self._identified(tr.id, self.faces.finish(tr.id), frame.time, emit=False)

    def _identified(self, track_id: int, ident: Identity | None, t: float, emit: bool = True) -> None:
        ev = self.events.get(track_id)
        if ident is None or ev is None:
            return
        ev.identity, ev.identity_name = ident.person_id, ident.name
        ev.similarity = round(ident.similarity, 4)
        files = {}
        if ident.face_jpeg is not None and self.s.events.snapshots:
            ev.face_snapshot = snapshot_name(ev, "-face")
            files[ev.face_snapshot] = ident.face_jpeg
        if emit:
            self.sink.on_event(EventUpdate("update", ev, files), None)
        else:
            self._pending_files.setdefault(track_id, {}).update(files)
        if ident.person_id is not None and ident.watchlists:
            alert = Event(self.camera, "alert", ident.watchlists[0], t, end=t, score=ev.score, track_id=track_id,
                          zones=list(ev.zones), box=ev.box, identity=ident.person_id, identity_name=ident.name,
                          similarity=ev.similarity, face_snapshot=ev.face_snapshot, snapshot=ev.snapshot,
                          clip_start=t - self.s.record.pre_roll,
                          data={"watchlists": ident.watchlists, "event": ev.id, "name": ident.name})
            self._emit("start", alert)
            self._emit("end", alert)

    def _read_plates(self, seen: list[Track], ended: list[Track], frame: Frame, motion: Motion) -> None:
        """Vehicles' plates while they are in view, decided when they leave; on a dedicated entrance camera, the
        whole frame whenever something moves (OCR is never run on a still picture)."""
        assert self.plates is not None
        cfg = self.s.plates
        if cfg.dedicated:
            if motion.any or self.plates.pending:
                for decision in self.plates.look_frame(frame.image, frame.time, moving_now(motion)):
                    self._plate(decision, None)
            return
        for tr in seen:
            if tr.label in cfg.vehicles:
                self.plates.look(tr.id, tr.label, frame.image, tr.box, frame.time)
        self._plates_ended(ended)

    def _plates_ended(self, ended: list[Track]) -> None:
        assert self.plates is not None
        for tr in ended:
            decision = self.plates.finish(tr.id)
            if decision is not None:
                self._plate(decision, tr)

    def _plate(self, decision: PlateDecision, track: Track | None) -> None:
        cfg = self.s.plates
        direction = None
        if cfg.line is not None:
            if track is not None:
                ev = self.events.get(track.id)
                crossed = [*track.pending_crossings, *(ev.crossings if ev is not None else [])]
                direction = next((str(c["direction"]) for c in reversed(crossed) if c["line"] == cfg.line), None)
            elif decision.first_box is not None and decision.box is not None and self._size is not None:
                line = self.s.lines[cfg.line]
                before, after = side(line, self._size, decision.first_box), side(line, self._size, decision.box)
                direction = "in" if before > 0 >= after else "out" if before < 0 <= after else None
        for ev, snap, files in plate_events(self.camera, decision, track=track, direction=direction,
                                            pre_roll=self.s.record.pre_roll, post_roll=self.s.record.post_roll,
                                            snapshots=self.s.events.snapshots, lists=self.plate_lists,
                                            fuzzy=cfg.fuzzy):
            self.sink.on_event(EventUpdate("start", ev, files), snap)
            self.finished.append(ev)
            self.sink.on_event(EventUpdate("end", ev), None)
        if self._trigger_activity is not None:
            self._trigger_activity(decision.last)

    def _loitering(self, changes: list[LoiterChange], size: tuple[int, int]) -> None:
        for ch in changes:
            key = (ch.track.id, ch.zone)
            if ch.started:
                ev = Event(self.camera, "loitering", ch.track.label, ch.since, track_id=ch.track.id,
                           zones=[ch.zone], score=round(ch.track.max_score, 4),
                           clip_start=ch.since - self.s.record.pre_roll,
                           data={"zone": ch.zone, "limit": self.s.zones[ch.zone].loiter})
                self._loiter_events[key] = ev
                self._emit("start", ev, self._snapshot(ev, ch.track))
            elif key in self._loiter_events:
                ev = self._loiter_events.pop(key)
                ev.end = ch.time
                ev.data["dwell"] = round(ch.time - ch.since, 2)
                self._emit("end", ev)

    def _scene(self, frame: Frame, motion: Motion, seen: list[Track]) -> None:
        """Tampering and left or removed things, on the small grey picture motion made (no second decode)."""
        if self.tamper is not None:
            for change in self.tamper.update(motion.grey, frame.time):
                self._tampered(change, frame)
                if change.relearned:
                    self.still.reset()  # the view itself changed: nothing was left or taken
            if self.tamper.pending is not None or self.tamper.active is not None:
                return  # a blurred or covered picture says nothing about what is in a zone
        if self.still.active:
            people = [tr.box for tr in seen if tr.label == "person"]
            busy = np.array(people, np.float32).reshape(-1, 4) / motion.scale if people else None
            for still in self.still.update(motion.grey, frame.time, busy):
                self._still(still, frame, motion.scale)

    def _tampered(self, change: TamperChange, frame: Frame) -> None:
        if change.started:
            ev = Event(self.camera, "tamper", change.cause, change.since,
                       clip_start=change.since - self.s.record.pre_roll,
                       data={"cause": change.cause, "detected": round(change.time, 3), **change.measures})
            self._tamper_event = ev
            self._emit("start", ev, self._frame_snapshot(ev, frame, None))
        elif self._tamper_event is not None:
            ev, self._tamper_event = self._tamper_event, None
            ev.end = change.time
            ev.data["relearned"] = change.relearned
            self._emit("end", ev)

    def _still(self, change: StillChange, frame: Frame, scale: float) -> None:
        th = change.thing
        if change.started:
            w, h = frame.size
            box = np.array(th.box, np.float32) * scale
            ev = Event(self.camera, th.kind, th.zone, th.since, zones=[th.zone],
                       box=[round(float(v), 4) for v in box / np.array([w, h, w, h], np.float32)],
                       clip_start=th.since - self.s.record.pre_roll,
                       data={"zone": th.zone, "detected": round(change.time, 3),
                             "area": round(float(th.mask.mean()), 5)})
            self._still_events[th.id] = ev
            self._emit("start", ev, self._frame_snapshot(ev, frame, box))
        elif th.id in self._still_events:
            ev = self._still_events.pop(th.id)
            ev.end = change.time
            ev.data["absorbed"] = change.absorbed
            self._emit("end", ev)

    def _frame_snapshot(self, ev: Event, frame: Frame, box: np.ndarray | None) -> bytes | None:
        if not self.s.events.snapshots:
            return None
        image = frame.image
        if box is not None:
            image = image.copy()
            x1, y1, x2, y2 = (int(v) for v in box)
            cv2.rectangle(image, (x1 - 3, y1 - 3), (x2 + 3, y2 + 3), (0, 0, 255), 2)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            return None
        ev.snapshot = snapshot_name(ev)
        return bytes(buf.tobytes())

    def _machine_event(self, tr: Transition, state: dict[str, object]) -> None:
        old = self._machine_events.pop(tr.machine, None)
        if old is not None:
            old.end = tr.at
            self._emit("end", old)
        ev = Event(self.camera, "machine", tr.machine, tr.at, clip_start=tr.at - self.s.record.pre_roll,
                   data={"machine": tr.machine, "state": tr.state, "previous": tr.previous})
        self._machine_events[tr.machine] = ev
        self._emit("start", ev)
        self.sink.on_machine(self.camera, tr.machine, state)

    def _count(self, seen: list[Track], motion: Motion, t: float) -> None:
        for name, counter in self.counters.items():
            n_in, n_out = counter.update(seen, motion, t)
            if n_in or n_out:
                b = self.book.bucket("counter", name, t)
                b.count_in += n_in
                b.count_out += n_out
                self.sink.on_counter(CounterDelta(self.camera, name, t, n_in, n_out, counter.count_in,
                                                  counter.count_out))
