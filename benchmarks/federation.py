"""Federation benchmark: many sites into one central node over real nats-server processes.

0. ``--sites`` (50) new sites, each its own leaf nats-server with its own stream (as a real site has), and a
   lightweight publisher per site (asyncio, not a whole Clearwatch) sending event messages of the real shape at
   ``--rate`` (10/s) for 5 s; each site also answers the central node's pings throughout, as a running site
   does (the central node judges links, and re-makes stalled sources, by them): the delay of a new site's first
   messages (the central server's sourcing finds a stream made after it started on its next retry), reported
   apart.
1. The same for ``--seconds`` (60) with the link up: end-to-end delay from publishing at the site to
   the row committed in the central database (p50 / p99), and the central apply rate.
2. The hub stopped for ``--outage`` seconds (300) while the sites keep publishing into their own streams, then
   started: how fast the central node catches up (video-seconds of backlog per second), and in the end
   nothing lost and nothing twice (every published event exactly once; no gaps in any site's sequence).
   The catch-up is split into the hub's part (when its sourcing resumed, when the whole backlog was in the
   central stream) and the central node's drain, with the CPU seconds each part of the test bed used meanwhile.
3. Central search at ``--search-events`` (10M) events on PostgreSQL: p50 / p99 of the console's queries
   (newest of one site, one site and label over a day, every site over an hour, one camera of one site).

Targets: p99 delay <= 1 s with the link up, catch-up >= 20x real time, 0 lost, 0 duplicated, search p99 <= 100 ms.
Run: .venv/bin/python benchmarks/federation.py [--sites 50 --seconds 60 --outage 300 --search-events 10000000]
     [--out benchmarks/results/federation.json]  (PostgreSQL: $CLEARWATCH_TEST_PG, default 127.0.0.1:5432)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from tests.support.natsd import Topology  # noqa: E402
from tests.support.servers import throwaway_postgres_db  # noqa: E402

from clearwatch.config import Config  # noqa: E402
from clearwatch.federation import CentralNode  # noqa: E402
from clearwatch.federation.link import LoopThread, connect  # noqa: E402
from clearwatch.federation.subjects import (  # noqa: E402
    CENTRAL_STREAM,
    message_id,
    request_subject,
    site_stream,
    site_subject,
)
from clearwatch.storage import Database, EventRecord  # noqa: E402
from clearwatch.storage.models import FedSite  # noqa: E402

console = Console(width=150)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def publisher(topo: Topology, site: str, rate: float, stop: asyncio.Event, sent: list[tuple[str, float]]
                    ) -> None:
    from nats.js.api import DiscardPolicy, StorageType, StreamConfig

    nc = await connect(topo.site_nats(site), name=f"bench-{site}")
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=site_stream(site), subjects=[f"cw.site.{site}.>"], storage=StorageType.FILE,
                                     max_age=86400.0, discard=DiscardPolicy.OLD, duplicate_window=600.0))
    i = 0
    t0 = time.monotonic()
    while not stop.is_set():
        now = time.time()
        eid = uuid.uuid4().hex
        body = {"site": site, "type": "end", "event": {
            "id": eid, "camera": f"cam{i % 4}", "kind": "object", "label": "person" if i % 3 else "car",
            "start": now, "end": now, "score": 0.8, "track_id": i, "zones": ["yard"], "crossings": [],
            "box": [0.1, 0.2, 0.3, 0.6], "path": [[now, 0.2, 0.4]], "snapshot": f"cam{i % 4}/{eid}.jpg", "data": {}}}
        payload = json.dumps(body).encode()
        await js.publish(site_subject(site, "event"), payload, headers={
            "Nats-Msg-Id": message_id(site, "event", eid, payload)})
        sent.append((eid, now))
        i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    await nc.close()


class Responders:
    """Every site's answer to the central node's pings, for the whole run, on a loop of its own: a site that is
    up answers whether or not it is publishing."""

    def __init__(self, topo: Topology, sites: list[str]):
        self.loop = LoopThread("bench-responders")
        self.clients = self.loop.run(self._start(topo, sites), 60)

    async def _start(self, topo: Topology, sites: list[str]) -> list[Any]:
        clients = []
        for site in sites:
            nc = await connect(topo.site_nats(site), name=f"bench-{site}-pings")

            async def pong(msg: Any, site: str = site) -> None:
                await msg.respond(json.dumps({"site": site, "key": "health", "time": time.time(), "cameras": [],
                                              "cameras_up": 0}).encode())

            await nc.subscribe(request_subject(site, "ping"), cb=pong)
            clients.append(nc)
        return clients

    def close(self) -> None:
        async def close() -> None:
            for nc in self.clients:
                await nc.close()

        self.loop.run(close(), 30)
        self.loop.stop()


async def run_publishers(topo: Topology, sites: list[str], rate: float, seconds_at: list[tuple[float, str]],
                         sent: list[tuple[str, float]], db: Database | None = None,
                         node: CentralNode | None = None) -> dict[str, Any]:
    """Publish until the schedule ends; ``seconds_at``: (seconds from start, 'hub-stop' | 'hub-start' | 'end').
    Where the schedule restarts the hub: what the central stream held when it stopped, what the central node had
    applied before it came back (nothing changes while the hub is down), the CPU used so far, and when the hub was
    back (monotonic)."""
    stop = asyncio.Event()
    marks: dict[str, Any] = {}
    tasks = [asyncio.ensure_future(publisher(topo, s, rate, stop, sent)) for s in sites]
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    for at, what in seconds_at:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        if what == "hub-stop":
            if node is not None:
                marks["held"] = await loop.run_in_executor(None, in_central, node)
            await loop.run_in_executor(None, topo.hub.stop)
        elif what == "hub-start":
            if db is not None:
                marks["applied"] = await loop.run_in_executor(None, applied, db)
            marks["cpu"] = cpu_seconds()
            await loop.run_in_executor(None, topo.hub.start)
            marks["back"] = time.monotonic()
    stop.set()
    await asyncio.gather(*tasks)
    return marks


def count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(EventRecord)) or 0)


def applied(db: Database) -> int:
    """Messages applied so far, from the 50 per-site counters: counting a growing events table every 0.1 s cost
    PostgreSQL a good part of a core during catch-up, and the benchmark measured itself."""
    with db.session() as s:
        return int(s.scalar(select(func.coalesce(func.sum(FedSite.applied), 0))) or 0)


def in_central(node: CentralNode) -> int:
    """Messages in the central stream: how far the hub's sourcing has brought the sites' backlogs."""
    try:
        info = node._run(node.js.stream_info(CENTRAL_STREAM), 2.0)  # type: ignore[union-attr]
    except Exception:  # the hub still starting
        return 0
    return int(info.state.messages)


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each part of the test bed, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"central node + publishers (python)": 0.0, "hub nats-server": 0.0, "site nats-servers": 0.0,
           "postgresql": 0.0}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(d.name) == os.getpid():
            out["central node + publishers (python)"] += used
        elif cmd.startswith("nats-server"):
            out["hub nats-server" if "/hub/" in cmd else "site nats-servers"] += used
        elif cmd.startswith("postgres"):
            out["postgresql"] += used
    return out


def delays(db: Database, since: float, until: float) -> list[float]:
    with db.session() as s:
        rows = s.execute(select(EventRecord.start, EventRecord.updated_at)).all()
    return [(u.timestamp() - st.timestamp()) for st, u in rows if since <= st.timestamp() < until]


def wait_for(db: Database, n: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while count(db) < n and time.monotonic() < deadline:
        time.sleep(0.2)


def flow(args: argparse.Namespace, url: str, work: Path) -> dict[str, object]:
    sites = [f"s{i:02d}" for i in range(args.sites)]
    topo = Topology(work / "nats", sites)
    topo.start()
    db = Database(url)
    db.migrate()
    cfg = Config.model_validate({"data_dir": str(work / "central"), "database": {"url": url},
                                 "central": topo.central_section()})
    node = CentralNode(cfg, db)
    node.start()
    responders = Responders(topo, sites)
    sent: list[tuple[str, float]] = []
    try:
        # 0: new sites: the central server's sourcing finds a site stream made after it started only on its next
        # retry, so the first seconds of a new site wait for that — reported apart, not as the link-up delay
        t_new = time.time()
        console.print(f"{len(sites)} new sites x {args.rate}/s for {WARM_UP:.0f} s")
        asyncio.run(run_publishers(topo, sites, args.rate, [(WARM_UP, "end")], sent))
        warm = len(sent)
        wait_for(db, warm, 60)
        d_new = delays(db, t_new, time.time())
        # 1: link up
        t_up = time.time()
        console.print(f"{len(sites)} sites x {args.rate}/s for {args.seconds:.0f} s, link up")
        asyncio.run(run_publishers(topo, sites, args.rate, [(args.seconds, "end")], sent))
        up_count = len(sent) - warm
        wait_for(db, len(sent), 60)
        d_up = delays(db, t_up, time.time())
        applied_up = count(db) - warm
        # 2: outage
        console.print(f"hub stopped for {args.outage:.0f} s while the sites publish")
        # timed from the moment the hub is back, the backlog being everything not applied before it stopped
        marks = asyncio.run(run_publishers(topo, sites, args.rate, [
            (1.0, "hub-stop"), (1.0 + args.outage, "hub-start"), (1.0 + args.outage + 0.5, "end")], sent, db, node))
        back, cpu0 = marks["back"], marks["cpu"]
        backlog = len(sent) - marks["applied"]
        deadline = back + 900
        # the hub's part: its sourcing of every site stream resumed (nats-server 2.9 would ask again only 5 s after
        # asking while the leaf links were still down; the central node re-makes such sources once their sites
        # answer), then the sites' backlogs copied into the central stream
        resumed: float | None = None  # the central stream grows again
        sourced_all: float | None = None  # the whole backlog in the central stream
        # polled from 0.5 s after the hub is back (the publishers' last half second): finer it cannot say
        while applied(db) < len(sent) and time.monotonic() < deadline:
            if sourced_all is None:
                held = in_central(node)
                if resumed is None and held > marks["held"]:
                    resumed = time.monotonic() - back
                if held >= len(sent):
                    sourced_all = time.monotonic() - back
            time.sleep(0.1)
        catch_up = time.monotonic() - back
        cpu = {k: round(v - cpu0[k], 1) for k, v in cpu_seconds().items()}
        # not seen growing at all: it had grown before the first look, half a second after the hub was back
        resumed = resumed if resumed is not None else min(0.5, catch_up)
        total = count(db)
        with db.session() as s:
            fed = list(s.scalars(select(FedSite)))
            ids = {r for (r,) in s.execute(select(EventRecord.id))}
        lost = sum(1 for eid, _ in sent if eid not in ids)
        outage_video_s = args.outage
        return {
            "sites": len(sites), "rate_per_site": args.rate, "seconds_up": args.seconds, "published_up": up_count,
            "new_sites_delay_p50_s": round(pct(d_new, 0.5), 3), "new_sites_delay_p99_s": round(pct(d_new, 0.99), 3),
            "applied_up": applied_up, "delay_p50_s": round(pct(d_up, 0.5), 3), "delay_p99_s": round(pct(d_up, 0.99), 3),
            "apply_rate_up_msgs_s": round(up_count / args.seconds, 1),
            "outage_s": args.outage, "backlog_msgs": backlog, "catch_up_s": round(catch_up, 1),
            "catch_up_msgs_s": round(backlog / catch_up, 1) if catch_up else None,
            "catch_up_x_realtime": round(outage_video_s / catch_up, 1) if catch_up else None,
            "sourcing_resumed_after_s": round(resumed, 1), "catch_up_cpu_s": cpu,
            "sourced_all_after_s": round(sourced_all, 1) if sourced_all is not None else None,
            "drain_msgs_s": round(backlog / (catch_up - resumed), 1) if catch_up > resumed else None,
            "drain_x_realtime": round(outage_video_s / (catch_up - resumed), 1) if catch_up > resumed else None,
            "published": len(sent), "rows": total, "lost": lost, "duplicated": total - (len(sent) - lost),
            "gaps": sum(r.gaps for r in fed), "rejected": sum(r.rejected for r in fed),
            "repeats_skipped": sum(r.duplicates for r in fed)}
    finally:
        responders.close()
        node.stop()
        db.dispose()
        topo.stop()


WARM_UP = 5.0
SEARCHES = {
    "newest of one site": "SELECT id FROM events WHERE site = :site ORDER BY start DESC LIMIT 50",
    "one site + label, a day": "SELECT id FROM events WHERE site = :site AND label = 'car' AND start >= :day "
                               "AND start < :day_end ORDER BY start DESC LIMIT 50",
    "every site, an hour": "SELECT id FROM events WHERE start >= :hour AND start < :hour_end "
                           "ORDER BY start DESC LIMIT 50",
    "one camera of one site, a day": "SELECT id FROM events WHERE site = :site AND camera = 'cam2' AND "
                                     "start >= :day AND start < :day_end ORDER BY start DESC LIMIT 50",
}


def search(args: argparse.Namespace, url: str) -> dict[str, object]:
    db = Database(url)
    db.migrate()
    n = args.search_events
    console.print(f"filling {n:,} events (50 sites, 30 days) ...")
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO events (id, site, camera, kind, label, start, "end", score, zones, crossings, path, data,
                                updated_at, version)
            SELECT md5(g::text), 's' || lpad((g % 50)::text, 2, '0'), 'cam' || (g % 4), 'object',
                   CASE WHEN g % 3 = 0 THEN 'car' ELSE 'person' END,
                   now() - (g * (30 * 86400.0 / :n)) * interval '1 second',
                   now() - (g * (30 * 86400.0 / :n)) * interval '1 second' + interval '5 seconds',
                   0.8, '[]', '[]', '[]', '{}', now(), g
            FROM generate_series(1, :n) AS g"""), {"n": n})
        conn.execute(text("ANALYZE events"))
    fill_s = time.perf_counter() - t0
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(1)
    now = datetime.now(UTC)
    out: dict[str, object] = {"events": n, "fill_s": round(fill_s, 1)}
    with db.engine.connect() as conn:
        for name, sql in SEARCHES.items():
            times = []
            for _ in range(args.queries):
                day = now - timedelta(days=rng.uniform(1, 29))
                hour = now - timedelta(hours=rng.uniform(1, 700))
                params = {"site": f"s{rng.randrange(50):02d}", "day": day, "day_end": day + timedelta(days=1),
                          "hour": hour, "hour_end": hour + timedelta(hours=1)}
                used = {k: v for k, v in params.items() if f":{k}" in sql}
                t = time.perf_counter()
                conn.execute(text(sql), used).all()
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(pct(times, 0.99), 2)}
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--outage", type=float, default=300.0)
    ap.add_argument("--search-events", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-flow", action="store_true", help="Only the search part.")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/federation.json")
    args = ap.parse_args()
    results: dict[str, object] = describe()
    if not args.skip_flow:
        with tempfile.TemporaryDirectory(prefix="cw-bench-fed-") as tmp, throwaway_postgres_db() as url:
            results["flow"] = flow(args, url, Path(tmp))
    if args.search_events:
        with throwaway_postgres_db() as url:
            results["search"] = search(args, url)
    f = results.get("flow", {})
    assert isinstance(f, dict)
    t = Table(title="federation")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    for k, target in [] if not f else (("new_sites_delay_p99_s", ""), ("delay_p50_s", ""), ("delay_p99_s", "<= 1 s"),
                      ("apply_rate_up_msgs_s", ""),
                      ("backlog_msgs", ""), ("catch_up_msgs_s", ""), ("catch_up_x_realtime", ">= 20"),
                      ("sourcing_resumed_after_s", ""), ("sourced_all_after_s", ""), ("drain_msgs_s", ""),
                      ("drain_x_realtime", ""),
                      ("lost", "0"), ("duplicated", "0"), ("gaps", "0")):
        t.add_row(k, str(f[k]), target)
    for part, used in (f.get("catch_up_cpu_s") or {}).items():
        t.add_row(f"catch-up CPU-s: {part}", str(used), "")
    s = results.get("search")
    if isinstance(s, dict):
        for name in SEARCHES:
            t.add_row(f"search p99: {name}", f"{s[name]['p99_ms']} ms", "<= 100 ms")
    console.print(t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
