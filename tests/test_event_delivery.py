"""Events reach MQTT and webhooks through the durable outbox: in order, once, whatever the outage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import paho.mqtt.client as mqtt
import pytest

from clearwatch.config import Config
from clearwatch.events import Event, EventService, EventUpdate, verify
from clearwatch.storage import Database, EventStore, OutboxStore
from tests.support.helpers import make_config, wait_for
from tests.support.servers import Mosquitto

PREFIX = "cwtest"


class Subscriber:
    """A persistent-session MQTT subscriber: it misses nothing across a broker restart."""

    def __init__(self, port: int, client_id: str):
        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{PREFIX}/#", qos=1)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def events(self) -> list[dict[str, object]]:
        return [json.loads(p) for t, p in self.messages if t == f"{PREFIX}/events"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "mosquitto")
    b.start()
    yield b
    b.stop()


def lifecycle(camera: str, label: str, t0: float) -> Iterator[EventUpdate]:
    ev = Event(camera, "object", label, t0, track_id=int(t0) % 1000, score=0.8)
    yield EventUpdate("start", ev)
    ev.zones = ["door"]
    yield EventUpdate("update", ev)
    ev.end = t0 + 3
    yield EventUpdate("end", ev)


def service(config: Config) -> tuple[EventService, Database]:
    db = Database(config.database_url)
    db.migrate()
    svc = EventService(config, db)
    svc.start()
    return svc, db


def test_mqtt_delivers_in_order_once_across_broker_outage_and_restart(broker: Mosquitto, tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "data", {}, extra=f"mqtt: {{enabled: true, port: {broker.port}, "
                                                    f"topic_prefix: {PREFIX}}}")
    sub = Subscriber(broker.port, f"sub-{broker.port}")
    assert wait_for(lambda: sub.client.is_connected(), 10) is not None
    svc, db = service(cfg)
    sent: list[tuple[str, str]] = []

    def emit(updates: Iterator[EventUpdate]) -> None:
        for u in updates:
            # a fresh copy per message: the stored payload must be the state at that moment
            svc.on_event(EventUpdate(u.type, Event(**u.event.__dict__)), None)
            sent.append((u.event.id, u.type))

    try:
        emit(lifecycle("gate", "person", 1000.0))
        assert wait_for(lambda: len(sub.events()) == 3, 15) is not None, sub.messages
        counts = [p for t, p in sub.messages if t == f"{PREFIX}/gate/person"]
        assert counts[:1] == [b"1"] and counts[-1] == b"0", "active person count goes up and back down"

        broker.stop()
        emit(lifecycle("gate", "car", 2000.0))
        emit(lifecycle("yard", "person", 3000.0))
        # stored at once, not delivered
        store = EventStore(db)
        assert {e.label for e in store.list(camera="gate")} == {"person", "car"}
        assert store.list(camera="yard")[0].end is not None
        assert wait_for(lambda: OutboxStore(db).counts().get(("mqtt", "pending"), 0) >= 6, 5) is not None
        time.sleep(1.0)
        assert len(sub.events()) == 3

        # the process restarts while the broker is still down: the outbox is in the database
        svc.stop()
        svc, db = service(cfg)
        emit(lifecycle("yard", "truck", 4000.0))
        broker.start()
        assert wait_for(lambda: len(sub.events()) >= len(sent), 30) is not None, (len(sub.events()), len(sent))
        time.sleep(1.0)  # anything duplicated would arrive now
        got = [(e["event"]["id"], e["type"]) for e in sub.events()]  # type: ignore[index]
        assert got == sent, "every message once, in the order the events happened"
        assert OutboxStore(db).counts().get(("mqtt", "pending"), 0) == 0
    finally:
        svc.stop()
        sub.close()


class Hook(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0
    refuse_label = "refuse-me"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.calls.append((dict(self.headers), body))
        if Hook.fail_first > 0:
            Hook.fail_first -= 1
            self.send_response(503)
        elif json.loads(body)["event"]["label"] == Hook.refuse_label:
            self.send_response(400)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhooks_are_signed_retried_and_ordered(tmp_path: Path) -> None:
    Hook.calls, Hook.fail_first = [], 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    secret = "s3cret-key"
    cfg = make_config(tmp_path / "data", {}, extra=(
        f"webhooks:\n  ops: {{url: '{url}', secret: {secret}, types: [start, update, end]}}"))
    svc, db = service(cfg)
    # fast retries for the test; production backs off from 1 s up to a minute
    svc.dispatchers[0].min_backoff = 0.1
    sent = []
    try:
        for t0, label in ((1000.0, "person"), (2000.0, "refuse-me"), (3000.0, "car")):
            for u in lifecycle("gate", label, t0):
                svc.on_event(EventUpdate(u.type, Event(**u.event.__dict__)), None)
                sent.append((u.event.id, u.type, label))
        delivered = [s for s in sent if s[2] != "refuse-me"]
        ok = lambda: len([c for c in Hook.calls if json.loads(c[1])["event"]["label"] != "refuse-me"]) >= \
            len(delivered) + 2  # noqa: E731
        assert wait_for(ok, 30) is not None, len(Hook.calls)
        time.sleep(0.5)
        for headers, body in Hook.calls:
            assert verify(secret, headers["X-Clearwatch-Timestamp"], body, headers["X-Clearwatch-Signature"])
        # two 503s retried the first message; each later one was accepted once, in order
        accepted = []
        seen_ids: set[str] = set()
        for headers, body in Hook.calls[2:]:
            msg = json.loads(body)
            if msg["event"]["label"] == "refuse-me":
                continue
            key = headers["X-Clearwatch-Delivery"]
            assert key not in seen_ids
            seen_ids.add(key)
            accepted.append((msg["event"]["id"], msg["type"], msg["event"]["label"]))
        assert accepted == delivered
        counts = OutboxStore(db).counts()
        assert counts.get(("webhook:ops", "failed")) == 3, "refused messages are kept, marked failed"
        assert counts.get(("webhook:ops", "pending"), 0) == 0
    finally:
        svc.stop()
        server.shutdown()
