"""A NATS connection for threaded code: nats-py is asyncio, the service is threads, so each side of the
federation runs one event loop in a thread and the rest of the process hands it coroutines."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from clearwatch.config.federation import NatsConnection
from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import StreamConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


class FederationError(ClearwatchError):
    """A NATS server refused, cannot be reached, or a site did not answer."""


class SiteOffline(FederationError):
    """No one answers for the site: its link (or its Clearwatch) is down."""


class LoopThread:
    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop), loop=self.loop)

    def shutdown(self, tasks: list[asyncio.Future[Any]], nc: Client | None, what: str) -> None:
        """Cancel ``tasks``, close ``nc`` and stop the loop (from any other thread)."""
        async def close() -> None:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if nc is not None and not nc.is_closed:
                await nc.close()

        try:
            self.run(close(), timeout=5)
        except Exception as exc:
            log.debug("closing %s: %s", what, exc)
        self.stop()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


def _tls(conn: NatsConnection) -> ssl.SSLContext | None:
    if conn.tls_ca is None and not conn.url.startswith("tls://"):
        return None
    ctx = ssl.create_default_context(cafile=str(conn.tls_ca) if conn.tls_ca else None)
    if conn.tls_cert is not None and conn.tls_key is not None:
        ctx.load_cert_chain(str(conn.tls_cert), str(conn.tls_key))
    return ctx


def explain(conn: NatsConnection, errors: list[Exception], exc: BaseException | None = None) -> str:
    """What went wrong connecting, in words: refused credentials, or no server there."""
    text = " ".join(str(e) for e in errors) + " " + (str(exc) if exc else "")
    who = f"user {conn.user!r}" if conn.user else "no user"
    if "Authorization Violation" in text or "Authentication" in text:
        return f"NATS at {conn.url} refused the credentials ({who}): check site.nats.user and password"
    if "Permissions Violation" in text:
        return f"NATS at {conn.url} does not allow {who} this: {text.strip()}"
    first = next((e for e in errors), exc)
    return f"cannot reach NATS at {conn.url}: {first or 'no server answered'}"


async def ensure_stream(js: JetStreamContext, cfg: StreamConfig) -> None:
    """Create the stream, or bring an existing one to ``cfg`` (limits and sources may have changed)."""
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(str(cfg.name))
        await js.update_stream(cfg)
    except NotFoundError:
        await js.add_stream(cfg)


async def connect(conn: NatsConnection, *, name: str, inbox: str | None = None,
                  on_change: Any = None) -> Client:
    """Connect once (raising FederationError with the reason), then reconnect for ever in the background."""
    import nats

    errors: list[Exception] = []
    connected = asyncio.Event()

    async def error_cb(e: Exception) -> None:
        if not connected.is_set():
            errors.append(e)
        elif "Permissions Violation" in str(e) or "Authorization" in str(e):
            log.error("%s: %s", name, explain(conn, [e]))

    async def disconnected_cb() -> None:
        if on_change is not None:
            on_change(False)

    async def reconnected_cb() -> None:
        if on_change is not None:
            on_change(True)

    kwargs: dict[str, Any] = {}
    if inbox is not None:
        kwargs["inbox_prefix"] = inbox
    try:
        nc = await nats.connect(
            conn.url, user=conn.user, password=conn.password, tls=_tls(conn), name=name,
            connect_timeout=conn.connect_timeout, max_reconnect_attempts=1, reconnect_time_wait=0.5,
            allow_reconnect=True, error_cb=error_cb, disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb, **kwargs)
    except Exception as exc:
        raise FederationError(explain(conn, errors, exc)) from None
    connected.set()
    # the first connect fails fast with its reason; once connected, a lost server is waited for without end
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 1.0
    return nc
