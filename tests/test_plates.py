"""Licence plates: the shared photos read exactly, a generated road clip read once per vehicle with its
direction, plate lists with alerts over MQTT, audited search, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clearwatch.analytics.offline import CollectingSink, analyze_file
from clearwatch.config import parse_config
from clearwatch.plates.reader import PlateReader
from clearwatch.plates.watch import PlateWatcher
from tests.support.helpers import subscribe_all
from tests.support.road_clip import PASSES, road_clip

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
PLATES = SHARED / "data/plates"
EXPECTED = {"car_ab123cd.jpg": "AB123CD", "plate_ad799kb.png": "AD799KB", "plate_krw301.png": "KRW301"}


def cli(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300, input=stdin)


@pytest.fixture(scope="module")
def plates_dir() -> Path:
    if not PLATES.is_dir():
        pytest.skip(f"shared plate photos missing: {PLATES} (set CLEARWATCH_SHARED)")
    return PLATES


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture(scope="module")
def clip(plates_dir: Path) -> Path:
    return road_clip(ROOT / ".cache" / "test-media" / "road-plates.mp4", plates_dir)


def road_config(data: Path, clip: Path, extra: str = "") -> str:
    return (f"data_dir: {data}\n"
            "detect: {fps: 5, width: 1280}\n"
            f"plates: {{enabled: true}}\n{extra}"
            "cameras:\n"
            "  road:\n"
            f"    url: {clip}\n"
            "    lines: {gate: {points: [[0.5, 0.0], [0.5, 1.0]]}}\n"
            "    plates: {line: gate}\n")


def test_shared_photos_read_exactly_and_the_dealer_plate_is_no_registration(plates_dir: Path) -> None:
    files = sorted(plates_dir.iterdir())
    r = cli("plates", "read", *map(str, files), "--json")
    assert r.returncode == 0, r.stderr
    got = {Path(row["file"]).name: row["plates"] for row in json.loads(r.stdout)}
    for name, text in EXPECTED.items():
        assert [p["text"] for p in got[name]] == [text], (name, got[name])
        p = got[name][0]
        assert p["format"] == "AR" and 0.5 < p["confidence"] <= 1 and len(p["box"]) == 4
    assert got["car_vanity_plate.webp"] == []  # "Passat CC" is a badge, not a registration


def test_a_plate_in_a_car_photo_is_found_where_it_is(reader: PlateReader, plates_dir: Path) -> None:
    from clearwatch.faces.images import load_image

    (plate,) = reader.read(load_image(plates_dir / "car_ab123cd.jpg"))
    x1, y1, x2, y2 = plate.box
    assert 250 <= x1 < x2 <= 410 and 185 <= y1 < y2 <= 250  # on the bumper, not the "TITANIUM" badge


def test_every_vehicle_on_the_road_clip_is_read_once_with_its_direction(clip: Path, tmp_path: Path,
                                                                        detector: object) -> None:
    cfg = parse_config(road_config(tmp_path / "data", clip))
    cam = cfg.cameras["road"]
    watcher = PlateWatcher(cam.plates, PlateReader(cam.plates.format_specs()), lost_after=cam.objects.lost_after)
    sink = CollectingSink(snapshots_dir=tmp_path / "snaps")
    result = analyze_file(clip, cam, detector, sink, plates=watcher)  # type: ignore[arg-type]
    assert result.error is None
    reads = [e for e in sink.ended if e.kind == "plate"]
    passes = {}  # the last MN321PQ pass is the same car again within the repeat window
    for p in PASSES:
        passes.setdefault(p.plate, p)
    assert sorted(e.label for e in reads) == sorted(passes), [e.label for e in reads]
    for ev in reads:
        want = passes[ev.label]
        assert want.enter - 0.5 <= ev.start and ev.end is not None and ev.end <= want.leave + 0.5
        assert ev.data["direction"] == ("out" if want.leftwards else "in"), ev.label
        assert ev.data["verified"] and ev.data["vehicle"] == "car" and len(ev.data["chars"]) == len(ev.label)
        assert (tmp_path / "snaps" / ev.data["plate_snapshot"]).stat().st_size > 500
        assert ev.snapshot is not None and (tmp_path / "snaps" / ev.snapshot).is_file()


def test_a_dedicated_entrance_camera_reads_plates_without_the_vehicle_detector(clip: Path, tmp_path: Path) -> None:
    cfg = parse_config(road_config(tmp_path / "data", clip).replace("plates: {line: gate}",
                                                                     "plates: {line: gate, dedicated: true}"))
    cam = cfg.cameras["road"]
    assert not cam.detects_objects
    watcher = PlateWatcher(cam.plates, PlateReader(cam.plates.format_specs()), lost_after=cam.objects.lost_after)
    sink = CollectingSink()
    analyze_file(clip, cam, None, sink, plates=watcher)
    reads = {e.label: e for e in sink.ended if e.kind == "plate"}
    want = {p.plate: p for p in PASSES}
    assert set(reads) == set(want), list(reads)
    for text, ev in reads.items():
        assert ev.data["direction"] == ("out" if want[text].leftwards else "in"), text
        assert ev.data["vehicle"] == "vehicle" and ev.track_id is None
    assert not any(e.kind == "object" for e in sink.ended)


def test_analyze_emits_plate_events(clip: Path, tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(road_config(tmp_path / "data", clip))
    r = cli("analyze", str(clip), "--config", "site.yaml", "--camera", "road", "--json", "--no-snapshots",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plates = [e for e in map(json.loads, r.stdout.splitlines()) if e["kind"] == "plate"]
    assert {e["plate"] for e in plates} == {p.plate for p in PASSES}
    assert all(e["label"] == e["plate"] for e in plates)


def test_lists_raise_alerts_over_mqtt_exact_fuzzy_and_visitors_expire(clip: Path, tmp_path: Path,
                                                                     detector: object) -> None:
    from clearwatch.events import EventService
    from clearwatch.storage import Database
    from clearwatch.storage.plate_lists import CachedEntries, PlateListStore

    prefix = f"cw-plates-{uuid.uuid4().hex[:8]}"
    sub = subscribe_all(prefix)
    got = sub.got
    cfg = parse_config(road_config(tmp_path / "data", clip, f"mqtt: {{enabled: true, topic_prefix: {prefix}}}\n"))
    db = Database(cfg.database_url)
    db.migrate()
    lists = PlateListStore(db)
    lists.create("stolen", "deny", "test")
    lists.add("stolen", "GH789JK", "test")  # exact
    lists.create("staff", "allow", "test")
    lists.add("staff", "AC456DE", "test")  # one character off what the camera reads: fuzzy match
    lists.create("guests", "visitor", "test")
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
    lists.add("guests", "KRW301", "test", valid_until=datetime.fromtimestamp(start, UTC) - timedelta(days=1))
    lists.add("guests", "AD799KB", "test", valid_from=datetime.fromtimestamp(start, UTC) - timedelta(hours=1),
              valid_until=datetime.fromtimestamp(start, UTC) + timedelta(days=1))
    svc = EventService(cfg, db)
    svc.start()
    try:
        cam = cfg.cameras["road"]
        watcher = PlateWatcher(cam.plates, PlateReader(cam.plates.format_specs()))
        analyze_file(clip, cam, detector, svc, plates=watcher, plate_lists=CachedEntries(lists),  # type: ignore[arg-type]
                     start_wall=start)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(t.endswith("/alerts") for t, _ in got) < 6:
            time.sleep(0.2)
    finally:
        svc.stop()
        sub.close()
    alerts = [json.loads(p) for t, p in got if t == f"{prefix}/alerts"]
    ends = {(a["event"]["data"]["list"], a["event"]["data"]["plate"], a["event"]["data"]["distance"])
            for a in alerts if a["type"] == "end"}
    assert ends == {("stolen", "GH789JK", 0), ("staff", "AC456DF", 1), ("guests", "AD799KB", 0)}  # KRW301 expired
    assert all(a["event"]["kind"] == "alert" and a["event"]["snapshot"] for a in alerts)
    plate_msgs = [json.loads(p) for t, p in got if t == f"{prefix}/plates"]
    assert {m["event"]["label"] for m in plate_msgs} == {p.plate for p in PASSES}


def test_search_is_audited_with_its_reason_and_finds_wildcards_and_near_misses(clip: Path, tmp_path: Path,
                                                                              detector: object) -> None:
    from clearwatch.storage import Database, EventStore

    cfg = parse_config(road_config(tmp_path / "data", clip))
    db = Database(cfg.database_url)
    db.migrate()
    from clearwatch.events import EventService

    svc = EventService(cfg, db, deliver=False)
    cam = cfg.cameras["road"]
    analyze_file(clip, cam, detector, svc, plates=PlateWatcher(cam.plates, PlateReader()),  # type: ignore[arg-type]
                 start_wall=time.time() - 60)
    data = str(cfg.data_dir)
    r = cli("plates", "search", "GH789JK", "--data", data, "--json", "--why", "stolen car report 7")
    assert r.returncode == 0, r.stderr
    assert [row["plate"] for row in json.loads(r.stdout)] == ["GH789JK"]
    r = cli("plates", "search", "AD*", "--data", data, "--json", "--why", "stolen car report 7")
    assert [row["plate"] for row in json.loads(r.stdout)] == ["AD799KB"]
    r = cli("plates", "search", "KRW3O1", "--fuzzy", "1", "--data", data, "--json", "--why", "witness: KRW3O1?")
    rows = json.loads(r.stdout)
    assert [(row["plate"], row["distance"]) for row in rows] == [("KRW301", 1)]
    assert EventStore(db).plates("KRW3O1") == []  # not without --fuzzy
    r = cli("plates", "search", "GH789JK", "--data", data, "--why", "x")
    assert r.returncode == 1 and "justification" in r.stderr
    r = cli("audit", "list", "--data", data, "--json")
    searches = [a for a in json.loads(r.stdout) if a["action"] == "plate.search"]
    assert len(searches) == 3 and {a["justification"] for a in searches} == {"stolen car report 7", "witness: KRW3O1?"}
    assert cli("audit", "verify", "--data", data).returncode == 0


def test_lists_from_the_cli(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert cli("plates", "lists", "create", "staff", "--kind", "allow", "--data", data).returncode == 0
    r = cli("plates", "lists", "create", "staff", "--kind", "allow", "--data", data)
    assert r.returncode == 1 and "exists already" in r.stderr
    assert cli("plates", "lists", "create", "x", "--kind", "maybe", "--data", data).returncode == 1
    assert cli("plates", "lists", "add", "staff", "ab-123 cd", "--until", "2030-01-01", "--data", data).returncode == 0
    r = cli("plates", "lists", "add", "staff", "A!", "--data", data)
    assert r.returncode == 1 and "is not a plate" in r.stderr
    r = cli("plates", "lists", "show", "staff", "--data", data, "--json")
    assert [e["plate"] for e in json.loads(r.stdout)] == ["AB123CD"]
    assert cli("plates", "lists", "remove", "staff", "AB123CD", "--data", data).returncode == 0
    r = cli("plates", "lists", "show", "--data", data, "--json")
    assert json.loads(r.stdout) == [{"name": "staff", "kind": "allow", "description": "", "plates": 0}]


def test_bad_input_gets_clear_errors(tmp_path: Path, plates_dir: Path) -> None:
    from PIL import Image

    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.new("RGB", (1, 1)).save(tmp_path / "tiny.png")
    Image.new("RGB", (320, 240), (120, 130, 140)).save(tmp_path / "empty.png")
    r = cli("plates", "read", str(tmp_path / "corrupt.jpg"), str(tmp_path / "tiny.png"), str(tmp_path / "empty.png"),
            str(plates_dir / "plate_krw301.png"), "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    rows = {Path(x["file"]).name: x for x in json.loads(r.stdout)}
    assert "cannot decode" in rows["corrupt.jpg"]["error"] and "too small" in rows["tiny.png"]["error"]
    assert rows["empty.png"]["plates"] == [] and "error" not in rows["empty.png"]
    assert [p["text"] for p in rows["plate_krw301.png"]["plates"]] == ["KRW301"]
    r = cli("plates", "read", str(plates_dir / "plate_krw301.png"), "--format", "[A-Z")
    assert r.returncode == 1 and "does not compile" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("plates:\n  formats: [AR, {name: mine, regex: '[0-9'}]\n")
    r = cli("config", "check", str(bad))
    assert r.returncode == 2 and "plates.formats" in r.stderr and "does not compile" in r.stderr


def test_a_gate_webhook_fires_only_for_its_list(tmp_path: Path) -> None:
    from clearwatch.events import EventService
    from clearwatch.events.model import Event, EventUpdate
    from clearwatch.storage import Database

    cfg = parse_config(f"data_dir: {tmp_path}\nwebhooks:\n"
                       "  gate: {url: 'http://127.0.0.1:9/open', kinds: [alert], lists: [residents]}\n"
                       "  all: {url: 'http://127.0.0.1:9/all'}\n")
    db = Database(cfg.database_url)
    db.migrate()
    svc = EventService(cfg, db, deliver=False)

    def targets(ev: Event) -> set[str]:
        return {m.target for m in svc._messages(EventUpdate("start", ev), ev.as_dict())}

    resident = Event("road", "alert", "residents", 1.0, data={"list": "residents", "plate": "AB123CD"})
    stolen = Event("road", "alert", "stolen", 1.0, data={"list": "stolen", "plate": "GH789JK"})
    assert targets(resident) == {"webhook:gate", "webhook:all"}
    assert targets(stolen) == {"webhook:all"}
    assert targets(Event("road", "plate", "AB123CD", 1.0)) == {"webhook:all"}


def test_a_missing_or_wrong_ocr_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clearwatch.analytics.detectors.models import ModelError
    from clearwatch.plates import models

    (tmp_path / "PP-OCRv6_det_small.onnx").write_bytes(b"not the model")
    monkeypatch.setenv("CLEARWATCH_MODELS", str(tmp_path))
    monkeypatch.setattr(models, "_verified", {})
    with pytest.raises(ModelError, match=r"has SHA-256 \w+, expected 090f04ab"):
        models.ocr_model("det")
    monkeypatch.setattr(models, "OCR_MODELS", {"det": models.OcrModel("no_such_wheel", "models/x.onnx", "0" * 64)})
    with pytest.raises(ModelError, match="install the Python package 'no-such-wheel'"):
        models.ocr_model("det")


def test_fuzzy_search_looks_past_the_newest_reads(tmp_path: Path) -> None:
    """Most plates have the same length: a near miss among thousands of newer reads must still be found."""
    from clearwatch.storage import Database, EventRecord, EventStore

    db = Database(f"sqlite:///{tmp_path / 'cw.db'}")
    db.migrate()
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [EventRecord(id=f"e{i:05d}", camera="road", kind="plate", label=f"ZZ{i:05d}", start=t0 + timedelta(
        seconds=i), score=0.9, data={}, updated_at=t0) for i in range(1, 5001)]
    rows.append(EventRecord(id="old", camera="road", kind="plate", label="KRW301", start=t0, score=0.9, data={},
                            updated_at=t0))
    with db.session() as s:
        s.add_all(rows)
    found = EventStore(db).plates("KRW3O1", fuzzy=1)
    assert [(r.id, d) for r, d in found] == [("old", 1)]
    assert [r.id for r, _ in EventStore(db).plates("ZZ0*", limit=3)] == ["e05000", "e04999", "e04998"]
    db.dispose()
