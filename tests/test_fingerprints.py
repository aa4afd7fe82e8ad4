"""Fingerprints: FVC2002 accuracy guarded against regression, ISO 19794-2 exchange, bad input, the registry."""

from __future__ import annotations

import io
import itertools
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from clearwatch.fingerprints import (
    FingerprintImageError,
    Gallery,
    Template,
    TemplateError,
    extract,
    load_fingerprint,
    prepare,
    score,
)
from clearwatch.identity import Cipher, FaceRegistry, Photo
from clearwatch.identity.fingers import FingerError, FingerRegistry
from clearwatch.storage import Database
from clearwatch.storage.models import FingerTemplate
from tests.conftest import SHARED

FVC = SHARED / "data/fingerprints/fvc2002"
BASELINE = json.loads((Path(__file__).parent / "data/fingerprint_baseline.json").read_text())
DPI = {"DB1_B": 500.0, "DB2_B": 569.0, "DB3_B": 500.0, "DB4_B": 500.0}
pytestmark = pytest.mark.skipif(not FVC.is_dir(), reason=f"FVC2002 images missing: {FVC}")


def _eer(gen: np.ndarray, imp: np.ndarray) -> float:
    ts = np.unique(np.concatenate([gen, imp]))
    frr = np.array([(gen < t).mean() for t in ts])
    far = np.array([(imp >= t).mean() for t in ts])
    k = int(np.argmin(np.abs(frr - far)))
    return float((frr[k] + far[k]) / 2)


def _fnmr_at(gen: np.ndarray, imp: np.ndarray, fmr: float) -> float:
    ordered = np.sort(imp)[::-1]
    return float((gen < ordered[int(len(imp) * fmr)] + 1e-9).mean())


@pytest.mark.slow
@pytest.mark.parametrize("db", list(DPI))
def test_fvc_accuracy_does_not_regress(db: str) -> None:
    keys = [(f, i) for f in range(101, 111) for i in range(1, 9)]
    T = [prepare(extract(load_fingerprint(FVC / db / f"{f}_{i}.tif")[0], DPI[db])) for f, i in keys]  # type: ignore[arg-type]
    gallery = Gallery(T)
    S = np.array([gallery.scores(p, np.arange(len(T))) for p in T])  # the 1:N path, every pair
    finger = np.array([f for f, _ in keys])
    same = (finger[:, None] == finger[None, :]) & np.triu(np.ones_like(S, bool), 1)
    gen, imp = S[same], S[np.triu(finger[:, None] != finger[None, :])]
    assert len(gen) == 280 and len(imp) == 2880
    eer = _eer(gen, imp)
    assert eer <= BASELINE[db]["eer_all"] + 0.02, (eer, BASELINE[db])
    assert _fnmr_at(gen, imp, 0.01) <= BASELINE[db]["fmr100"] + 0.04, BASELINE[db]
    # genuine pairs outscore the typical impostor pair for the large majority
    assert (gen > np.median(imp)).mean() >= 0.9


def test_one_to_one_and_one_to_n_agree_and_search_finds_the_exhaustive_best() -> None:
    T = [prepare(_iso(db, f, i)) for db in DPI for f in range(101, 111) for i in (1, 2, 3)]
    gallery = Gallery(T)
    everyone = np.arange(len(T))
    for probe in T[::17]:
        full = gallery.scores(probe, everyone)
        assert np.allclose(full, [score(probe, c) for c in T], atol=1e-6)
        # a cheaper prefilter never scores above the full comparison (it tries a subset of its roots)
        assert (gallery.scores(probe, everyone, 2) <= full + 1e-6).all()
        idx, top = gallery.search(probe, k=5, workers=2)
        assert list(top) == sorted(top, reverse=True)
        assert top[0] == pytest.approx(full.max())
        assert np.allclose(full[idx], top)
    assert len(gallery.search(T[0], k=3)[0]) == 3
    assert len(Gallery([]).search(T[0])[0]) == 0
    # big enough to be split over threads: the same answer as one thread
    big = Gallery([prepare(_iso(db, f, i)) for db in DPI for f in range(101, 111) for i in range(1, 9)])
    for workers in (2, 3):
        a, b = big.search(T[5], k=8, workers=workers), big.search(T[5], k=8, workers=1)
        assert np.array_equal(a[0], b[0]) and np.allclose(a[1], b[1])
    with pytest.raises(IndexError):
        big.scores(T[0], np.array([len(big)]))
    with pytest.raises(ValueError, match="at least 1"):
        big.scores(T[0], np.array([0]), roots=0)


def _iso(db: str, f: int, i: int) -> Template:
    return Template.from_iso((FVC / db / f"{f}_{i}.iso").read_bytes())


def test_third_party_iso_templates_import_and_match() -> None:
    n = 0
    for path in sorted(FVC.glob("DB*_B/*.iso")):
        Template.from_iso(path.read_bytes())
        n += 1
    assert n == 320
    T = {(f, i): prepare(_iso("DB1_B", f, i)) for f in range(101, 111) for i in range(1, 9)}
    gen = np.array([score(T[(f, 1)], T[(f, j)]) for f in range(101, 111) for j in range(2, 9)])
    imp = np.array([score(T[(f, 1)], T[(g, 1)]) for f, g in itertools.permutations(range(101, 111), 2)])
    auc = float((gen[:, None] > imp[None, :]).mean())
    assert auc >= 0.97, auc


def test_our_iso_export_reimports_and_matches_itself(tmp_path: Path) -> None:
    img, dpi = load_fingerprint(FVC / "DB1_B/102_3.tif")
    t = extract(img, dpi)
    assert isinstance(t, Template) and len(t) >= 15
    back = Template.from_iso(t.to_iso(finger=2))
    assert len(back) == len(t)
    order = np.lexsort((t.y, t.x)), np.lexsort((back.y, back.x))
    assert np.abs(t.x[order[0]] - back.x[order[1]]).max() <= 0.5
    same = score(prepare(t), prepare(back))
    other = score(prepare(t), prepare(extract(*load_fingerprint(FVC / "DB1_B/105_3.tif"))))  # type: ignore[arg-type]
    assert same > 0.5 and same > 3 * other
    native = Template.from_bytes(t.to_bytes())
    assert np.allclose(native.angle, t.angle, atol=1e-3) and np.allclose(native.x, t.x, atol=0.25)


def _wsq(grey: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "WSQ")
    return buf.getvalue()


def test_wsq_round_trip_keeps_the_minutiae() -> None:
    grey, _ = load_fingerprint(FVC / "DB1_B/103_1.tif")
    back, dpi = load_fingerprint(_wsq(grey), "103_1.wsq")
    assert back.shape == grey.shape and dpi == 500.0
    assert np.abs(back.astype(int) - grey.astype(int)).mean() < 8  # lossy, but close
    a, b = prepare(extract(grey)), prepare(extract(back))  # type: ignore[arg-type]
    assert score(a, b) > 0.5


def _liar_wsq() -> bytes:
    grey, _ = load_fingerprint(FVC / "DB1_B/101_1.tif")
    data = bytearray(_wsq(grey))
    sof = data.find(b"\xff\xa2")
    data[sof + 6:sof + 10] = struct.pack(">HH", 20000, 20000)  # the frame header claims 20000 x 20000
    return bytes(data)


@pytest.mark.parametrize(("data", "message"), [
    (cv2.imencode(".png", np.full((300, 300), 200, np.uint8))[1].tobytes(), "blank"),
    (cv2.imencode(".png", np.full((20, 20), 100, np.uint8))[1].tobytes(), "not a plausible fingerprint image"),
    (b"GIF89a this is no fingerprint" * 10, "not an image"),
    ((FVC / "DB1_B/101_2.tif").read_bytes()[:4000], "truncated or damaged"),
    (_liar_wsq(), "too large"),
])
def test_bad_images_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(FingerprintImageError, match=message):
        load_fingerprint(data, "probe")


def test_bad_templates_are_refused() -> None:
    good = _iso("DB1_B", 101, 1).to_iso()
    with pytest.raises(TemplateError, match="says it is"):
        Template.from_iso(good[:-7])
    bad = bytearray(good)
    bad[28:30] = struct.pack(">H", (1 << 14) | 5000)  # first minutia: x = 5000 in a 300 px wide image
    with pytest.raises(TemplateError, match="outside the 300x400 image"):
        Template.from_iso(bytes(bad))
    with pytest.raises(TemplateError, match="not a fingerprint template"):
        Template.from_bytes(b"PK\x03\x04 a zip file")
    native = Template.empty(300, 300).to_bytes()
    with pytest.raises(TemplateError, match="does not match"):
        Template.from_bytes(native + b"\x00" * 8)


@pytest.fixture
def registries(tmp_path: Path) -> tuple[FaceRegistry, FingerRegistry, Path]:
    db_file = tmp_path / "cw.db"
    db = Database(f"sqlite:///{db_file}")
    db.migrate()
    cipher = Cipher(os.urandom(32))
    faces = FaceRegistry(db, cipher)
    faces.start()
    fingers = FingerRegistry(db, cipher)
    fingers.start()
    return faces, fingers, db_file


def _count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(FingerTemplate)) or 0)


def test_registry_enrol_verify_identify_and_erase(registries: tuple[FaceRegistry, FingerRegistry, Path]) -> None:
    faces, fingers, db_file = registries
    photos = SHARED / "data/faces/photos"
    people = {}
    for n, f in enumerate(range(101, 106)):
        person = faces.enrol(f"P{f}", [Photo("img1.jpg" if n == 0 else f"img{n + 2}.jpg",
                                             (photos / ("img1.jpg" if n == 0 else f"img{n + 2}.jpg")).read_bytes())],
                             legal_basis="access control", enrolled_by="op")
        people[f] = person.id
        fingers.enrol(person.id, 2, _iso("DB1_B", f, 1), f"{f}_1.iso")
    probe = _iso("DB1_B", 103, 4)
    assert fingers.verify(people[103], probe) > fingers.verify(people[104], probe)
    assert fingers.identify(probe, k=3)[0].person_id == people[103]
    # the same data after a restart, from the encrypted rows
    again = FingerRegistry(faces.db, faces.cipher)
    again.start()
    assert again.identify(probe, k=1)[0].person_id == people[103]
    raw = db_file.read_bytes() + (db_file.with_name(db_file.name + "-wal").read_bytes()
                                  if db_file.with_name(db_file.name + "-wal").exists() else b"")
    assert _iso("DB1_B", 103, 1).to_bytes()[15:47] not in raw, "templates are encrypted at rest"
    # bad enrolments store nothing
    before = _count(faces.db)
    with pytest.raises(FingerError, match="not 1-10"):
        fingers.enrol(people[101], 11, probe, "x")
    with pytest.raises(FingerError, match="too few"):
        fingers.enrol(people[101], 3, extract(np.random.default_rng(0).integers(0, 255, (300, 300))
                                              .astype(np.uint8)), "noise.png")  # type: ignore[arg-type]
    with pytest.raises(FingerError, match="no enrolled person"):
        fingers.enrol("nobody", 1, probe, "x")
    assert _count(faces.db) == before
    # erasing the person erases their fingerprints
    faces.delete(people[103])
    fingers.forget_person(people[103])
    assert _count(faces.db) == before - 1
    assert all(c.person_id != people[103] for c in fingers.identify(probe, k=5))



def test_a_running_registry_sees_what_another_process_changed(
        registries: tuple[FaceRegistry, FingerRegistry, Path]) -> None:
    """The console's registry and the CLI's are different processes over one database: an erasure by the other,
    even one followed by an enrolment that SQLite gives the erased row's id, is seen at the next search."""
    faces, console, _ = registries
    photos = SHARED / "data/faces/photos"
    a, b = (faces.enrol(name, [Photo(f, (photos / f).read_bytes())], legal_basis="access", enrolled_by="op")
            for name, f in (("A", "img3.jpg"), ("B", "img8.jpg")))
    console.enrol(a.id, 2, _iso("DB1_B", 101, 1), "101_1.iso")
    probe = _iso("DB1_B", 101, 3)
    assert console.identify(probe, k=1)[0].person_id == a.id
    cli = FingerRegistry(faces.db, faces.cipher)
    cli.start()
    cli.forget_person(a.id)  # the erasure, elsewhere
    cli.enrol(b.id, 2, _iso("DB1_B", 102, 1), "102_1.iso")  # the same row id again (SQLite reuses the highest)
    found = console.identify(probe, k=5)
    assert all(c.person_id != a.id for c in found) and [c.person_id for c in found] == [b.id]


def test_cli_compare_extract_show(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    probe = FVC / "DB1_B/104_1.tif"
    gallery = [FVC / "DB1_B/104_2.tif", FVC / "DB1_B/106_2.tif", FVC / "DB1_B/104_3.iso"]
    data = str(tmp_path / "data")
    r = subprocess.run([sys.executable, "-m", "clearwatch", "fingers", "compare", str(probe), *map(str, gallery),
                        "--json", "--data", data], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["gallery"] for o in out] == [str(g) for g in gallery]
    assert out[0]["score"] > out[1]["score"]
    r = subprocess.run([sys.executable, "-m", "clearwatch", "audit", "list", "--data", data, "--json"],
                       capture_output=True, text=True, env=env, timeout=120)
    (record,) = [a for a in json.loads(r.stdout) if a["action"] == "biometric.compare"]
    assert record["target"] == probe.name and json.loads(record["detail"])["modality"] == "finger"
    iso = tmp_path / "104_1.iso"
    r = subprocess.run([sys.executable, "-m", "clearwatch", "fingers", "extract", str(probe), "--iso", str(iso)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and len(Template.from_iso(iso.read_bytes())) >= 10
    png = tmp_path / "show.png"
    r = subprocess.run([sys.executable, "-m", "clearwatch", "fingers", "show", str(probe), str(png)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and cv2.imread(str(png)) is not None
    bad = tmp_path / "bad.iso"
    bad.write_bytes(b"FMR\x00 20\x00" + b"\x00" * 10)
    r = subprocess.run([sys.executable, "-m", "clearwatch", "fingers", "compare", str(probe), str(bad), "--json",
                        "--data", data], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "truncated" in json.loads(r.stdout)[0]["error"]


def test_cli_enrol_verify_identify(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CLEARWATCH_KEY": key, "COLUMNS": "200"}
        return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=300)

    key = ""
    assert cli("keys", "create", "k.key").returncode == 0
    key = (tmp_path / "k.key").read_text().strip()
    photos = SHARED / "data/faces/photos"
    ids = {}
    for name, photo, finger in (("Ada", "img1.jpg", 104), ("Bo", "img3.jpg", 106)):
        r = cli("people", "enrol", name, str(photos / photo), "--basis", "site access", "--json")
        assert r.returncode == 0, r.stderr
        ids[name] = json.loads(r.stdout)["id"]
        r = cli("fingers", "enrol", ids[name], "2", str(FVC / f"DB1_B/{finger}_1.tif"), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["minutiae"] >= 10
    r = cli("fingers", "verify", ids["Ada"], str(FVC / "DB1_B/104_5.tif"), "--json")
    assert r.returncode == 0, r.stderr
    same = json.loads(r.stdout)
    r = cli("fingers", "verify", ids["Bo"], str(FVC / "DB1_B/104_5.tif"), "--json")
    other = json.loads(r.stdout)
    assert same["match"] and not other["match"]
    assert same["fmr"] < other["fmr"] and same["fmr"] <= 1e-3
    r = cli("fingers", "identify", str(FVC / "DB1_B/104_6.tif"), "--json")
    assert r.returncode == 0, r.stderr
    cands = json.loads(r.stdout)["candidates"]
    assert cands[0]["person_id"] == ids["Ada"] and cands[0]["match"]
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    r = cli("audit", "list", "--json")
    assert r.returncode == 0, r.stderr
    actions = [e["action"] for e in json.loads(r.stdout)]
    assert {"biometric.finger_enrol", "biometric.finger_verify", "biometric.finger_identify"} <= set(actions)


def test_matcher_works_where_numba_cannot_cache() -> None:
    # a read-only install without a writable home: numba refuses cache=True, the matcher compiles uncached
    code = ("import numba.core.caching as c; c.CacheImpl._locator_classes = []\n"
            "from clearwatch.fingerprints import Template, matcher\n"
            "assert type(matcher._score._cache).__name__ == 'NullCache'\n"
            "a, b = (matcher.prepare(Template.from_iso(open(p, 'rb').read())) for p in __import__('sys').argv[1:])\n"
            "print(matcher.score(a, b))")
    r = subprocess.run([sys.executable, "-c", code, str(FVC / "DB1_B/101_1.iso"), str(FVC / "DB1_B/101_2.iso")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout) == pytest.approx(score(prepare(_iso("DB1_B", 101, 1)), prepare(_iso("DB1_B", 101, 2))))
