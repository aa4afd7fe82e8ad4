"""A site's event service and federation link without cameras: analytics replaced by a steady producer of events.
Used in the federation tests in-process, and as a process of its own (``python -m tests.support.site_rig``) where a
test must kill a site with SIGKILL in the middle of publishing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from clearwatch.config import Config
from clearwatch.events import EventService
from clearwatch.events.model import Event, EventUpdate
from clearwatch.events.outbox import Dispatcher
from clearwatch.federation import SiteLink, SiteTransport
from clearwatch.governance import AuditLog
from clearwatch.storage import Database


class SiteRig:
    def __init__(self, root: Path, name: str, link: dict[str, Any]):
        self.config = Config.model_validate({"data_dir": str(root / name), "site": {"name": name, "nats": link}})
        self.db = Database(self.config.database_url)
        self.db.migrate()
        self.events = EventService(self.config, self.db)
        self.link = SiteLink(self.config, self.db, audit=AuditLog(self.db), outbox=self.events.outbox,
                             health=lambda: [])
        self.events.dispatchers.append(Dispatcher(self.events.outbox, SiteTransport(self.link), max_backoff=1.0,
                                                  poll=0.5))
        self.produced: list[str] = []

    def start(self) -> None:
        self.link.start()
        self.events.start()

    def stop(self) -> None:
        self.events.stop()
        self.link.stop()
        self.db.dispose()

    def produce(self, until: float, rate: float = 10.0) -> None:
        """``rate`` events a second, each a start then an end, until the monotonic clock passes ``until``."""
        i = 0
        while time.monotonic() < until:
            t = time.time()
            ev = Event(camera="gate", kind="object", label="person", start=t, score=0.9, track_id=i)
            self.events.on_event(EventUpdate("start", ev), None)
            ev.end = t + 0.05
            self.events.on_event(EventUpdate("end", ev), None)
            self.produced.append(ev.id)
            i += 1
            time.sleep(max(0.0, 1.0 / rate - (time.time() - t)))


def main(root: str, name: str, link: str, seconds: str) -> None:
    """Produce for ``seconds``, then wait until the outbox has handed everything to the site's server."""
    rig = SiteRig(Path(root), name, json.loads(link))
    rig.start()
    print("producing", flush=True)
    rig.produce(time.monotonic() + float(seconds))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
            st == "pending" for (_, st), n in rig.events.outbox.counts().items() if n):
        time.sleep(0.2)
    rig.stop()


if __name__ == "__main__":
    main(*sys.argv[1:5])
