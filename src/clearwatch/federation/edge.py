"""A site's link to the central node.

What the site records goes into its own stream on its own NATS server (a leaf of the central one), from the
durable outbox, so neither a broken link nor a stopped local server loses anything: the outbox holds messages
until the site server has stored them (its PubAck), and the site stream holds them until the central server has
sourced them. Commands come back through a durable consumer on the central server; requests (ping, footage, a
live picture) are answered at once, and a site that is down simply does not answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearwatch.config import Config
from clearwatch.config.federation import SiteLinkConfig
from clearwatch.events.outbox import TransientError
from clearwatch.federation import subjects as subj
from clearwatch.federation.link import FederationError, LoopThread, connect, ensure_stream
from clearwatch.federation.messages import TARGET, site_message
from clearwatch.governance.audit import Actor, AuditLog
from clearwatch.sources.health import CameraState, HealthSnapshot
from clearwatch.storage import Database, OutboxMessage, OutboxStore
from clearwatch.timeparse import json_default

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from clearwatch.api.live import LiveHub
    from clearwatch.identity import FaceRegistry

log = logging.getLogger(__name__)
CHUNK = 256 * 1024  # footage travels in pieces well under the server's 1 MB message limit
PUBLISH_TIMEOUT = 5.0


def central_actor(body: dict[str, Any]) -> Actor:
    """Who at the central node asked: audited at the site under their central name."""
    return Actor(f"{str(body.get('user') or 'unknown')[:48]}@central", str(body.get("role") or "central")[:16])


class SiteTransport:
    """The outbox's way to the site's stream (see ``events.outbox.Dispatcher``)."""

    target = TARGET

    def __init__(self, link: SiteLink):
        self.link = link

    def deliver(self, msg: OutboxMessage) -> None:
        self.link.publish(msg)

    def close(self) -> None:
        pass


class SiteLink:
    def __init__(self, config: Config, db: Database, *, audit: AuditLog, outbox: OutboxStore,
                 health: Callable[[], list[HealthSnapshot]], live: LiveHub | None = None,
                 registry: Callable[[], FaceRegistry | None] | None = None,
                 on_lag: Callable[[float], None] | None = None):
        assert config.site.nats is not None
        self.config = config
        self.link: SiteLinkConfig = config.site.nats
        self.site = config.site.name
        self.db = db
        self.audit = audit
        self.outbox = outbox
        self.health = health
        self.live = live
        self.registry = registry
        self.on_lag = on_lag
        self.stream = subj.site_stream(self.site)
        self.loop: LoopThread | None = None
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.error: str | None = None
        self.applied_seq = 0  # what the central node says it has applied of our stream
        self._tasks: list[asyncio.Future[Any]] = []
        self._stopping = False

    # lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background: the site records and alarms on its own whether or not the link is up."""
        self.loop = LoopThread(f"site-link-{self.site}")
        self._tasks.append(self.loop.submit(self._main()))

    def stop(self) -> None:
        self._stopping = True
        if self.loop is not None:
            self.loop.shutdown(self._tasks, self.nc, "the site link")

    async def _main(self) -> None:
        delay = 1.0
        while not self._stopping:
            try:
                await self._connect()
                break
            except FederationError as exc:
                if str(exc) != self.error:
                    log.error("site %s: %s (retrying)", self.site, exc)
                self.error = str(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        self._tasks += [asyncio.ensure_future(self._commands()), asyncio.ensure_future(self._health_loop())]

    async def _connect(self) -> None:
        self.nc = await connect(self.link, name=f"clearwatch-site-{self.site}", inbox=subj.inbox_prefix(self.site))
        self.js = self.nc.jetstream()
        await self._ensure_stream()
        await self.nc.subscribe(subj.request_subject(self.site, "*"), cb=self._request)
        self.error = None
        log.info("site %s: linked through %s (stream %s)", self.site, self.link.url, self.stream)

    async def _ensure_stream(self) -> None:
        from nats.js.api import DiscardPolicy, StorageType, StreamConfig

        assert self.js is not None
        await ensure_stream(self.js, StreamConfig(
            name=self.stream, subjects=[f"cw.site.{self.site}.>"], storage=StorageType.FILE,
            max_age=self.link.stream_max_age, max_bytes=self.link.stream_max_bytes, discard=DiscardPolicy.OLD,
            duplicate_window=600.0, description=f"what site {self.site} tells the central node"))

    # publishing (the outbox's transport) -----------------------------------------------------------

    def publish(self, msg: OutboxMessage) -> None:
        if self.loop is None or self.js is None or self.nc is None or not self.nc.is_connected:
            raise TransientError(self.error or "the site's NATS server is not connected")
        kind, _, key = msg.topic.partition("/")
        payload = msg.payload.encode()
        headers = {subj.MSG_ID: subj.message_id(self.site, kind, key, payload)}
        try:
            self.loop.run(self.js.publish(subj.site_subject(self.site, kind), payload,
                                          timeout=PUBLISH_TIMEOUT, headers=headers), PUBLISH_TIMEOUT + 1)
        except Exception as exc:
            raise TransientError(f"site stream {self.stream}: {exc or type(exc).__name__}") from None

    # requests from the central node ----------------------------------------------------------------

    async def _request(self, msg: Msg) -> None:
        what = msg.subject.rsplit(".", 1)[-1]
        try:
            body = json.loads(msg.data or b"{}")
            if what == "ping":
                await msg.respond(json.dumps(await self._ping(body), default=json_default).encode())
            elif what == "export":
                await self._export(msg, body)
            elif what == "snapshot":
                await self._snapshot(msg, body)
            else:
                await msg.respond(json.dumps({"error": f"unknown request {what!r}"}).encode())
        except Exception as exc:
            log.warning("site %s: request %s failed: %s", self.site, what, exc)
            if msg.reply:
                await msg.respond(json.dumps({"error": str(exc) or type(exc).__name__}).encode())

    async def _ping(self, body: dict[str, Any]) -> dict[str, Any]:
        if isinstance(body.get("applied_seq"), int):
            self.applied_seq = body["applied_seq"]
        return await self._health_body()

    async def _health_body(self) -> dict[str, Any]:
        cams = [{"camera": h.camera, "state": h.state, "recording": h.recording, "fps": round(h.fps_in, 1)}
                for h in self.health()]
        pending = sum(n for (t, st), n in self.outbox.counts().items() if t == TARGET and st == "pending")
        stream: dict[str, Any] = {}
        lag_age = 0.0
        if self.js is not None:
            info = await self.js.stream_info(self.stream)
            stream = {"messages": info.state.messages, "bytes": info.state.bytes, "last_seq": info.state.last_seq}
            backlog = max(0, info.state.last_seq - self.applied_seq)
            stream["not_applied"] = backlog
            if backlog and self.applied_seq + 1 >= info.state.first_seq:
                oldest = await self.js.get_msg(self.stream, self.applied_seq + 1)
                if oldest.time is not None:
                    lag_age = max(0.0, time.time() - oldest.time.timestamp())
        return {"site": self.site, "key": "health", "time": time.time(), "cameras": cams,
                "cameras_up": sum(1 for c in cams if c["state"] == CameraState.STREAMING),
                "outbox_pending": pending, "stream": stream, "lag_seconds": round(lag_age, 1),
                "max_age": self.link.stream_max_age}

    async def _export(self, msg: Msg, body: dict[str, Any]) -> None:
        from clearwatch.analytics.detectors.models import sha256_file
        from clearwatch.recording import export_range
        from clearwatch.storage import HoldStore, SegmentIndex
        from clearwatch.timeparse import parse_time

        camera = str(body["camera"])
        if camera not in self.config.cameras:
            raise FederationError(f"site {self.site} has no camera {camera!r}")
        t0, t1 = parse_time(str(body["start"])), parse_time(str(body["end"]))
        actor = central_actor(body)
        loop = asyncio.get_running_loop()
        assert self.nc is not None and msg.reply
        with tempfile.TemporaryDirectory(prefix="cw-central-export-") as tmp:
            out = Path(tmp) / f"{camera}.mp4"
            await loop.run_in_executor(None, lambda: export_range(
                self.config.recordings_dir, SegmentIndex(self.db), HoldStore(self.db), camera, t0, t1, out,
                requested_by=actor.name))
            size, digest = out.stat().st_size, await loop.run_in_executor(None, sha256_file, out)
            # on the record before it leaves
            await loop.run_in_executor(None, lambda: self.audit.append(
                actor, "footage.export", camera, {"start": t0.isoformat(), "end": t1.isoformat(), "bytes": size,
                                                  "sha256": digest, "to": "central"},
                justification=str(body.get("why") or "")))
            parts = max(1, -(-size // CHUNK))
            with out.open("rb") as f:  # piece by piece: an hour of 4K need not sit in memory
                for i in range(parts):
                    await self.nc.publish(msg.reply, f.read(CHUNK), headers={"Cw-Part": str(i),
                                                                             "Cw-Parts": str(parts)})
                    if i % 16 == 15:
                        await self.nc.flush()
        await self.nc.publish(msg.reply, b"", headers={"Cw-End": digest, "Cw-Bytes": str(size)})

    async def _snapshot(self, msg: Msg, body: dict[str, Any]) -> None:
        camera = str(body["camera"])
        if camera not in self.config.cameras or self.live is None:
            raise FederationError(f"site {self.site} has no live camera {camera!r}")
        masked = bool(self.config.cameras[camera].privacy_masks) and not body.get("unmasked")
        jpeg = self.live.jpeg(camera, masked=masked)
        if jpeg is None:
            raise FederationError(f"camera {camera!r} at site {self.site} has no picture yet")
        self.audit.append(central_actor(body), "footage.snapshot", camera, {"to": "central", "masked": masked})
        await msg.respond(jpeg.data)

    # commands from the central node ---------------------------------------------------------------

    async def _commands(self) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        assert self.nc is not None
        js = self.nc.jetstream(domain=self.link.hub_domain)
        sub = None
        while not self._stopping:
            try:
                if sub is None:
                    sub = await js.pull_subscribe_bind(subj.consumer_name(self.site), subj.COMMAND_STREAM)
                msgs = await sub.fetch(10, timeout=5)
            except NatsTimeout:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # link down, or the central node has not made our consumer yet
                log.debug("site %s: commands: %s", self.site, exc)
                await asyncio.sleep(2.0)
                continue
            for m in msgs:
                await self._command(m)

    async def _command(self, m: Msg) -> None:
        """Apply a command and confirm it with a receipt (what was done, or why it could not be): a command
        that cannot be applied is reported, not retried for ever."""
        kind = m.subject.rsplit(".", 1)[-1]
        handlers: dict[str, Callable[[dict[str, Any], Actor], dict[str, Any]]] = {
            "erase": self.erase, "person": self.enrol, "users": self.sync_users}
        request_id = None
        try:
            body = json.loads(m.data)
            request_id = str(body["request_id"])
            if kind not in handlers:
                raise FederationError(f"unknown command {kind!r}")
            result = await asyncio.get_running_loop().run_in_executor(None, handlers[kind], body, central_actor(body))
            result = {"done": True, **result}
        except Exception as exc:
            log.error("site %s: command %s failed: %s", self.site, kind, exc)
            result = {"done": False, "error": str(exc) or type(exc).__name__}
        if request_id is not None:
            self.outbox.add(site_message(self.config, "receipt", request_id,
                                         {"key": request_id, "kind": kind, **result}))
        await m.ack()

    def _registry(self) -> FaceRegistry | None:
        return self.registry() if self.registry is not None else None

    def erase(self, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Erase a person named by their id or by the external reference the sites share (an employee number);
        the same request twice erases once and confirms twice."""
        from clearwatch.governance.signing import installation_signer
        from clearwatch.governance.subjects import erase_person, receipt_summary

        wanted, reason = str(body["person_id"]), str(body.get("reason") or "")
        result: dict[str, Any] = {"person_id": wanted, "erased": []}
        registry = self._registry()
        if registry is None:
            result["note"] = "no face registry at this site (no identity key configured): nothing held"
            return result
        signer = installation_signer(self.config)
        for pid in self._people(wanted):
            receipt = erase_person(self.config, self.db, registry, signer, pid, actor.name, reason)
            self.audit.append(actor, "person.erase", pid, {**receipt_summary(receipt), "request": body["request_id"]},
                              justification=reason)
            result["erased"].append({"person_id": pid, "receipt": receipt})
        if not result["erased"]:
            result["note"] = "not held at this site"
        return result

    def enrol(self, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Enrol a person the central node enrolled (same id, watchlists, templates)."""
        registry = self._registry()
        if registry is None:
            raise FederationError("no face registry at this site (no identity key configured): cannot enrol")
        person = registry.import_person(body["export"], enrolled_by=actor.name)
        templates = len(body["export"]["templates"])
        self.audit.append(actor, "person.enrol", person.id, {"templates": templates, "watchlists": person.watchlists,
                                                             "request": body["request_id"], "from": "central"},
                          justification=str(body.get("reason") or ""))
        return {"person_id": person.id, "templates": templates}

    def sync_users(self, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Users and roles from the central node: created or brought up to date; this site's others stay."""
        from clearwatch.governance import Users

        created, updated = Users(self.db).sync(body["users"])
        if created or updated:
            self.audit.append(actor, "user.sync", "central", {"created": created, "updated": updated,
                                                              "request": body["request_id"]},
                              justification=str(body.get("reason") or ""))
        return {"created": created, "updated": updated}

    def _people(self, wanted: str) -> list[str]:
        from sqlalchemy import or_, select

        from clearwatch.storage.models import Person

        with self.db.session() as s:
            return list(s.scalars(select(Person.id).where(or_(Person.id == wanted, Person.external_ref == wanted))))

    # health --------------------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        warned = False
        while not self._stopping:
            await asyncio.sleep(self.link.health_interval)
            try:
                body = await self._health_body()
                assert self.js is not None
                payload = json.dumps(body, default=json_default).encode()
                await self.js.publish(subj.site_subject(self.site, "health"), payload, timeout=PUBLISH_TIMEOUT,
                                      headers={subj.MSG_ID: subj.message_id(self.site, "health", "health", payload)})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("site %s: health: %s", self.site, exc)
                continue
            lagging = body["lag_seconds"] > self.link.lag_alarm * self.link.stream_max_age
            if lagging and not warned and self.on_lag is not None:
                self.on_lag(body["lag_seconds"])
            warned = lagging
