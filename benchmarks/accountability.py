"""Accountability benchmark.

1. Redacted export at 1080p: the street clip scaled to 1920×1080 with two faces (the shared photos) travelling
   across it; faces, people and plates redacted on every frame. Reports video seconds redacted per second (and
   CPU-seconds per video-second), and faces missed per 1,000 face-frames: a face counts as missed on a frame
   when the face detector (YuNet, threshold 0.3, full size) still finds a face over a known face's place.
2. The transparency report over a database with ``--events`` events and ``--audit`` audit records (a valid
   chain; default 1,000,000 each), on SQLite. Target: ≤ 5 s.
3. Signing and verifying a ``--export-gb`` GB export (SHA-256 of the file + Ed25519), seconds each.

Run: .venv/bin/python benchmarks/accountability.py [--events N] [--audit N] [--export-gb G] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("CLEARWATCH_MODELS", str(SHARED / "models"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.support.faces_clip import PEOPLE, face_crop  # noqa: E402

from clearwatch.media import write_clip  # noqa: E402

console = Console(width=150)
VTEST = SHARED / "data/video/vtest.avi"
PHOTOS = SHARED / "data/faces/photos"
HD = (1920, 1080)
SECONDS = 10.0
FPS = 10


def hd_faces_clip(dst: Path) -> tuple[Path, list[list[tuple[int, int, int, int]]]]:
    """The clip and, per frame, the boxes of the two faces pasted into it."""
    crops = [face_crop(PHOTOS / p, 160) for p in PEOPLE]
    truth: list[list[tuple[int, int, int, int]]] = []

    def frames() -> Iterator[np.ndarray]:
        with av.open(str(VTEST)) as c:
            for k, f in enumerate(c.decode(video=0)):
                if k >= SECONDS * FPS:
                    return
                img = cv2.resize(f.to_ndarray(format="bgr24"), HD, interpolation=cv2.INTER_LINEAR)
                u = k / (SECONDS * FPS)
                boxes = []
                for i, crop in enumerate(crops):
                    ch, cw = crop.shape[:2]
                    x = int((u if i == 0 else 1 - u) * (HD[0] - cw))
                    y = int(HD[1] * (0.15 + 0.45 * i))
                    img[y:y + ch, x:x + cw] = crop
                    boxes.append((x, y, x + cw, y + ch))
                truth.append(boxes)
                yield img

    write_clip(dst, frames(), fps=FPS)
    return dst, truth


def redaction(tmp: Path) -> dict[str, object]:
    from clearwatch.faces import FaceEngine
    from clearwatch.governance.redaction import redact_video

    clip, truth = hd_faces_clip(tmp / "hd-faces.mp4")
    out = tmp / "hd-redacted.mp4"
    cpu0, wall0 = time.process_time(), time.monotonic()
    stats = redact_video(clip, out, {"faces", "people", "plates"})
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    detector = FaceEngine().detector
    missed = 0
    found_before = 0
    for src, boxes in ((clip, None), (out, truth)):
        with av.open(str(src)) as c:
            for k, fr in enumerate(c.decode(video=0)):
                faces = [f.xyxy() for f in detector.detect(fr.to_ndarray(format="bgr24"), max(HD))]
                if boxes is None:
                    found_before += sum(1 for b in truth[k] if any(_over(f, b) for f in faces))
                else:
                    missed += sum(1 for b in boxes[k] if any(_over(f, b) for f in faces))
    face_frames = sum(len(b) for b in truth)
    return {"resolution": f"{HD[0]}x{HD[1]}", "video_seconds": SECONDS, "frames": stats.frames,
            "wall_seconds": round(wall, 2), "video_seconds_per_second": round(SECONDS / wall, 3),
            "cpu_per_video_second": round(cpu / SECONDS, 3), "face_frames": face_frames,
            "faces_found_in_original": found_before, "faces_missed": missed,
            "missed_per_1000_face_frames": round(1000 * missed / face_frames, 2)}


def _over(face: list[float], box: tuple[int, int, int, int]) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def transparency(tmp: Path, n_events: int, n_audit: int) -> dict[str, object]:
    from sqlalchemy import text

    from clearwatch.config import parse_config
    from clearwatch.governance.audit import GENESIS, canonical, chain_hash
    from clearwatch.governance.transparency import transparency_report
    from clearwatch.storage import Database

    cfg = parse_config(f"data_dir: {tmp / 'data'}\ncameras:\n" + "".join(
        f"  cam{i}: {{url: rtsp://camera.invalid/{i}}}\n" for i in range(8)))
    db = Database(cfg.database_url)
    db.migrate()
    now = datetime.now(UTC)
    t0 = time.monotonic()
    kinds = ["object", "object", "object", "loitering", "plate", "machine"]
    with db.engine.begin() as conn:
        batch = []
        for i in range(n_events):
            start = now - timedelta(seconds=i * 0.5)
            batch.append({"id": uuid.uuid4().hex, "camera": f"cam{i % 8}", "kind": kinds[i % len(kinds)],
                          "label": "person", "start": start, "end": start + timedelta(seconds=4), "score": 0.8,
                          "zones": "[]", "crossings": "[]", "path": "[]", "data": "{}", "updated_at": now})
            if len(batch) == 50_000:
                _insert_events(conn, batch)
                batch = []
        if batch:
            _insert_events(conn, batch)
        prev, rows = GENESIS, []
        actions = ["footage.live", "footage.playback", "footage.export", "biometric.search", "auth.login"]
        for i in range(1, n_audit + 1):
            ts = (now - timedelta(seconds=(n_audit - i) * 0.5)).isoformat(timespec="microseconds").replace(
                "+00:00", "Z")
            a = actions[i % len(actions)]
            h = chain_hash(prev, canonical(i, ts, "oscar", "operator", a, "cam1", "{}", None, None))
            rows.append({"id": i, "ts": ts, "actor": "oscar", "role": "operator", "action": a, "target": "cam1",
                         "detail": "{}", "justification": None, "address": None, "prev_hash": prev, "hash": h})
            prev = h
            if len(rows) == 50_000:
                conn.execute(text("INSERT INTO audit_log VALUES (:id, :ts, :actor, :role, :action, :target, "
                                  ":detail, :justification, :address, :prev_hash, :hash)"), rows)
                rows = []
        if rows:
            conn.execute(text("INSERT INTO audit_log VALUES (:id, :ts, :actor, :role, :action, :target, :detail, "
                              ":justification, :address, :prev_hash, :hash)"), rows)
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('audit_head', :v)"), {"v": f"{n_audit}:{prev}"})
    build = time.monotonic() - t0
    t1 = time.monotonic()
    report = transparency_report(cfg, db, since=now - timedelta(days=30))
    seconds = time.monotonic() - t1
    assert report["audit"]["ok"], report["audit"]["problems"]
    return {"events": n_events, "audit_records": n_audit, "build_seconds": round(build, 1),
            "report_seconds": round(seconds, 2), "audit_verified": report["audit"]["ok"],
            "target_met": seconds <= 5.0}


def _insert_events(conn: object, batch: list[dict[str, object]]) -> None:
    from sqlalchemy import insert

    from clearwatch.storage.models import EventRecord

    rows = [{**b, "zones": [], "crossings": [], "path": [], "data": {}} for b in batch]
    conn.execute(insert(EventRecord), rows)  # type: ignore[attr-defined]


def signing(tmp: Path, gb: float) -> dict[str, object]:
    from clearwatch.governance.manifest import verify_export, write_manifest
    from clearwatch.governance.signing import create_signing_key

    signer = create_signing_key(tmp / "sign.key")
    big = tmp / "big.mp4"
    chunk = os.urandom(16 << 20)
    with big.open("wb") as f:
        for _ in range(int(gb * 1024 / 16)):
            f.write(chunk)
    t0 = time.monotonic()
    now = datetime.now(UTC)
    write_manifest(big, signer, camera="cam", start=now, end=now, exported_by="bench", why="benchmark", site="s")
    sign = time.monotonic() - t0
    t1 = time.monotonic()
    check = verify_export(big, trusted={signer.key_id})
    verify = time.monotonic() - t1
    assert check.ok, check.problems
    return {"gigabytes": gb, "sign_seconds": round(sign, 2), "verify_seconds": round(verify, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--export-gb", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accountability.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        red = redaction(Path(tmp))
        t = Table("resolution", "video s", "video s per s", "CPU-s per video-s", "face-frames", "missed",
                  "missed per 1,000", title="Redacted export (faces, people, plates)")
        t.add_row(str(red["resolution"]), str(red["video_seconds"]), str(red["video_seconds_per_second"]),
                  str(red["cpu_per_video_second"]), str(red["face_frames"]), str(red["faces_missed"]),
                  str(red["missed_per_1000_face_frames"]))
        console.print(t)
        sig = signing(Path(tmp), args.export_gb)
        t = Table("GB", "sign s", "verify s", title="Signed export manifest")
        t.add_row(str(sig["gigabytes"]), str(sig["sign_seconds"]), str(sig["verify_seconds"]))
        console.print(t)
        rep = transparency(Path(tmp), args.events, args.audit)
        t = Table("events", "audit records", "report s", "≤ 5 s", title="Transparency report (SQLite)")
        t.add_row(str(rep["events"]), str(rep["audit_records"]), str(rep["report_seconds"]), str(rep["target_met"]))
        console.print(t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                                    "redaction": red, "signing": sig, "transparency": rep}, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
