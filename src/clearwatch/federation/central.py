"""The central node: sources every site's stream into one, applies it to its own database, keeps each site's
link state, and asks sites for footage, live pictures and erasures on behalf of its users."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clearwatch.config import Config
from clearwatch.config.federation import CentralConfig, site_domain
from clearwatch.federation import subjects as subj
from clearwatch.federation.apply import Applier, Incoming
from clearwatch.federation.link import FederationError, LoopThread, SiteOffline, connect, ensure_stream
from clearwatch.federation.pull import Puller
from clearwatch.federation.sources import SourceState, to_remake
from clearwatch.governance.audit import Actor
from clearwatch.storage import Database
from clearwatch.storage.models import FedCommand, FedRecord, FedSite

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import StreamConfig

log = logging.getLogger(__name__)
# messages a batch: fetched, applied in one transaction, acknowledged. A 60k backlog (50 sites) drained at
# 10.7-11.6k messages/s with 500, 12.1-13.9k with 2,000, and no faster with 4,000
FETCH = 2000
# how long a fetch waits for a full batch once the stream is drained: nats-py holds what it has until the batch
# is full or this runs out, so with the link up this bounds the delay a message spends waiting for company
FETCH_WAIT = 0.1
# after our own connection returns (a hub restart), links are checked every second for a while: the sites' leaf
# links come back one by one, and each stalled source is re-made as soon as its site answers
FAST_PING = 1.0
FAST_FOR = 20.0


@dataclass
class LinkState:
    up: bool = False
    checked_at: float | None = None
    error: str | None = "not checked yet"
    health: dict[str, Any] | None = None


class CentralNode:
    def __init__(self, config: Config, db: Database):
        assert config.central is not None
        self.config = config
        self.central: CentralConfig = config.central
        self.db = db
        self.sites = list(self.central.sites)
        self.applier = Applier(db, config.snapshots_dir, self.sites)
        self.links: dict[str, LinkState] = {s: LinkState() for s in self.sites}
        self.loop: LoopThread | None = None
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._tasks: list[asyncio.Future[Any]] = []
        self._stopping = False
        # its own thread: never queued behind requests, pings or exports in the loop's shared executor
        self._apply_thread: ThreadPoolExecutor | None = None
        self._remade: dict[str, float] = {}  # site → when its source was last re-made (monotonic)
        self._fast_until = 0.0
        self._wake: asyncio.Event | None = None

    # lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the central NATS server and set up its streams; raises FederationError with the reason."""
        self.loop = LoopThread("central-node")
        try:
            self.loop.run(self._start(), timeout=self.central.nats.connect_timeout + 20)
        except BaseException:
            self.loop.stop()
            self.loop = None
            raise

    async def _start(self) -> None:
        self._apply_thread = ThreadPoolExecutor(1, thread_name_prefix="central-apply")
        self._wake = asyncio.Event()
        self.nc = await connect(self.central.nats, name="clearwatch-central", on_change=self._connection)
        self.js = self.nc.jetstream()
        await self._ensure_streams()
        self._tasks = [asyncio.ensure_future(self._apply_loop()), asyncio.ensure_future(self._ping_loop())]
        log.info("central node: sourcing %d site(s) through %s", len(self.sites), self.central.nats.url)

    def stop(self) -> None:
        self._stopping = True
        if self.loop is not None:
            self.loop.shutdown(self._tasks, self.nc, "the central link")
            self.loop = None
        if self._apply_thread is not None:
            self._apply_thread.shutdown(wait=True)  # a batch under way commits or rolls back before we return
            self._apply_thread = None

    async def _ensure_streams(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

        assert self.js is not None
        streams = [
            self._central_stream(),
            StreamConfig(name=subj.COMMAND_STREAM, subjects=["cw.cmd.>"], storage=StorageType.FILE,
                         max_age=self.central.commands_max_age, duplicate_window=600.0,
                         description="what the central node tells sites"),
        ]
        for cfg in streams:
            await ensure_stream(self.js, cfg)
        # each site's takes its own commands (made here, so a site's credentials need not allow creating
        # consumers on the central server)
        for s in self.sites:
            await self.js.add_consumer(subj.COMMAND_STREAM, ConsumerConfig(
                durable_name=subj.consumer_name(s), ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                filter_subject=f"cw.cmd.{s}.>", ack_wait=60.0, max_deliver=-1))

    def _central_stream(self) -> StreamConfig:
        from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource

        sources = [StreamSource(name=subj.site_stream(s), external=ExternalStream(
            api=f"$JS.{site_domain(s, c.domain)}.API")) for s, c in self.central.sites.items()]
        return StreamConfig(name=subj.CENTRAL_STREAM, sources=sources, storage=StorageType.FILE,
                            max_age=7 * 86400.0, description="every site's stream, sourced across the leaf links")

    # applying ------------------------------------------------------------------------------------

    async def _bind(self) -> Puller:
        """Our consumer, starting where the database says applying stopped — not where the server thinks: a batch
        taken but not committed (a killed process, a lost connection, the database down) must come again before
        anything after it, or a site's messages would be applied out of order."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        assert self.js is not None
        position = await asyncio.get_running_loop().run_in_executor(None, self.applier.position)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(subj.CENTRAL_STREAM, subj.CENTRAL_CONSUMER)
        start: dict[str, Any] = ({"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": position + 1}
                                 if position else {"deliver_policy": DeliverPolicy.ALL})
        await self.js.add_consumer(subj.CENTRAL_STREAM, ConsumerConfig(
            durable_name=subj.CENTRAL_CONSUMER, ack_policy=AckPolicy.ALL, max_ack_pending=FETCH * 4, ack_wait=60.0,
            **start))
        assert self.nc is not None
        return await Puller(self.nc, subj.CENTRAL_STREAM, subj.CENTRAL_CONSUMER).start()

    async def _apply_loop(self) -> None:
        """Fetch a batch, apply it in its own thread, acknowledge it — one after the other. Overlapping them
        (fetching, or parsing, the next batch while one commits) was measured slower: the threads take turns at
        Python's GIL, and each of the commit's round trips to the database then waits for its turn. (Measured
        again on another machine with the next batch fetched during the commit: 18.6x real time against 20.6x.)"""
        loop = asyncio.get_running_loop()
        puller: Puller | None = None
        failing = False
        while not self._stopping:
            try:
                if puller is None:
                    puller = await self._bind()
                msgs = await puller.fetch(FETCH, FETCH_WAIT)
                if failing:
                    log.info("central node: fetching from %s again", subj.CENTRAL_STREAM)
                    failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a fetch cut by a reconnect, the consumer gone: re-made from our position
                # said once per outage, not every second of it
                (log.debug if failing else log.warning)("central node: fetching from %s: %s", subj.CENTRAL_STREAM,
                                                        exc or type(exc).__name__)
                failing = True
                await self._unbind(puller)
                puller = None
                await asyncio.sleep(1.0)
                continue
            if not msgs:
                continue
            try:
                await loop.run_in_executor(self._apply_thread, self._apply, msgs)
                await msgs[-1].ack()  # acknowledges the whole batch (AckPolicy.ALL), after it is committed
            except asyncio.CancelledError:
                raise  # a batch under way ends in its thread: stop() waits for it
            except Exception as exc:  # the database or the link is down: take it all again from our position
                log.error("central node: cannot apply %d message(s): %s", len(msgs), exc)
                await self._unbind(puller)
                puller = None
                await asyncio.sleep(2.0)

    def _apply(self, msgs: list[Any]) -> None:
        self.applier.apply(
            [Incoming(m.subject, dict(m.headers or {}), m.data, m.metadata.sequence.stream) for m in msgs])

    @staticmethod
    async def _unbind(puller: Puller | None) -> None:
        if puller is not None:
            with contextlib.suppress(Exception):
                await puller.close()

    # links ---------------------------------------------------------------------------------------

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                applied = await loop.run_in_executor(None, self._applied_seqs)
                changed = await asyncio.gather(*(self._ping(s, applied.get(s, 0)) for s in self.sites))
                # one transaction for the round: a transaction per site queued 50 of them behind the applier's
                # locks on the same rows, in the executor threads the applier needed
                await loop.run_in_executor(None, self._store_links, dict(zip(self.sites, changed, strict=True)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: the next round tries again
                log.warning("central node: checking the sites' links: %s", exc)
            if self.nc is not None and self.nc.is_connected:
                try:
                    await self._resume_sources()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the central server just went: the next round looks again
                    log.debug("central node: looking at the central stream's sources: %s", exc)
            interval = self.central.ping_interval
            if time.monotonic() < self._fast_until:
                interval = min(FAST_PING, interval)
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    def _connection(self, up: bool) -> None:
        """Our own connection to the central server dropped or returned (called in the loop)."""
        if up and self._wake is not None:
            self._fast_until = time.monotonic() + FAST_FOR
            self._wake.set()

    async def _resume_sources(self) -> None:
        """Re-make the sources that stalled while their sites answer (``sources.to_remake`` says why), and put
        back any source missing from the central stream (a re-make cut short)."""
        assert self.js is not None
        info = await self.js.stream_info(subj.CENTRAL_STREAM)
        site_of = {subj.site_stream(s): s for s in self.sites}
        states = [SourceState(site_of[src.name], None if src.active is None or src.active < 0 else src.active / 1e9)
                  for src in info.sources or [] if src.name in site_of]
        missing = set(self.sites) - {st.site for st in states}
        last = info.state.last_seq
        behind = {site: last - pos for site, pos in dict(self.applier.positions).items()}
        now = time.monotonic()
        remake = to_remake(states, {s for s, link in self.links.items() if link.up}, behind, self._remade, now)
        if not remake and not missing:
            return
        cfg = self._central_stream()
        if remake:
            names = {subj.site_stream(s) for s in remake}
            await self.js.update_stream(dataclasses.replace(
                cfg, sources=[src for src in cfg.sources or [] if src.name not in names]))
            self._remade.update(dict.fromkeys(remake, now))
            log.info("central node: sourcing of %s re-made (stalled while the site answers)", ", ".join(remake))
        if missing:
            log.warning("central node: sourcing of %s put back", ", ".join(sorted(missing)))
        await self.js.update_stream(cfg)

    def _applied_seqs(self) -> dict[str, int]:
        with self.db.session() as s:
            return {r.name: r.last_seq for r in s.scalars(select(FedSite))}

    async def _ping(self, site: str, applied: int) -> bool:
        """Is the site there? It hears how much of its stream we have applied (its backlog and lag alarm), we
        hear its health. True when the link changed."""
        state = self.links[site]
        try:
            health: dict[str, Any] | None = json.loads(await self._ask(site, "ping", {"applied_seq": applied}, 2.0))
            up, error = True, None
        except Exception as exc:  # offline, an error it answered with, or our own connection gone
            health, up, error = None, False, str(exc) or type(exc).__name__
        changed = up != state.up
        state.up, state.error, state.checked_at = up, error, time.time()
        if health is not None:
            state.health = health
        if changed:
            log.info("site %s: link %s%s", site, "up" if up else "down", f" ({error})" if error else "")
        return changed

    def _store_links(self, changed: dict[str, bool]) -> None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            rows = {r.name: r for r in s.scalars(select(FedSite).order_by(FedSite.name))}
            for site in sorted(changed):
                state, row = self.links[site], rows.get(site)
                if row is None:
                    row = FedSite(name=site, last_seq=0, applied=0, duplicates=0, gaps=0, rejected=0, link_up=False)
                    s.add(row)
                if changed[site] or row.link_changed_at is None:
                    row.link_changed_at = now
                row.link_up, row.link_error, row.link_checked_at = state.up, state.error, now
                if state.health is not None and state.up:
                    row.health = state.health

    # asking sites (from any thread) ----------------------------------------------------------------

    def _run(self, coro: Any, timeout: float) -> Any:
        if self.loop is None:
            raise FederationError("the central node is not connected to its NATS server")
        return self.loop.run(coro, timeout)

    def _known(self, site: str) -> None:
        if site not in self.central.sites:
            raise FederationError(f"no site {site!r} (sites: {', '.join(self.sites) or 'none'})")

    def snapshot(self, site: str, camera: str, actor: Actor, unmasked: bool = False) -> bytes:
        self._known(site)
        body = {"camera": camera, "user": actor.name, "role": actor.role, "unmasked": unmasked}
        data: bytes = self._run(self._ask(site, "snapshot", body), self.central.request_timeout + 1)
        return data

    async def _ask(self, site: str, what: str, body: dict[str, Any], timeout: float | None = None) -> bytes:
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        assert self.nc is not None
        timeout = timeout or self.central.request_timeout
        try:
            reply = await self.nc.request(subj.request_subject(site, what), json.dumps(body).encode(),
                                          timeout=timeout)
        except NoRespondersError:
            raise SiteOffline(f"site {site} is offline (no responders: its link or its Clearwatch is down)"
                              ) from None
        except NatsTimeout:
            raise SiteOffline(f"site {site} did not answer within {timeout:.0f} s") from None
        if reply.data[:1] == b"{":
            err = json.loads(reply.data).get("error")
            if err:
                raise FederationError(f"site {site}: {err}")
        return bytes(reply.data)

    def export(self, site: str, camera: str, start: datetime, end: datetime, actor: Actor, why: str,
               out: Path) -> tuple[int, str]:
        """Fetch a site's export of a camera's footage into ``out``: (bytes, SHA-256). The site makes it with
        its own export and audits it under the central user's name."""
        self._known(site)
        body = {"camera": camera, "start": start.isoformat(), "end": end.isoformat(), "user": actor.name,
                "role": actor.role, "why": why}
        result: tuple[int, str] = self._run(self._export(site, body, out), 600.0)
        return result

    async def _export(self, site: str, body: dict[str, Any], out: Path) -> tuple[int, str]:
        assert self.nc is not None
        inbox = self.nc.new_inbox()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sub = await self.nc.subscribe(inbox, cb=queue.put, pending_bytes_limit=256 * 1024 * 1024)
        try:
            await self.nc.publish(subj.request_subject(site, "export"), json.dumps(body).encode(), reply=inbox,
                                  headers={"Cw-Request": uuid.uuid4().hex})
            digest = hashlib.sha256()
            size, expect = 0, 0
            part = out.with_name(out.name + ".part")
            with part.open("wb") as f:
                while True:
                    try:
                        m = await asyncio.wait_for(queue.get(), self.central.request_timeout * 6)
                    except TimeoutError:
                        raise FederationError(f"site {site} stopped sending the footage") from None
                    h = m.headers or {}
                    if h.get("Status") == "503":
                        raise SiteOffline(f"site {site} is offline (no responders)")
                    if "Cw-End" in h:
                        break
                    if "Cw-Part" not in h:
                        err = json.loads(m.data or b"{}").get("error", "unexpected answer")
                        raise FederationError(f"site {site}: {err}")
                    if int(h["Cw-Part"]) != expect:
                        raise FederationError(f"site {site}: footage part {h['Cw-Part']} came out of order")
                    expect += 1
                    digest.update(m.data)
                    size += len(m.data)
                    f.write(m.data)
            if digest.hexdigest() != h["Cw-End"] or size != int(h.get("Cw-Bytes", size)):
                part.unlink(missing_ok=True)
                raise FederationError(f"site {site}: the footage arrived damaged (checksum differs)")
            part.replace(out)
            return size, digest.hexdigest()
        finally:
            await sub.unsubscribe()

    # telling sites -------------------------------------------------------------------------------

    def tell(self, kind: str, target: str, bodies: dict[str, dict[str, Any]], actor: Actor, reason: str) -> str:
        """Send a command to sites (``bodies``: each site's own); returns its id. Each site takes it when it is
        next linked, however long it was offline, and confirms with a receipt."""
        for site in bodies:
            self._known(site)
        request_id = uuid.uuid4().hex
        with self.db.session() as s:
            s.add(FedCommand(id=request_id, kind=kind, target=target, requested_by=actor.name, reason=reason,
                             created_at=datetime.now(UTC), sites=list(bodies)))
        common = {"request_id": request_id, "user": actor.name, "role": actor.role, "reason": reason}
        self._run(self._command(kind, request_id, {s: {**common, **b} for s, b in bodies.items()}), 30.0)
        return request_id

    def erase(self, person_id: str, actor: Actor, reason: str, sites: list[str] | None = None) -> str:
        """Erase a person (by id, or the external reference the sites share) at every site or those named."""
        return self.tell("erase", person_id, {site: {"person_id": person_id} for site in sites or self.sites}, actor,
                         reason)

    def push_person(self, export: dict[str, Any], actor: Actor, reason: str, sites: list[str] | None = None) -> str:
        """Enrol a person (``FaceRegistry.export_person``) at sites, under the same id, with their watchlists."""
        bodies = {site: {"export": export} for site in sites or self.sites}
        return self.tell("person", str(export["person"]["id"]), bodies, actor, reason)

    def push_users(self, users: list[dict[str, Any]], actor: Actor, reason: str) -> str:
        """Users and their roles to the sites they may see (a user limited to some sites goes only there)."""
        bodies = {site: {"users": [{k: v for k, v in u.items() if k != "sites"} for u in users
                                   if u["sites"] is None or site in u["sites"]]} for site in self.sites}
        return self.tell("users", "", bodies, actor, reason)

    async def _command(self, kind: str, key: str, bodies: dict[str, dict[str, Any]]) -> None:
        assert self.js is not None
        for site, body in bodies.items():
            await self.js.publish(subj.command_subject(site, kind), json.dumps(body).encode(),
                                  headers={subj.MSG_ID: f"central.{kind}.{key}.{site}"})

    def command(self, request_id: str) -> dict[str, Any] | None:
        """A command and which sites have confirmed it (with what each did: its receipts)."""
        with self.db.session() as s:
            req = s.get(FedCommand, request_id)
            if req is None:
                return None
            receipts = {r.site: r.body for r in s.scalars(select(FedRecord).where(
                FedRecord.kind == "receipt", FedRecord.key == request_id))}
        confirmed = {site: {k: v for k, v in body.items() if k not in ("site", "key")}
                     for site, body in receipts.items()}
        return {"id": req.id, "kind": req.kind, "target": req.target, "requested_by": req.requested_by,
                "reason": req.reason, "created_at": req.created_at, "sites": req.sites, "confirmed": confirmed,
                "pending": [s for s in req.sites if s not in receipts],
                "complete": all(s in receipts for s in req.sites)}

    def site_rows(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = {r.name: r for r in s.scalars(select(FedSite))}
        out = []
        for name in self.sites:
            r = rows.get(name)
            state = self.links[name]
            health = state.health or (r.health if r else None) or {}
            out.append({
                "name": name, "link": "up" if state.up else "down", "link_error": state.error,
                "link_changed_at": r.link_changed_at if r else None,
                "checked_at": datetime.fromtimestamp(state.checked_at, UTC) if state.checked_at else None,
                "last_message_at": r.last_message_at if r else None, "last_event_at": r.last_event_at if r else None,
                "applied": r.applied if r else 0, "last_seq": r.last_seq if r else 0,
                "duplicates": r.duplicates if r else 0, "gaps": r.gaps if r else 0, "rejected": r.rejected if r else 0,
                "backlog": int((health.get("stream") or {}).get("not_applied", 0)) + int(
                    health.get("outbox_pending", 0)),
                "lag_seconds": health.get("lag_seconds"),
                "cameras": health.get("cameras", []), "cameras_up": health.get("cameras_up", 0)})
        return out
