"""Keeping a service up from the command line until Ctrl-C, SIGTERM or a set duration (``run`` and ``demo``)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from clearwatch.cli.common import console


class Runnable(Protocol):
    started: bool

    def start(self) -> None: ...
    def stop(self, timeout: float = ...) -> None: ...


def run_until_signalled(service: Runnable, duration: float | None = None,
                        on_tick: Callable[[], None] | None = None) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if not service.started:
        service.start()
    deadline = time.monotonic() + duration if duration else None
    try:
        while not stop.wait(1.0):
            if on_tick:
                on_tick()
            if deadline and time.monotonic() >= deadline:
                break
    finally:
        console.print("[dim]stopping cameras…[/dim]")
        service.stop()
