"""Faces and the identity registry on the shared labelled photos: accuracy, enrolment rules, bad input,
deletion, encryption, recognition on video."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from clearwatch.faces import FaceEngine, ImageError, load_image
from clearwatch.identity import (
    Cipher,
    EncryptionKeyError,
    EnrolmentError,
    FaceIndex,
    FaceRegistry,
    Photo,
    main_face,
    threshold,
)
from clearwatch.media import write_clip
from clearwatch.storage import Database
from clearwatch.storage.models import FaceTemplate, Person
from tests.conftest import SHARED

FACES = SHARED / "data/faces"
PHOTOS = FACES / "photos"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    if not PHOTOS.is_dir():
        pytest.skip(f"shared face photos missing: {PHOTOS}")
    return FaceEngine()


@pytest.fixture(scope="module")
def labels() -> dict[str, str]:
    with (FACES / "labels.csv").open() as f:
        return {r["file"]: r["identity"] for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def embeddings(engine: FaceEngine, labels: dict[str, str]) -> dict[str, np.ndarray]:
    out = {}
    for name in sorted(set(labels) | {r["file_a"] for r in _pairs()} | {r["file_b"] for r in _pairs()}):
        shot = main_face(engine.analyse(load_image(PHOTOS / name)))
        assert shot is not None and shot.embedding is not None, name
        out[name] = shot.embedding
    return out


def _pairs() -> list[dict[str, str]]:
    with (FACES / "pairs.csv").open() as f:
        return list(csv.DictReader(f))


def _rates(sims: list[float], same: list[bool], thr: float) -> tuple[float, float]:
    s, g = np.array(sims), np.array(same)
    return float((s[g] >= thr).mean()), float((s[~g] >= thr).mean())


def test_verification_accuracy_at_far_one_percent(embeddings: dict[str, np.ndarray], labels: dict[str, str]) -> None:
    thr = threshold("1e-2")
    all_pairs = list(combinations(sorted(labels), 2))
    tar, far = _rates([float(embeddings[a] @ embeddings[b]) for a, b in all_pairs],
                      [labels[a] == labels[b] for a, b in all_pairs], thr)
    assert far <= 0.01 and tar >= 0.99, (tar, far, len(all_pairs))
    pairs = _pairs()
    tar, far = _rates([float(embeddings[p["file_a"]] @ embeddings[p["file_b"]]) for p in pairs],
                      [p["same"] == "1" for p in pairs], thr)
    assert far <= 0.01 and tar >= 0.99, (tar, far, len(pairs))


def test_leave_one_out_rank1_identification(embeddings: dict[str, np.ndarray], labels: dict[str, str]) -> None:
    names = sorted(labels)
    index = FaceIndex()
    index.rebuild(np.arange(len(names)), np.array([embeddings[n] for n in names]))
    _, ids = index.search(np.array([embeddings[n] for n in names]), 2)
    correct = 0
    for i, name in enumerate(names):
        best = next(int(j) for j in ids[i] if j != i)  # the probe itself is left out
        correct += labels[names[best]] == labels[name]
    assert len({labels[n] for n in names}) == 13
    assert correct / len(names) >= 0.97, correct


def test_every_face_in_group_photos_is_found(engine: FaceEngine) -> None:
    # hand-counted: the couple; and the selfie's seven (one only half in the picture at the bottom left)
    assert len(engine.analyse(load_image(PHOTOS / "couple.jpg"))) == 2
    assert len(engine.analyse(load_image(PHOTOS / "selfie-many-people.jpg"))) == 7


# registry ---------------------------------------------------------------------------------------------

@pytest.fixture
def registry(tmp_path: Path, engine: FaceEngine) -> Iterator[FaceRegistry]:
    db = Database(f"sqlite:///{tmp_path / 'cw.db'}")
    db.migrate()
    reg = FaceRegistry(db, Cipher(os.urandom(32)), engine)
    reg.start()
    yield reg
    db.dispose()


def photo(name: str) -> Photo:
    return Photo(name, (PHOTOS / name).read_bytes())


def counts(reg: FaceRegistry) -> tuple[int, int]:
    with reg.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Person)) or 0,
                s.scalar(select(func.count()).select_from(FaceTemplate)) or 0)


def test_group_photos_are_refused_unless_a_face_is_chosen(registry: FaceRegistry) -> None:
    for group in ("couple.jpg", "selfie-many-people.jpg"):
        with pytest.raises(EnrolmentError, match="faces found; choose one"):
            registry.enrol("Someone", [photo(group)], legal_basis="consent form 12", enrolled_by="op")
    assert counts(registry) == (0, 0)
    person = registry.enrol("Left of couple", [photo("couple.jpg")], legal_basis="consent form 12",
                            enrolled_by="op", choose=1)
    assert counts(registry) == (1, 1) and person.legal_basis == "consent form 12"


def test_enrolment_needs_legal_basis_and_operator(registry: FaceRegistry) -> None:
    with pytest.raises(EnrolmentError) as err:
        registry.enrol("A", [photo("img1.jpg")], legal_basis=" ", enrolled_by="")
    assert any("legal basis" in p for p in err.value.problems)
    assert any("operator" in p for p in err.value.problems)
    assert counts(registry) == (0, 0)


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _converted(mode: str, fmt: str) -> bytes:
    img = Image.open(PHOTOS / "img4.jpg")
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.new("L", img.size, 255).point(lambda _: 255))
        px = img.load()
        for x in range(20):  # a transparent strip on the edge
            for y in range(img.size[1]):
                px[x, y] = (0, 0, 0, 0)
    else:
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"%PDF-1.4 this is not a picture" * 20, "not an image"),
    ((PHOTOS / "img1.jpg").read_bytes()[:3000], "truncated or damaged"),
    (_png_claiming(1, 1), "too small"),
    (_png_claiming(20000, 20000), "too large"),
    (b"", "empty"),
])
def test_bad_images_are_refused_and_nothing_is_stored(registry: FaceRegistry, data: bytes, message: str) -> None:
    with pytest.raises(EnrolmentError) as err:
        registry.enrol("X", [photo("img1.jpg"), Photo("bad.bin", data)], legal_basis="consent", enrolled_by="op")
    assert any(message in p and "bad.bin" in p for p in err.value.problems), err.value.problems
    assert counts(registry) == (0, 0)
    with pytest.raises(ImageError, match=message):
        load_image(data, "bad.bin")


@pytest.mark.parametrize(("mode", "fmt"), [("CMYK", "JPEG"), ("L", "JPEG"), ("RGBA", "PNG"), ("P", "PNG")])
def test_unusual_colour_modes_are_handled(registry: FaceRegistry, engine: FaceEngine,
                                          embeddings: dict[str, np.ndarray], mode: str, fmt: str) -> None:
    data = _converted(mode, fmt)
    image = load_image(data, f"x.{fmt.lower()}")
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    shot = main_face(engine.analyse(image))
    assert shot is not None and shot.embedding is not None
    # the same face as the original photo, whatever the colour model
    assert float(shot.embedding @ embeddings["img4.jpg"]) > (0.6 if mode != "L" else 0.5)
    registry.enrol("Converted", [Photo(f"x.{fmt.lower()}", data)], legal_basis="consent", enrolled_by="op")
    assert counts(registry) == (1, 1)


def test_delete_removes_templates_from_database_and_live_index(registry: FaceRegistry,
                                                               embeddings: dict[str, np.ndarray]) -> None:
    a = registry.enrol("Alpha", [photo("img1.jpg"), photo("img4.jpg")], legal_basis="consent", enrolled_by="op")
    b = registry.enrol("Beta", [photo("img3.jpg")], legal_basis="consent", enrolled_by="op")
    probe = embeddings["img2.jpg"]  # another photo of Alpha
    assert registry.identify(probe)[0].person_id == a.id
    assert registry.delete(a.id)
    assert all(c.person_id != a.id for c in registry.identify(probe, k=10))
    assert len(registry.index) == 1 and counts(registry) == (1, 1)
    # and after a restart (the index is rebuilt from the database)
    registry.start()
    assert [c.person_id for c in registry.identify(probe, k=10)] == [b.id]


def test_templates_are_encrypted_at_rest(tmp_path: Path, engine: FaceEngine) -> None:
    db_path = tmp_path / "cw.db"
    db = Database(f"sqlite:///{db_path}")
    db.migrate()
    key = os.urandom(32)
    reg = FaceRegistry(db, Cipher(key), engine)
    reg.start()
    shot = main_face(engine.analyse(load_image(PHOTOS / "img1.jpg")))
    assert shot is not None and shot.embedding is not None
    reg.enrol("Alpha", [photo("img1.jpg")], legal_basis="consent", enrolled_by="op")
    db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cw.db*"))  # the WAL too
    template = shot.embedding.astype(np.float32).tobytes()
    assert raw and template not in raw
    # not even a fragment: any 16 consecutive bytes of the template
    assert not any(template[i:i + 16] in raw for i in range(0, len(template) - 16, 4))
    _, crop = cv2.imencode(".jpg", shot.aligned, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert crop.tobytes()[100:140] not in raw

    wrong = FaceRegistry(Database(f"sqlite:///{db_path}"), Cipher(os.urandom(32)), engine)
    with pytest.raises(EncryptionKeyError, match="not the one"):
        wrong.start()


# video ----------------------------------------------------------------------------------------------

def walking_portrait(photo_name: str, dst: Path, seconds: int = 8, fps: int = 10) -> Path:
    """A head-and-shoulders photo sliding across a plain scene, as a camera would see someone pass."""
    img = load_image(PHOTOS / photo_name)
    s = 420 / img.shape[0]
    img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    W, H = 1280, 720
    bg = np.dstack([np.tile((60 + np.arange(W) * 80 // W).astype(np.uint8), (H, 1))] * 3)
    rng = np.random.default_rng(0)

    def frames() -> Iterator[np.ndarray]:
        for i in range(seconds * fps):
            frame = bg.copy()
            x = int(40 + (W - w - 80) * i / (seconds * fps - 1))
            frame[H - h - 20:H - 20, x:x + w] = img
            yield np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)

    return write_clip(dst, frames(), fps=fps)


def cli(*args: str, cwd: Path, key: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLEARWATCH_KEY": key, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_recognition_on_video_names_enrolled_people_only(tmp_path: Path, detector: object) -> None:
    r = cli("keys", "create", "k.key", cwd=tmp_path, key="")
    assert r.returncode == 0, r.stderr
    key = (tmp_path / "k.key").read_text().strip()
    enrol = cli("people", "enrol", "Ada", *(str(PHOTOS / n) for n in ("img1.jpg", "img4.jpg", "img5.jpg")),
                "--basis", "staff access control", "--watchlist", "vip", "--json", cwd=tmp_path, key=key)
    assert enrol.returncode == 0, enrol.stderr
    ada = json.loads(enrol.stdout)["id"]
    known = walking_portrait("img2.jpg", tmp_path / "ada.mp4")  # a photo of Ada not used to enrol her
    stranger = walking_portrait("img3.jpg", tmp_path / "stranger.mp4")

    r = cli("analyze", str(known), "--faces", "--json", "--snapshots", "snaps", cwd=tmp_path, key=key)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    person = next(e for e in events if e["kind"] == "object" and e["label"] == "person")
    assert person["identity"] == ada and person["name"] == "Ada" and person["similarity"] >= threshold("1e-3")
    assert (tmp_path / "snaps" / person["face_snapshot"]).read_bytes()[:2] == b"\xff\xd8"
    alert = next(e for e in events if e["kind"] == "alert")
    assert alert["label"] == "vip" and alert["identity"] == ada

    r = cli("analyze", str(stranger), "--faces", "--json", "--no-snapshots", cwd=tmp_path, key=key)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    person = next(e for e in events if e["kind"] == "object" and e["label"] == "person")
    assert person["identity"] is None and person["similarity"] < threshold("1e-3")
    assert not [e for e in events if e["kind"] == "alert"]
    listed = json.loads(cli("people", "list", "--json", cwd=tmp_path, key=key).stdout)
    assert [p["name"] for p in listed] == ["Ada"], "an unknown face never becomes a person"

    r = cli("faces", "search-video", str(known), "--json", cwd=tmp_path, key=key)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)["appearances"]
    assert [a["name"] for a in found] == ["Ada"]
    assert found[0]["start"] <= 1.0 and found[0]["end"] >= 7.0
    r = cli("faces", "search-video", str(stranger), "--json", cwd=tmp_path, key=key)
    assert json.loads(r.stdout)["appearances"] == []


def test_registry_commands_need_a_key(tmp_path: Path) -> None:
    r = cli("people", "list", cwd=tmp_path, key="")
    assert r.returncode == 1 and "no encryption key" in r.stderr and "Traceback" not in r.stderr
    r = cli("people", "list", cwd=tmp_path, key="c2hvcnQ=")
    assert r.returncode == 1 and "32 bytes" in r.stderr


def test_compare_prints_gallery_similarities_in_order(tmp_path: Path) -> None:
    gallery = [PHOTOS / "img2.jpg", PHOTOS / "img3.jpg", PHOTOS / "img4.jpg"]
    r = cli("faces", "compare", str(PHOTOS / "img1.jpg"), *map(str, gallery), "--json", cwd=tmp_path, key="")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["gallery"] for o in out] == [str(g) for g in gallery]
    sims = [o["similarity"] for o in out]
    assert sims[0] > 0.5 and sims[2] > 0.5 and sims[1] < 0.3  # img2 and img4 are the same person as img1


def test_service_recognises_on_a_live_camera_and_refuses_to_start_without_a_key(
        tmp_path: Path, detector: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from clearwatch.identity import create_key_file
    from clearwatch.service import Service
    from clearwatch.storage import EventStore
    from tests.support.helpers import make_config, wait_for

    clip = walking_portrait("img2.jpg", tmp_path / "ada.mp4")
    monkeypatch.delenv("CLEARWATCH_KEY", raising=False)
    cfg = make_config(tmp_path / "data", {"door": str(clip)}, extra="faces: {enabled: true}")
    with pytest.raises(EncryptionKeyError, match="no encryption key"):
        Service(cfg).start()

    create_key_file(tmp_path / "k.key")
    cfg = make_config(tmp_path / "data", {"door": str(clip)},
                      extra=f"faces: {{enabled: true}}\nidentity: {{key_file: {tmp_path / 'k.key'}}}")
    svc = Service(cfg)
    svc.start()
    try:
        assert svc.registry is not None
        ada = svc.registry.enrol("Ada", [photo("img1.jpg"), photo("img4.jpg")], legal_basis="staff access",
                                 enrolled_by="op")  # enrolled while running: no restart needed
        store = EventStore(svc.db)
        assert wait_for(lambda: bool(store.list(camera="door", identity=ada.id)), 40) is not None
    finally:
        svc.stop()
    ev = store.list(camera="door", identity=ada.id)[0]
    assert ev.identity_name == "Ada" and ev.similarity is not None and ev.similarity >= threshold("1e-3")
    assert ev.face_snapshot and (cfg.data_dir / "snapshots" / ev.face_snapshot).is_file()
