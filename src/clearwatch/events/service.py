"""The event service: stores what analytics report, writes snapshots, and queues MQTT and webhook messages."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearwatch.analytics.machinery import HourStats
from clearwatch.config import Config
from clearwatch.events.model import CounterDelta, EventUpdate
from clearwatch.events.mqtt import MqttTransport
from clearwatch.events.outbox import Dispatcher
from clearwatch.events.webhooks import WebhookTransport
from clearwatch.federation.messages import picture_messages, site_message
from clearwatch.storage import Database, EventStore, Message, OutboxStore, StatDelta, StatsStore

log = logging.getLogger(__name__)

Listener = Callable[[EventUpdate], None]


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EventService:
    """Implements ``AnalyticsSink`` for the running system. Thread-safe: every camera calls it."""

    def __init__(self, config: Config, db: Database, *, deliver: bool = True):
        self.config = config
        self.prefix = config.mqtt.topic_prefix
        self.store = EventStore(db)
        self.outbox = OutboxStore(db)
        self.stats = StatsStore(db)
        self.snapshots_dir = config.data_dir / "snapshots"
        self._lock = threading.Lock()
        self._active: dict[str, Counter[str]] = {}  # camera → label → objects now in view
        self._active_ids: dict[str, tuple[str, str]] = {}
        self.listeners: list[Listener] = []  # live viewers of events (the console's event stream)
        self.dispatchers: list[Dispatcher] = []
        self.errors = 0
        if deliver:
            if config.mqtt.enabled:
                self.dispatchers.append(Dispatcher(self.outbox, MqttTransport(config.mqtt)))
            for name, hook in config.webhooks.items():
                self.dispatchers.append(Dispatcher(self.outbox, WebhookTransport(name, hook)))

    def start(self) -> None:
        closed = self.store.close_open(datetime.now(UTC))
        if closed:
            log.info("closed %d event(s) left open by the previous run", closed)
        for d in self.dispatchers:
            d.start()

    def stop(self) -> None:
        for d in self.dispatchers:
            d.stop()

    # AnalyticsSink ----------------------------------------------------------------------------------

    def on_event(self, update: EventUpdate, snapshot: bytes | None) -> None:
        ev = update.event
        if snapshot is not None and ev.snapshot:
            try:
                write_atomic(self.snapshots_dir / ev.snapshot, snapshot)
            except OSError as exc:
                log.warning("%s: cannot write snapshot %s: %s", ev.camera, ev.snapshot, exc.strerror)
                ev.snapshot = None
        for rel, blob in update.files.items():
            try:
                write_atomic(self.snapshots_dir / rel, blob)
            except OSError as exc:
                log.warning("%s: cannot write %s: %s", ev.camera, rel, exc.strerror)
        data = ev.as_dict()
        pictures = dict(update.files)
        if snapshot is not None and ev.snapshot and self.config.site.nats is not None:
            masks = cam.privacy_masks if (cam := self.config.cameras.get(ev.camera)) else None
            if masks:  # the central node never has what a site's masks cover
                from clearwatch.governance.masks import mask_jpeg

                snapshot = mask_jpeg(snapshot, masks)
            pictures[ev.snapshot] = snapshot
        messages = picture_messages(self.config, pictures) + self._messages(update, data)
        try:
            self.store.save(data, messages)
        except Exception as exc:
            self.errors += 1
            log.error("%s: cannot store event %s: %s", ev.camera, ev.id, exc)
            return
        self._notify()
        for listener in self.listeners:
            try:
                listener(update)
            except Exception:
                log.exception("event listener failed")

    def on_machine(self, camera: str, machine: str, state: dict[str, object]) -> None:
        if self.config.mqtt.enabled:
            self.queue([Message("mqtt", f"{self.prefix}/{camera}/machines/{machine}", _json(state), retain=True)])

    def on_counter(self, delta: CounterDelta) -> None:
        if self.config.mqtt.enabled:
            payload = {"in": delta.total_in, "out": delta.total_out, "time": delta.time}
            self.queue([Message("mqtt", f"{self.prefix}/{delta.camera}/counters/{delta.name}", _json(payload),
                                 retain=True)])

    def add_stats(self, camera: str, pending: dict[tuple[str, str, float], HourStats]) -> None:
        deltas = [StatDelta(camera, kind, name, hour, running_s=h.seconds["running"], idle_s=h.seconds["idle"],
                            stopped_s=h.seconds["stopped"], starts=h.starts, stops=h.stops,
                            count_in=h.count_in, count_out=h.count_out)
                  for (kind, name, hour), h in pending.items()]
        if deltas:
            self.stats.add(deltas)

    def queue(self, messages: list[Message]) -> None:
        try:
            self.outbox.add(messages)
        except Exception as exc:
            self.errors += 1
            log.error("cannot queue messages: %s", exc)
            return
        self._notify()

    def _notify(self) -> None:
        for d in self.dispatchers:
            d.notify()

    def _messages(self, update: EventUpdate, data: dict[str, Any]) -> list[Message]:
        ev = update.event
        body = _json({"type": update.type, "event": data})
        out = site_message(self.config, "event", ev.id, {"type": update.type, "event": data})
        if self.config.mqtt.enabled:
            out.append(Message("mqtt", f"{self.prefix}/events", body))
            if ev.kind == "alert":
                out.append(Message("mqtt", f"{self.prefix}/alerts", body))
            if ev.kind == "plate" and update.type == "end":
                out.append(Message("mqtt", f"{self.prefix}/plates", body))
            if ev.kind == "object":
                count = self._count_active(update)
                out.append(Message("mqtt", f"{self.prefix}/{ev.camera}/{ev.label}", str(count), retain=True))
        for name, hook in self.config.webhooks.items():
            from_list = ev.data.get("list") if ev.kind == "alert" else None
            if hook.lists and from_list not in hook.lists:
                continue
            if (not hook.kinds or ev.kind in hook.kinds) and update.type in hook.types:
                out.append(Message(f"webhook:{name}", "events", body))
        return out

    def _count_active(self, update: EventUpdate) -> int:
        ev = update.event
        with self._lock:
            per_label = self._active.setdefault(ev.camera, Counter())
            previous = self._active_ids.get(ev.id)
            if previous is not None and previous[1] != ev.label:
                per_label[previous[1]] -= 1  # relabelled (car → truck)
                del self._active_ids[ev.id]
                previous = None
            if update.type == "end":
                if previous is not None:
                    per_label[ev.label] -= 1
                    del self._active_ids[ev.id]
            elif previous is None:
                per_label[ev.label] += 1
                self._active_ids[ev.id] = (ev.camera, ev.label)
            return max(0, per_label[ev.label])
