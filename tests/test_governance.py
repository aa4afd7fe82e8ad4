"""Accountability on real SQLite: retention of each kind of data (with evidence holds), audit trimming at a signed
checkpoint (``audit verify`` stays green; tampering after it, deleting the checkpoint, or rewriting the whole
chain are found), and signed documents."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from clearwatch.config import Config
from clearwatch.config.loader import parse_config
from clearwatch.events.model import Event
from clearwatch.governance import Actor, AuditLog
from clearwatch.governance.audit import GENESIS, canonical, chain_hash
from clearwatch.governance.checkpoints import Checkpointer
from clearwatch.governance.retention import DataRetention
from clearwatch.governance.signing import check_document, create_signing_key, installation_signer
from clearwatch.storage import Database, EventStore, HoldStore
from clearwatch.storage.alarms import AlarmStore, Raised
from clearwatch.storage.models import AuditCheckpoint, EventRecord

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ADA = Actor("ada", "admin", "127.0.0.1")


def _setup(tmp_path: Path, extra: str = "") -> tuple[Config, Database]:
    cfg = parse_config(f"""
data_dir: {tmp_path / 'data'}
retention: {{days: 30, unknown_faces: 72h, identity_links: 10d, plates: 7d, plate_hits: 90d, alarms: 60d,
             exports: 7d}}
events: {{retain_days: 20}}
cameras:
  gate: {{url: rtsp://camera.invalid/gate}}
  yard: {{url: rtsp://camera.invalid/yard, events: {{retain_days: 5}}}}
{extra}
""")
    db = Database(cfg.database_url)
    db.migrate()
    return cfg, db


def _event(cfg: Config, camera: str, kind: str, days_ago: float, **kw: object) -> str:
    t = (NOW - timedelta(days=days_ago)).timestamp()
    ev = Event(camera, kind, str(kw.pop("label", kind)), t, end=t + 5, **kw)  # type: ignore[arg-type]
    for rel in (ev.snapshot, ev.face_snapshot, ev.data.get("plate_snapshot")):
        if rel:
            path = cfg.snapshots_dir / str(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\xff\xd8jpeg")
    EventStore(Database(cfg.database_url)).save(ev.as_dict())
    return ev.id


def test_each_kind_of_data_goes_after_its_own_time_unless_held(tmp_path: Path) -> None:
    cfg, db = _setup(tmp_path)
    ids = {
        "gate_old": _event(cfg, "gate", "object", 21, snapshot="gate/a.jpg"),  # events of gate: 20 days
        "gate_new": _event(cfg, "gate", "object", 19),
        "yard_old": _event(cfg, "yard", "object", 6),  # the yard keeps events 5 days
        "yard_held": _event(cfg, "yard", "object", 6.5),
        "face_unknown": _event(cfg, "gate", "object", 4, face_snapshot="gate/u-face.jpg"),
        "face_unknown_new": _event(cfg, "gate", "object", 2, face_snapshot="gate/n-face.jpg"),
        "face_known": _event(cfg, "gate", "object", 11, identity="p1", identity_name="Grace", similarity=0.7,
                             face_snapshot="gate/k-face.jpg"),
        "plate_miss": _event(cfg, "gate", "plate", 8, label="AB123CD", data={"plate": "AB123CD", "lists": [],
                                                                             "plate_snapshot": "gate/p.jpg"}),
        "plate_hit": _event(cfg, "gate", "plate", 15, label="XY987ZW", data={"plate": "XY987ZW",
                                                                             "lists": ["deny"]}),
        "plate_alert": _event(cfg, "gate", "alert", 15, label="deny", data={"plate": "XY987ZW", "list": "deny"}),
        "plate_hit_old": _event(cfg, "gate", "plate", 91, label="XY987ZW", data={"plate": "XY987ZW",
                                                                                 "lists": ["deny"]}),
    }
    yard_day = NOW - timedelta(days=6.5)
    HoldStore(db).add("evidence", "yard", yard_day - timedelta(hours=1), yard_day + timedelta(hours=1),
                      "incident 12", "ada")
    alarms = AlarmStore(db)
    _, old_alarm = alarms.raise_(Raised("r", "tamper", "gate", 1, "old", NOW - timedelta(days=61)), 60)
    alarms.close(old_alarm.id, "ada", "done")
    _, open_alarm = alarms.raise_(Raised("r2", "tamper", "gate", 1, "open", NOW - timedelta(days=61)), 60)
    export = cfg.exports_dir / "x" / "gate.mp4"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"mp4")
    os.utime(export, (NOW.timestamp() - 8 * 86400,) * 2)

    done = DataRetention(cfg, db).run(NOW)

    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(EventRecord))}
    kept = {name for name, i in ids.items() if i in rows}
    assert kept == {"gate_new", "yard_held", "face_unknown", "face_unknown_new", "face_known", "plate_hit",
                    "plate_alert"}, done
    assert not (cfg.snapshots_dir / "gate/a.jpg").exists() and not (cfg.snapshots_dir / "gate/p.jpg").exists()
    assert rows[ids["face_unknown"]].face_snapshot is None and not (cfg.snapshots_dir / "gate/u-face.jpg").exists()
    assert rows[ids["face_unknown_new"]].face_snapshot == "gate/n-face.jpg", "72 h are not over"
    known = rows[ids["face_known"]]
    assert (known.identity, known.identity_name, known.face_snapshot) == (None, None, None), "link older than 10 d"
    assert alarms.get(old_alarm.id) is None and alarms.get(open_alarm.id) is not None, "open alarms stay"
    assert not export.exists()
    assert done["plates"] == 2 and done["alarms"] == 1 and done["exports"] == 1


def _append(log: AuditLog, n: int, what: str = "footage.playback") -> None:
    for i in range(n):
        log.append(ADA, what, "gate", {"i": i})


def test_audit_trim_keeps_verification_and_tampering_after_it_shows(tmp_path: Path) -> None:
    cfg, db = _setup(tmp_path)
    signer = installation_signer(cfg)
    trusted = {signer.key_id}
    log = AuditLog(db)
    cp = Checkpointer(cfg, db, signer)
    _append(log, 40)
    cut_at = datetime.now(UTC)
    _append(log, 20)
    interval = cp.make()
    assert interval is not None and interval["record_id"] == 60 and not check_document(interval, trusted)
    assert cp.make() is None, "nothing new to sign"

    assert cp.trim(cut_at, []) == 40
    v = log.verify(trusted=trusted)
    assert v.ok, v.problems
    assert v.records == 21  # 20 kept + the audit.trim record
    trim_record = log.list(1)[0]
    assert trim_record.action == "audit.trim" and json.loads(trim_record.detail)["records"] == 40

    # a record edited after the cut
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'yard' WHERE id = 45"))
    v = log.verify(trusted=trusted)
    assert not v.ok and any("record 45: content does not match" in p for p in v.problems)
    assert any("record 45 does not match it" in p for p in v.problems) is False  # 60 is the checkpointed one
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'gate' WHERE id = 45"))
    assert log.verify(trusted=trusted).ok

    # the checkpoint at the cut deleted: the missing records are no longer explained
    with db.session() as s:
        doc = s.scalar(select(AuditCheckpoint.document).where(AuditCheckpoint.reason == "trim"))
        s.execute(AuditCheckpoint.__table__.delete().where(AuditCheckpoint.reason == "trim"))
    v = log.verify(trusted=trusted)
    assert not v.ok and "records 1-40 are gone and no valid signed checkpoint" in v.problems[0]
    # a witness kept it: verified again
    assert log.verify(trusted=trusted, witnessed=[json.loads(str(doc))]).ok


def test_a_rewritten_chain_is_caught_by_its_signed_checkpoints(tmp_path: Path) -> None:
    cfg, db = _setup(tmp_path)
    signer = installation_signer(cfg)
    log = AuditLog(db)
    _append(log, 10, "biometric.search")
    witness = Checkpointer(cfg, db, signer).make()
    assert witness is not None
    # someone with database access rewrites every record (hiding the searches) and fixes every hash and the head
    with db.engine.begin() as conn:
        rows = list(conn.execute(text("SELECT id, ts, actor, role, target, detail, justification, address "
                                      "FROM audit_log ORDER BY id")))
        prev = GENESIS
        for rec_id, ts, actor, role, target, detail, just, addr in rows:
            h = chain_hash(prev, canonical(rec_id, ts, actor, role, "auth.login", target, detail, just, addr))
            conn.execute(text("UPDATE audit_log SET action = 'auth.login', prev_hash = :p, hash = :h WHERE id = :i"),
                         {"p": prev, "h": h, "i": rec_id})
            prev = h
        conn.execute(text("UPDATE settings SET value = :v WHERE key = 'audit_head'"), {"v": f"{rows[-1][0]}:{prev}"})
    v = log.verify(trusted={signer.key_id})
    assert not v.ok and any("record 10 does not match it — the chain was rewritten" in p for p in v.problems)
    # and with the stored checkpoints deleted too, the witness's copy still catches it
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))
    assert log.verify(trusted={signer.key_id}).ok, "without any checkpoint a consistent rewrite looks whole"
    assert not log.verify(trusted={signer.key_id}, witnessed=[witness]).ok
    # a checkpoint forged with another key is refused
    forged = create_signing_key(tmp_path / "other.key").sign_document({**witness, "hash": "0" * 64})
    v = log.verify(trusted={signer.key_id}, witnessed=[forged])
    assert any("not a trusted key" in p for p in v.problems)


def test_an_evidence_hold_stops_the_audit_trim(tmp_path: Path) -> None:
    cfg, db = _setup(tmp_path)
    log = AuditLog(db)
    _append(log, 10)
    held_from = datetime.now(UTC)
    _append(log, 10)
    HoldStore(db).add("evidence", None, held_from, held_from + timedelta(days=1), "tribunal", "ada")
    cp = Checkpointer(cfg, db, installation_signer(cfg))
    assert cp.trim(datetime.now(UTC) + timedelta(days=1), HoldStore(db).active()) == 10
    assert AuditLog(db).verify().ok


def test_signing_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    from clearwatch.governance.signing import SigningKeyError, load_signer

    signer = create_signing_key(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert load_signer(tmp_path / "k.pem").key_id == signer.key_id
    with pytest.raises(SigningKeyError, match="never overwritten"):
        create_signing_key(tmp_path / "k.pem")
    (tmp_path / "k.pem").chmod(0o644)
    with pytest.raises(SigningKeyError, match="readable by others"):
        load_signer(tmp_path / "k.pem")
    with pytest.raises(SigningKeyError, match="not found"):
        load_signer(tmp_path / "missing.pem")
    (tmp_path / "bad.pem").write_text("not a key")
    (tmp_path / "bad.pem").chmod(0o600)
    with pytest.raises(SigningKeyError, match="not a PEM private key"):
        load_signer(tmp_path / "bad.pem")


# subject access, erasure, the transparency report -----------------------------------------------------------

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
PHOTOS = SHARED / "data/faces/photos"
FVC = SHARED / "data/fingerprints/fvc2002"


class Cli:
    def __init__(self, root: Path):
        self.root = root
        (root / "clearwatch.yaml").write_text(f"data_dir: {root / 'data'}\nidentity: {{key_file: {root / 'k.key'}}}\n"
                                              "site: {name: north-depot}\n")
        self.env = {**os.environ, "COLUMNS": "200"}

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "clearwatch", *args], capture_output=True, text=True,
                              cwd=self.root, env=self.env, timeout=300)


@pytest.mark.skipif(not PHOTOS.is_dir() or not FVC.is_dir(), reason="shared faces or fingerprints missing")
def test_subject_access_then_erasure_with_a_signed_receipt(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    assert cli("keys", "create", "k.key").returncode == 0
    r = cli("people", "enrol", "Grace Hopper", str(PHOTOS / "img1.jpg"), str(PHOTOS / "img4.jpg"), "--basis",
            "staff access policy 4.2", "--by", "hr-office", "--watchlist", "visitors", "--json")
    assert r.returncode == 0, r.stderr
    pid = json.loads(r.stdout)["id"]
    assert cli("fingers", "enrol", pid, "2", str(FVC / "DB1_B/104_1.tif")).returncode == 0
    r = cli("faces", "identify", str(PHOTOS / "img4.jpg"))  # a search that returns her
    assert r.returncode == 0, r.stderr
    cfg = parse_config((tmp_path / "clearwatch.yaml").read_text(), base_dir=tmp_path)
    seen = [_event(cfg, "gate", "object", 1, identity=pid, identity_name="Grace Hopper", similarity=0.71,
                    face_snapshot=f"gate/{i}-face.jpg") for i in range(2)]
    alert = _event(cfg, "gate", "alert", 1, label="visitors", identity=pid, identity_name="Grace Hopper",
                   data={"watchlists": ["visitors"], "name": "Grace Hopper"})

    r = cli("report", "subject", pid, "--json", "--html", "subject.html")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["person"]["legal_basis"] == "staff access policy 4.2" and rep["person"]["enrolled_by"] == "hr-office"
    assert len(rep["face_templates"]) == 2 and [f["finger"] for f in rep["fingerprints"]] == [2]
    assert {m["event"] for m in rep["matches_on_video"]} == {*seen, alert}
    assert [s["action"] for s in rep["searches_returning_them"]] == ["biometric.search"]
    assert "Grace Hopper" in (tmp_path / "subject.html").read_text()

    r = cli("people", "erase", pid, "--why", "erasure request ER-42", "--receipt", "receipt.json")
    assert r.returncode == 0, r.stderr
    receipt = json.loads((tmp_path / "receipt.json").read_text())
    removed = receipt["removed"]
    assert removed["face_templates"] == 2 and removed["fingerprints"] == [2]
    assert set(removed["events"]) == {*seen, alert} and len(removed["event_face_pictures"]) == 2
    assert "Grace" not in json.dumps(receipt), "the receipt proves the erasure without naming her"
    assert cli("verify", "receipt.json").returncode == 0
    receipt["removed"]["face_templates"] = 1
    (tmp_path / "edited.json").write_text(json.dumps(receipt))
    r = cli("verify", "edited.json")
    assert r.returncode == 1 and "signature does not match" in r.stderr

    db = Database(cfg.database_url)
    with db.engine.connect() as conn:
        for table in ("persons", "face_templates", "finger_templates"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        rows = conn.execute(text("SELECT identity, identity_name, similarity, face_snapshot, data FROM events"))
        for identity, name, sim, face, data in rows:
            assert (identity, name, sim, face) == (None, None, None, None)
            assert "Grace" not in str(data)
        trail = conn.execute(text("SELECT detail FROM audit_log WHERE action = 'biometric.erase'")).scalar()
    assert trail is not None and "Grace" not in trail
    assert not list((cfg.snapshots_dir / "gate").glob("*-face.jpg"))
    assert cli("report", "subject", pid).returncode == 1, "nobody left to report on"


def test_erasure_empties_the_live_index_at_once(tmp_path: Path) -> None:
    if not PHOTOS.is_dir():
        pytest.skip("shared faces missing")
    import cv2

    from clearwatch.faces import FaceEngine
    from clearwatch.governance.subjects import erase_person
    from clearwatch.identity import Cipher, FaceRegistry, Photo

    cfg, db = _setup(tmp_path)
    engine = FaceEngine()
    reg = FaceRegistry(db, Cipher(os.urandom(32)), engine)
    reg.start()
    grace = reg.enrol("Grace", [Photo("a.jpg", (PHOTOS / "img1.jpg").read_bytes())], legal_basis="consent",
                      enrolled_by="op")
    probe = engine.analyse(cv2.imread(str(PHOTOS / "img4.jpg")))[0].embedding
    assert reg.identify(probe, 1)[0].person_id == grace.id
    erase_person(cfg, db, reg, installation_signer(cfg), grace.id, "ada", "erasure request")
    assert all(c.person_id != grace.id for c in reg.identify(probe, 5))


def test_transparency_totals_equal_what_is_on_disk_and_in_the_trail(tmp_path: Path) -> None:
    from clearwatch.governance.transparency import transparency_report
    from clearwatch.storage import SegmentIndex
    from clearwatch.storage.models import Person, Segment, User

    cfg, db = _setup(tmp_path)
    rng = random.Random(4)
    durations = {"gate": 0.0, "yard": 0.0}
    with db.session() as s:
        for i in range(40):
            cam = "gate" if i % 3 else "yard"
            rel = f"{cam}/2026-12-01/10/{i:02d}.00.mp4"
            path = cfg.recordings_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(rng.randrange(1000, 5000)))
            d = rng.uniform(5, 15)
            durations[cam] += d
            start = NOW - timedelta(days=1, minutes=i)
            s.add(Segment(camera=cam, start=start, end=start + timedelta(seconds=d), duration=d,
                          bytes=path.stat().st_size, path=rel, status="complete"))
        s.add_all([User(name=n, role=r, password_hash="x", cameras=c, disabled=False, created_at=NOW)
                   for n, r, c in (("ada", "admin", None), ("oscar", "operator", None), ("vera", "viewer", ["gate"]),
                                   ("audrey", "auditor", None))])
        for i, basis in enumerate(["consent", "consent", "employment contract"]):
            s.add(Person(id=f"p{i}", name=f"P{i}", legal_basis=basis, enrolled_by="op", tags=[],
                         watchlists=["banned"] if i == 0 else [], created_at=NOW, updated_at=NOW))
    log = AuditLog(db)
    counts = {"footage.live": 7, "footage.playback": 5, "footage.export": 2, "biometric.search": 3,
              "plate.search": 4}
    for action, n in counts.items():
        for _ in range(n):
            log.append(Actor("oscar", "operator"), action, "gate")
    log.append(Actor("vera", "viewer"), "footage.live", "gate")

    rep = transparency_report(cfg, db, since=datetime.now(UTC) - timedelta(hours=1))
    on_disk = {cam: sum(p.stat().st_size for p in (cfg.recordings_dir / cam).rglob("*.mp4")) for cam in durations}
    footage = {c["camera"]: c for c in rep["footage"]}
    for cam in durations:
        assert footage[cam]["bytes"] == on_disk[cam]
        assert footage[cam]["hours"] == round(durations[cam] / 3600, 2)
    assert footage["gate"]["viewers"] == {"admin": 1, "operator": 1, "viewer": 1}
    assert footage["yard"]["viewers"] == {"admin": 1, "operator": 1}
    got = {a["action"]: a["count"] for a in rep["accesses"]}
    assert got["footage.live"] == 8 and all(got[a] == n for a, n in counts.items() if a != "footage.live")
    assert next(a for a in rep["accesses"] if a["action"] == "footage.live")["by_role"] == {"operator": 7, "viewer": 1}
    assert rep["registry"] == {"people": 3, "by_legal_basis": {"consent": 2, "employment contract": 1},
                               "watchlists": {"banned": 1}, "plate_lists": {}}
    assert rep["audit"]["ok"] and rep["audit"]["records"] == 22
    assert rep["compliance"] == {"footage_over_policy": {}, "events_over_policy": {},
                                 "unknown_face_pictures_over_policy": 0}
    assert SegmentIndex(db).list("gate")

    from clearwatch.web.reports import render_transparency

    page = tmp_path / "transparency.html"
    page.write_text(render_transparency(rep))
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Chromium missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"])
        tab = b.new_page()
        tab.goto(page.as_uri())
        assert tab.locator("h1").inner_text() == "Transparency report: site"
        assert tab.locator("svg.chart").count() == 2
        assert "Verified: 22 records" in tab.locator("body").inner_text()
        out = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(out / "transparency.png"), full_page=True)
        b.close()


def test_approvals_expire_refuse_self_approval_and_unmask_until_expiry(tmp_path: Path) -> None:
    from clearwatch.governance.approvals import ApprovalError, Approvals

    _, db = _setup(tmp_path)
    approvals = Approvals(db, ttl=3600)
    req = approvals.request("unmask", {"camera": "gate"}, "oscar", "a burglary in the neighbour's yard")
    assert not approvals.unmasked("oscar", "gate")
    with pytest.raises(ApprovalError, match="your own request"):
        approvals.decide(req.id, "oscar", True)
    approvals.decide(req.id, "ada", True)
    assert approvals.unmasked("oscar", "gate") and not approvals.unmasked("oscar", "yard")
    assert not approvals.unmasked("vera", "gate"), "an approval is for whoever asked"
    approvals.use(req.id, "unmask", {"camera": "gate"}, "oscar")
    assert approvals.unmasked("oscar", "gate"), "unmasking is not spent by looking"

    short = Approvals(db, ttl=0.2)
    late = short.request("export", {"camera": "gate"}, "oscar", "to the police")
    import time

    time.sleep(0.3)
    with pytest.raises(ApprovalError, match="expired"):
        short.decide(late.id, "ada", True)
    with pytest.raises(ApprovalError, match="no approval request"):
        short.decide("nope", "ada", True)
    with pytest.raises(ApprovalError, match="unknown action"):
        short.request("delete_everything", {}, "oscar", "why not")


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared faces missing")
def test_redacted_export_leaves_no_face_but_the_kept_person(tmp_path: Path, vtest: Path) -> None:
    from clearwatch.faces import FaceEngine
    from clearwatch.governance.redaction import redact_video
    from clearwatch.identity import Cipher, FaceRegistry, Photo
    from tests.support.faces_clip import PEOPLE, face_crop, faces_clip

    clip = faces_clip(Path(__file__).resolve().parent.parent / ".cache/test-media/faces-moving.mp4", vtest, PHOTOS)
    engine = FaceEngine()

    def faces_per_frame(path: Path) -> list[list[list[float]]]:
        import av

        with av.open(str(path)) as c:
            return [[f.xyxy() for f in engine.detector.detect(fr.to_ndarray(format="bgr24"), 1280)]
                    for fr in c.decode(video=0)]

    before = faces_per_frame(clip)
    assert len(before) == 60 and all(len(f) >= 2 for f in before), "both faces on every frame of the original"
    out = tmp_path / "redacted.mp4"
    stats = redact_video(clip, out, {"faces"})
    assert stats.frames == 60
    # faces alone: no face a person could be recognised by (16 px and up; the walkers' 8 px faces come and go
    # with the encoder's noise); faces and people: no face at all
    assert all(not [b for b in f if b[2] - b[0] >= 16] for f in faces_per_frame(out)), "no face left"
    both = tmp_path / "both.mp4"
    redact_video(clip, both, {"faces", "people"})
    assert all(f == [] for f in faces_per_frame(both)), "no face of any size on any frame"

    _, db = _setup(tmp_path)
    reg = FaceRegistry(db, Cipher(os.urandom(32)), engine)
    reg.start()
    import cv2

    crop = face_crop(PHOTOS / PEOPLE[0], 240)
    _, buf = cv2.imencode(".jpg", crop)
    grace = reg.enrol("Grace", [Photo("g.jpg", buf.tobytes())], legal_basis="consent", enrolled_by="op")
    kept = tmp_path / "kept.mp4"
    stats = redact_video(clip, kept, {"faces", "people"}, keep=[grace.id], registry=reg)
    after = faces_per_frame(kept)
    assert sum(len(f) == 1 for f in after) >= 0.8 * len(after), "her face stays visible"
    assert all(len(f) <= 1 for f in after), "and only hers"
    assert stats.kept >= 0.8 * 60


def test_checkpoints_are_published_to_witnesses(tmp_path: Path) -> None:
    from clearwatch.storage import Message

    cfg, db = _setup(tmp_path, "mqtt: {enabled: true, topic_prefix: cw}\n"
                               "webhooks: {notary: {url: 'https://notary.example/cw'}}\n"
                               "governance: {witnesses: [notary]}")
    sent: list[Message] = []
    AuditLog(db).append(ADA, "footage.live", "gate")
    doc = Checkpointer(cfg, db, installation_signer(cfg), sent.extend).make()
    assert doc is not None
    by_target = {m.target: m for m in sent}
    assert set(by_target) == {"mqtt", "webhook:notary"}
    assert by_target["mqtt"].topic == "cw/audit/checkpoint" and by_target["mqtt"].retain
    assert json.loads(by_target["webhook:notary"].payload) == doc


def test_transparency_report_prints_to_pdf(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium missing: make test installs Debian's chromium")
    cli = Cli(tmp_path)
    r = cli("report", "transparency", "--pdf", "t.pdf", "--html", "t.html")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "t.pdf").read_bytes()[:5] == b"%PDF-" and (tmp_path / "t.pdf").stat().st_size > 5000
    assert "Transparency report: north-depot" in (tmp_path / "t.html").read_text()


def test_trim_and_verify_on_sqlite_and_postgresql(db_url: str, tmp_path: Path) -> None:
    cfg = parse_config(f"data_dir: {tmp_path / 'data'}\ndatabase: {{url: '{db_url}'}}\n")
    db = Database(cfg.database_url)
    db.migrate()
    log = AuditLog(db)
    _append(log, 30)
    cut_at = datetime.now(UTC)
    _append(log, 25_000 // 1000)
    signer = installation_signer(cfg)
    cp = Checkpointer(cfg, db, signer)
    assert cp.trim(cut_at, []) == 30
    v = log.verify(trusted={signer.key_id})
    assert v.ok and v.records == 26, v.problems
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'eve' WHERE id = 40"))
    v = log.verify(trusted={signer.key_id})
    assert not v.ok and any("record 40: content does not match" in p for p in v.problems)
    log.close()
    db.dispose()


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared faces missing")
def test_cli_face_search_waits_for_a_second_person(tmp_path: Path) -> None:
    import re

    cli = Cli(tmp_path)
    cfg_file = tmp_path / "clearwatch.yaml"
    cfg_file.write_text(cfg_file.read_text() + "governance: {dual_authorisation: [face_search, export]}\n")
    assert cli("keys", "create", "k.key").returncode == 0
    assert cli("people", "enrol", "Grace", str(PHOTOS / "img1.jpg"), "--basis", "consent").returncode == 0
    probe = str(PHOTOS / "img4.jpg")
    r = cli("faces", "identify", probe, "--why", "who was at the door")
    assert r.returncode == 1 and "needs a second person's approval" in r.stderr, r.stderr
    req = re.search(r"request ([0-9a-f]{16})", r.stderr)
    assert req is not None
    own = cli("approvals", "approve", req.group(1))
    assert own.returncode == 1 and "your own request" in own.stderr
    cli.env = {**cli.env, "USER": "bob", "LOGNAME": "bob"}
    assert cli("approvals", "approve", req.group(1)).returncode == 0
    cli.env = {k: v for k, v in cli.env.items() if k not in ("USER", "LOGNAME")}
    r = cli("faces", "identify", probe, "--why", "who was at the door", "--approval", req.group(1))
    assert r.returncode == 0 and "MATCH Grace" in r.stdout, r.stderr
    again = cli("faces", "identify", probe, "--why", "who was at the door", "--approval", req.group(1))
    assert again.returncode == 1 and "is used" in again.stderr
