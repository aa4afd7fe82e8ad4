"""Delivery from the durable outbox: one thread per target, in order, retried with backoff until delivered.

Messages are written to the database in the same transaction as their event, so a broker or webhook outage,
or a restart, loses nothing: delivery simply resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from clearwatch.storage import OutboxMessage, OutboxStore

log = logging.getLogger(__name__)


class TransientError(Exception):
    """Try again later (broker down, timeout, HTTP 5xx/429)."""


class PermanentError(Exception):
    """The receiver refused this message for good (HTTP 4xx): keep it as failed, go on with the next."""


class Transport(Protocol):
    target: str

    def deliver(self, msg: OutboxMessage) -> None: ...
    def close(self) -> None: ...


class Dispatcher(threading.Thread):
    def __init__(self, store: OutboxStore, transport: Transport, *, min_backoff: float = 1.0,
                 max_backoff: float = 60.0, poll: float = 5.0):
        super().__init__(name=f"outbox-{transport.target}", daemon=True)
        self.store = store
        self.transport = transport
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self._wake = threading.Event()
        self._halt = threading.Event()
        self.delivered = 0
        self.failures = 0

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._halt.set()
        self._wake.set()
        self.join(timeout)
        self.transport.close()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.clear()
            try:
                wait = self._drain()
            except Exception as exc:  # the database itself is unavailable: try again later
                log.warning("outbox %s: %s", self.transport.target, exc)
                wait = self.poll
            self._wake.wait(wait)

    def _drain(self) -> float:
        """Deliver what is due; returns how long to sleep."""
        while not self._halt.is_set():
            batch = self.store.ready(self.transport.target, time.time())
            if not batch:
                due = self.store.next_due(self.transport.target)
                return self.poll if due is None else max(0.05, min(self.poll, due - time.time()))
            done: list[int] = []
            try:
                for msg in batch:
                    if self._halt.is_set():
                        break
                    try:
                        self.transport.deliver(msg)
                        done.append(msg.id)
                        self.delivered += 1
                    except PermanentError as exc:
                        self.store.give_up(msg.id, str(exc))
                        log.error("outbox %s: message %d refused for good: %s", self.transport.target, msg.id, exc)
                    except TransientError as exc:
                        self.failures += 1
                        backoff = min(self.max_backoff, self.min_backoff * 2.0 ** min(msg.attempts, 10))
                        self.store.retry_later(msg.id, str(exc), time.time() + backoff)
                        if msg.attempts == 0:
                            log.warning("outbox %s: delivery failed (%s); retrying in %.0f s",
                                        self.transport.target, exc, backoff)
                        return backoff  # order matters: nothing behind it goes first
            finally:
                self.store.delivered(done)
        return self.poll
