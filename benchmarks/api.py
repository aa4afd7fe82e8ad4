"""API benchmark: the events list with 1M events stored (SQLite and PostgreSQL), live-view latency through the
MJPEG endpoint, audit append rate and the time to verify a 1M-record chain.

Run: .venv/bin/python benchmarks/api.py [--events 1000000] [--audit 1000000] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from tests.support.servers import postgres_reachable, throwaway_postgres_db  # noqa: E402

from clearwatch.api import AppContext, WebServer, create_app  # noqa: E402
from clearwatch.config import parse_config  # noqa: E402
from clearwatch.governance import Actor, AuditLog, Users  # noqa: E402
from clearwatch.governance.audit import HEAD, canonical, chain_hash  # noqa: E402
from clearwatch.storage import Database  # noqa: E402
from clearwatch.storage.models import AuditRecord, EventRecord  # noqa: E402

console = Console(width=150)
CAMERAS = [f"cam{i:02d}" for i in range(16)]
LABELS = ["person"] * 6 + ["car"] * 2 + ["truck", "bicycle", "loitering"]
ZONES = ["door", "yard", "gate", "dock"]
QUERIES = {
    "newest": "",
    "camera": "camera=cam03",
    "label": "label=car",
    "camera+label": "camera=cam07&label=person",
    "zone": "zone=dock",
    "time window": "start={s}&end={e}",
    "rare label, deep": "label=bicycle&camera=cam11",
}


def fill_events(db: Database, n: int) -> None:
    rng = np.random.default_rng(1)
    t0 = datetime.now(UTC) - timedelta(days=30)
    batch = 20_000
    with db.engine.begin() as conn:
        for i in range(0, n, batch):
            k = min(batch, n - i)
            starts = rng.uniform(0, 30 * 86400, k)
            rows = []
            for j in range(k):
                st = t0 + timedelta(seconds=float(starts[j]))
                zone = [ZONES[int(rng.integers(0, 4))]] if rng.random() < 0.4 else []
                rows.append({"id": uuid.uuid4().hex, "camera": CAMERAS[int(rng.integers(0, 16))],
                             "kind": "object", "label": LABELS[int(rng.integers(0, len(LABELS)))], "start": st,
                             "end": st + timedelta(seconds=float(rng.uniform(2, 60))), "score": 0.8,
                             "track_id": j, "zones": zone, "crossings": [], "box": None, "path": [],
                             "snapshot": None, "identity": None, "identity_name": None, "similarity": None,
                             "face_snapshot": None, "clip_start": st, "clip_end": st, "data": {}, "updated_at": st})
            conn.execute(insert(EventRecord), rows)
            console.print(f"\r  {i + k:,} events", end="")
    console.print()
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE events"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def serve(db: Database, data: Path) -> tuple[WebServer, str]:
    cams = "".join(f"  {c}: {{url: rtsp://127.0.0.1:1/{c}}}\n" for c in CAMERAS)
    cfg = parse_config(f"data_dir: {data}\ncameras:\n{cams}")
    ctx = AppContext.for_config(cfg, db)
    users = Users(db)
    user, _ = users.create(f"bench{uuid.uuid4().hex[:6]}", "admin")
    server = WebServer(create_app(ctx), "127.0.0.1", 0)
    server.start()
    port = server.server.servers[0].sockets[0].getsockname()[1]
    server.token = users.create_token(user, "bench")  # type: ignore[attr-defined]
    return server, f"http://127.0.0.1:{port}"


def events_list(db: Database, data: Path, n: int, reps: int) -> dict[str, dict[str, float]]:
    console.print(f"  storing {n:,} events ({db.dialect})…")
    fill_events(db, n)
    server, url = serve(db, data)
    now = datetime.now(UTC)
    window = {"s": (now - timedelta(days=3)).isoformat(), "e": (now - timedelta(days=2)).isoformat()}
    out = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {server.token}"}) as http:  # type: ignore[attr-defined]
        for name, q in QUERIES.items():
            q = q.format(**window).replace("+00:00", "Z")
            http.get(f"/api/events?limit=50&{q}").raise_for_status()
            lat = []
            for _ in range(reps):
                t = time.perf_counter()
                r = http.get(f"/api/events?limit=50&{q}")
                lat.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            out[name] = {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                         "returned": len(r.json()["events"])}
    server.stop()
    return out


def live_latency(db: Database, data: Path, frames: int = 100) -> dict[str, float]:
    server, url = serve(db, data)
    ctx: AppContext = server.config.app.state.ctx  # type: ignore[attr-defined]
    image = (np.random.default_rng(0).integers(0, 255, (480, 640, 3))).astype(np.uint8)
    stop = threading.Event()

    def camera() -> None:  # a 10 fps camera publishing decoded frames
        while not stop.is_set():
            ctx.live.publish("cam00", image, time.time())
            stop.wait(0.1)

    threading.Thread(target=camera, daemon=True).start()
    lat = []
    with httpx.stream("GET", f"{url}/api/cameras/cam00/live.mjpeg?fps=10",
                      headers={"Authorization": f"Bearer {server.token}"}, timeout=30) as r:  # type: ignore[attr-defined]
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while b"X-Frame-Time: " in buf and b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                t = float(head.split(b"X-Frame-Time: ")[1].split(b"\r\n")[0])
                size = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(rest) < size:
                    break
                lat.append((time.time() - t) * 1000)
                buf = rest[size:]
            if len(lat) >= frames:
                break
    stop.set()
    server.stop()
    lat = lat[5:]
    return {"frames": len(lat), "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}


def audit(db: Database, n_append: int, n_verify: int) -> dict[str, float]:
    log = AuditLog(db)
    actor = Actor("bench", "operator", "10.0.0.9")
    t = time.perf_counter()
    for i in range(n_append):
        log.append(actor, "footage.playback", f"cam{i % 16:02d}", {"segment": i})
    rate = n_append / (time.perf_counter() - t)

    def worker(k: int, per: int) -> None:  # a busy server: many requests appending at once (group commit)
        for i in range(per):
            log.append(actor, "footage.playback", f"cam{k:02d}", {"segment": i})

    threads = [threading.Thread(target=worker, args=(k, n_append // 16)) for k in range(16)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rate16 = (n_append // 16 * 16) / (time.perf_counter() - t)
    log.close()
    # extend the chain to n_verify records in bulk (same hashing as append), then verify all of it
    last_id, prev = log.head()
    batch = 20_000
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    with db.engine.begin() as conn:
        rec = last_id
        while rec < n_verify:
            rows = []
            for _ in range(min(batch, n_verify - rec)):
                rec += 1
                detail = json.dumps({"segment": rec}, separators=(",", ":"))
                h = chain_hash(prev, canonical(rec, ts, "bench", "operator", "footage.playback", "cam01", detail,
                                               None, "10.0.0.9"))
                rows.append({"id": rec, "ts": ts, "actor": "bench", "role": "operator", "action": "footage.playback",
                             "target": "cam01", "detail": detail, "justification": None, "address": "10.0.0.9",
                             "prev_hash": prev, "hash": h})
                prev = h
            conn.execute(insert(AuditRecord), rows)
        conn.execute(text("UPDATE settings SET value = :v WHERE key = :k"), {"v": f"{rec}:{prev}", "k": HEAD})
    t = time.perf_counter()
    v = log.verify()
    verify_s = time.perf_counter() - t
    assert v.ok, v.problems
    return {"appends_per_s": rate, "appends_per_s_16_concurrent": rate16, "verify_records": v.records,
            "verify_s": verify_s}


def run_on(db: Database, args: argparse.Namespace, data: Path) -> dict[str, object]:
    db.migrate()
    return {"events_list": events_list(db, data, args.events, args.reps),
            "audit": audit(db, args.appends, args.audit)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/api.json")
    args = ap.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        console.print("SQLite…")
        results["sqlite"] = run_on(Database(f"sqlite:///{data / 'bench.db'}"), args, data)
        results["live_view"] = live_latency(Database(f"sqlite:///{data / 'bench.db'}"), data)
        why = postgres_reachable()
        if why:
            console.print(f"PostgreSQL skipped: {why}")
        else:
            console.print("PostgreSQL…")
            with throwaway_postgres_db() as url:
                db = Database(url)
                results["postgresql"] = run_on(db, args, data)
                db.dispose()
    t = Table(title=f"events list (limit 50) over HTTP with {args.events:,} events stored, ms")
    t.add_column("query")
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            t.add_column(f"{backend} p50", justify="right")
            t.add_column(f"{backend} p99", justify="right")
    for q in QUERIES:
        row = [q]
        for backend in ("sqlite", "postgresql"):
            if backend in results:
                r = results[backend]["events_list"][q]  # type: ignore[index]
                row += [f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}"]
        t.add_row(*row)
    console.print(t)
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            a = results[backend]["audit"]  # type: ignore[index]
            console.print(f"audit on {backend}: {a['appends_per_s']:,.0f} appends/s one at a time, "
                          f"{a['appends_per_s_16_concurrent']:,.0f}/s from 16 concurrent writers; verify "
                          f"{a['verify_records']:,} records in {a['verify_s']:.1f} s")
    lv = results["live_view"]
    console.print(f"live view (frame published → received over MJPEG): p50 {lv['p50_ms']:.1f} ms, "  # type: ignore[index]
                  f"p99 {lv['p99_ms']:.1f} ms")
    worst = max(r["p99_ms"] for b in ("sqlite", "postgresql") if b in results
                for r in results[b]["events_list"].values())  # type: ignore[index]
    targets = {
        "events list p99 <= 50 ms at 1M": worst <= 50,
        ">= 5000 audit appends/s": all(max(results[b]["audit"]["appends_per_s"],  # type: ignore[index]
                                           results[b]["audit"]["appends_per_s_16_concurrent"]) >= 5000  # type: ignore[index]
                                       for b in ("sqlite", "postgresql") if b in results),
        "verify 1M <= 10 s": all(results[b]["audit"]["verify_s"] <= 10  # type: ignore[index]
                                 for b in ("sqlite", "postgresql") if b in results),
    }
    for k, ok in targets.items():
        console.print(f"target {k}: " + ("[green]met[/green]" if ok else "[red]not met[/red]"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**describe(), "results": results,
                                    "targets": targets}, indent=2, default=str))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
