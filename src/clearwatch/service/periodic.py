"""A job run every so often on its own thread (camera status, event expiry). A failing run is logged and
tried again next time; it never stops the service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, job: Callable[[], object], *, first_now: bool = False):
        self.name, self.interval, self.job = name, interval, job
        self.first_now = first_now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> None:
        try:
            self.job()
        except Exception as exc:
            log.warning("%s failed: %s", self.name, exc)

    def _loop(self) -> None:
        if self.first_now:
            self.run_once()
        while not self._stop.wait(self.interval):
            self.run_once()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
