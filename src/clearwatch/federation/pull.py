"""A JetStream pull consumer read in bulk.

nats-py's ``fetch`` awaits each message of a batch on its own, with a task and a timer each: about 50 µs a message
on this machine, more than applying it. Here a batch request's messages land in one subscription, whose callback
only collects them, and the batch is handed over whole when the server says it is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

from clearwatch.federation.link import FederationError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

STATUS = "Status"
DESCRIPTION = "Description"
# what ends a batch request early: no more messages now (no_wait), or its time is up (expires)
ENDS = ("404", "408")
HEARTBEAT = "100"
GRACE = 0.05


class Puller:
    def __init__(self, nc: Client, stream: str, consumer: str):
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = nc.new_inbox()
        self.sub: Subscription | None = None
        self._got: list[Msg] = []
        self._want = 0
        self._error: str | None = None
        self._done = asyncio.Event()
        self._next = 1  # the consumer's next delivery: a new consumer counts from 1

    async def start(self) -> Puller:
        self.sub = await self.nc.subscribe(self.inbox, cb=self._take)
        return self

    async def close(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
            self.sub = None

    async def _take(self, msg: Msg) -> None:
        status = msg.headers.get(STATUS) if msg.headers else None
        if status is None:
            self._got.append(msg)
            if len(self._got) >= self._want:
                self._done.set()
        elif status in ENDS:
            self._done.set()
        elif status != HEARTBEAT:  # 409: the consumer was deleted, too many waiting requests, a leader change
            self._error = f"{status} {msg.headers.get(DESCRIPTION, '') if msg.headers else ''}".strip()
            self._done.set()

    async def fetch(self, batch: int, wait: float) -> list[Msg]:
        """Up to ``batch`` messages: as soon as that many are there, or what came within ``wait`` seconds (maybe
        none). A delivery that never arrived (the link dropped with it under way) → FederationError, so that the
        caller starts again from what it has applied instead of going on after a hole."""
        if self.sub is None:
            raise FederationError("the puller is not started")
        if len(self._got) < batch:
            self._want, self._error = batch, None
            self._done.clear()
            request = {"batch": batch - len(self._got), "expires": int(wait * 1e9)}
            await self.nc.publish(self.subject, json.dumps(request).encode(), reply=self.inbox)
            # not only the server's word: nats-server 2.9 now and then lets a request expire without saying so;
            # what such a request still delivers later lands in _got and is taken next time, in order
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), wait + GRACE)
        if self._error is not None:
            raise FederationError(f"pulling from {self.subject}: {self._error}")
        got, self._got = self._got[:batch], self._got[batch:]
        for m in got:
            seq = m.metadata.sequence.consumer
            if seq != self._next:
                raise FederationError(f"pulling from {self.subject}: delivery {self._next} never arrived ({seq} did)")
            self._next = seq + 1
        return got
