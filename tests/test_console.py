"""The web console and API: authentication, roles, CSRF, rate limiting, the audit trail, a schemathesis run,
and a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from clearwatch.governance import AuditLog, Users
from clearwatch.identity import create_key_file
from clearwatch.service import Service
from tests.conftest import SHARED
from tests.support.helpers import make_config, wait_for

pytestmark = pytest.mark.slow
PHOTOS = SHARED / "data/faces/photos"
FVC = SHARED / "data/fingerprints/fvc2002/DB1_B"
CHROMIUM = "/usr/bin/chromium"
MASK = "[[0, 0], [0.4, 0], [0.4, 0.4], [0, 0.4]]"  # the top-left of both cameras: a neighbour's window
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


@dataclass
class Console:
    svc: Service
    url: str
    passwords: dict[str, str]
    tokens: dict[str, str]
    data: Path


@pytest.fixture(scope="module")
def console(h264_clip: Path, tmp_path_factory: pytest.TempPathFactory, detector: object) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    create_key_file(tmp / "k.key")
    cfg = make_config(tmp / "data", {"front": str(h264_clip), "back": str(h264_clip)},
                      extra=f"identity: {{key_file: {tmp / 'k.key'}}}\nrecord: {{segment_seconds: 4}}\n"
                            "schedules: {after_hours: {mon-fri: ['18:00-07:00'], sat-sun: ['00:00-24:00']}}",
                      camera_extra=f"privacy_masks: [{MASK}]")
    svc = Service(cfg)
    svc.start()
    users = Users(svc.db)
    passwords, tokens = {}, {}
    for name, role, cams in (("ada", "admin", None), ("oscar", "operator", None), ("vera", "viewer", ["front"]),
                             ("audrey", "auditor", None)):
        user, passwords[name] = users.create(name, role, None, cams)
        tokens[name] = users.create_token(user, "tests")
    url = f"http://127.0.0.1:{svc.web_port}"
    assert wait_for(lambda: len(svc.index.list("front")) >= 2, 40) is not None, "recordings to play"
    yield Console(svc, url, passwords, tokens, cfg.data_dir)
    svc.stop()


def bearer(c: Console, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {c.tokens[who]}"}


def routes(c: Console) -> list[tuple[str, str]]:
    spec = httpx.get(f"{c.url}/api/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        for method in ops:
            filled = path.replace("{camera}", "front").replace("{segment_id}", "1").replace("{event_id}", "x") \
                .replace("{person_id}", "x").replace("{template_id}", "1").replace("{name}", "vera")
            out.append((method.upper(), filled))
    return out


def test_every_route_needs_authentication(console: Console) -> None:
    open_routes = {("GET", "/api/health"), ("POST", "/api/auth/login")}
    checked = 0
    for method, path in routes(console):
        if (method, path) in open_routes:
            continue
        r = httpx.request(method, console.url + path, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code)
        checked += 1
    assert checked >= 20
    assert httpx.get(console.url + "/api/health").json() == {"status": "ok"}
    # pages send the browser to the login page; static assets are public
    r = httpx.get(console.url + "/events", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert httpx.get(console.url + "/static/app.js").status_code == 200


@pytest.mark.parametrize(("who", "method", "path"), [
    ("vera", "GET", "/api/people"),
    ("vera", "POST", "/api/faces/search"),
    ("vera", "GET", "/api/audit"),
    ("vera", "GET", "/api/users"),
    ("vera", "POST", "/api/cameras/front/export"),
    ("vera", "GET", "/api/cameras/back/live.mjpeg"),
    ("vera", "GET", "/api/cameras/back/timeline"),
    ("audrey", "GET", "/api/cameras/front/live.mjpeg"),
    ("audrey", "GET", "/api/events"),
    ("oscar", "GET", "/api/audit"),
    ("oscar", "POST", "/api/users"),
    ("oscar", "GET", "/api/audit/verify"),
    ("vera", "GET", "/api/plates/search?q=AB123CD&why=curious+about+it"),
    ("vera", "GET", "/api/plates"),
    ("vera", "POST", "/api/plates/lists"),
    ("audrey", "GET", "/api/plates/lists"),
    ("vera", "POST", "/api/alarms/x/ack"),
    ("vera", "POST", "/api/alarms/x/close"),
    ("vera", "POST", "/api/schedules/after_hours/arm"),
    ("audrey", "GET", "/api/alarms"),
    ("vera", "GET", "/api/reports/transparency"),
    ("oscar", "GET", "/api/reports/transparency"),
    ("vera", "GET", "/api/people/x/report"),
    ("vera", "POST", "/api/people/x/erase"),
    ("vera", "GET", "/api/people/x/fingers"),
    ("vera", "POST", "/api/people/x/fingers"),
    ("vera", "POST", "/api/fingers/verify"),
    ("vera", "POST", "/api/fingers/identify"),
    ("audrey", "POST", "/api/fingers/identify"),
])
def test_wrong_role_or_camera_is_forbidden(console: Console, who: str, method: str, path: str) -> None:
    r = httpx.request(method, console.url + path, headers=bearer(console, who), timeout=10)
    assert r.status_code == 403, (r.status_code, r.text)


def test_viewer_sees_only_assigned_cameras(console: Console) -> None:
    cams = httpx.get(console.url + "/api/cameras", headers=bearer(console, "vera")).json()
    assert [c["name"] for c in cams] == ["front"]
    events = httpx.get(console.url + "/api/events?limit=500", headers=bearer(console, "vera")).json()["events"]
    assert all(e["camera"] == "front" for e in events)
    assert all(e["identity"] is None for e in events)


def test_cookie_session_needs_csrf_token_for_changes(console: Console) -> None:
    with httpx.Client(base_url=console.url) as http:
        r = http.post("/api/auth/login", json={"username": "oscar", "password": console.passwords["oscar"]})
        assert r.status_code == 200
        csrf = r.json()["csrf"]
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert http.post("/api/auth/tokens", json={"name": "x"}).status_code == 403
        assert http.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert http.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_login_is_rate_limited(console: Console) -> None:
    users = Users(console.svc.db)
    users.create("mallory-target", "viewer", "correct horse battery")
    codes = [httpx.post(console.url + "/api/auth/login", json={"username": "mallory-target", "password": "guess"}
                        ).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # even the right password waits now
    r = httpx.post(console.url + "/api/auth/login", json={"username": "mallory-target",
                                                           "password": "correct horse battery"})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_footage_and_biometric_actions_are_audited(console: Console) -> None:
    c = console
    h = bearer(c, "oscar")
    seg = c.svc.index.list("front")[0]
    assert httpx.get(f"{c.url}/api/recordings/{seg.id}/video", headers=h).status_code == 200
    r = httpx.post(f"{c.url}/api/cameras/front/export", headers=h, timeout=60, json={
        "start": seg.start.isoformat(), "end": seg.end.isoformat(), "justification": "ticket 7781"})
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    manifest = json.loads(base64.b64decode(r.headers["X-Clearwatch-Manifest"]))
    assert manifest["sha256"] == hashlib.sha256(r.content).hexdigest() and manifest["why"] == "ticket 7781"
    assert manifest["exported_by"] == "oscar" and manifest["signed"]["key_id"] == c.svc.signer.key_id
    kept = c.data / "exports" / r.headers["X-Clearwatch-Export"]
    from clearwatch.governance.manifest import verify_export

    assert verify_export(kept / manifest["file"], trusted={c.svc.signer.key_id}).ok, "kept on the server, signed"
    r = httpx.post(f"{c.url}/api/cameras/front/export", headers=h, json={
        "start": seg.start.isoformat(), "end": seg.end.isoformat()})
    assert r.status_code == 422, "an export needs a justification"
    with (PHOTOS / "img1.jpg").open("rb") as f1, (PHOTOS / "img4.jpg").open("rb") as f2:
        r = httpx.post(f"{c.url}/api/people", headers=h, timeout=60, data={"name": "Ada Example",
                       "legal_basis": "staff access control"}, files=[("photos", f1), ("photos", f2)])
    assert r.status_code == 201, r.text
    person = r.json()["id"]
    with (PHOTOS / "img2.jpg").open("rb") as f:
        r = httpx.post(f"{c.url}/api/faces/search", headers=h, timeout=60,
                       data={"justification": "who tailgated at gate 2"}, files={"photo": f})
    assert r.status_code == 200 and r.json()["candidates"][0]["person_id"] == person
    assert r.json()["candidates"][0]["match"]
    with (PHOTOS / "img2.jpg").open("rb") as f:
        r = httpx.post(f"{c.url}/api/faces/search", headers=h, files={"photo": f})
    assert r.status_code == 422, "a face search needs a justification"
    assert httpx.delete(f"{c.url}/api/people/{person}", headers=h).status_code == 204

    records = AuditLog(c.svc.db).list(500, actor="oscar")
    actions = {r.action for r in records}
    assert {"footage.playback", "footage.export", "biometric.enrol", "biometric.search", "biometric.delete"} <= actions
    export = next(r for r in records if r.action == "footage.export")
    assert export.justification == "ticket 7781" and export.target == "front"
    search = next(r for r in records if r.action == "biometric.search")
    assert search.justification == "who tailgated at gate 2" and person in search.detail
    assert AuditLog(c.svc.db).verify().ok
    # nobody can change the trail through the API
    spec = httpx.get(f"{c.url}/api/openapi.json").json()
    assert set(spec["paths"]["/api/audit"]) == {"get"} and set(spec["paths"]["/api/audit/verify"]) == {"get"}


def _enrol_face(c: Console, name: str, photo: str) -> str:
    with (PHOTOS / photo).open("rb") as f:
        r = httpx.post(f"{c.url}/api/people", headers=bearer(c, "oscar"), timeout=60,
                       data={"name": name, "legal_basis": "site access control"}, files=[("photos", f)])
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _finger(c: Console, path: str, name: str, *, who: str = "oscar", **data: object) -> httpx.Response:
    file = FVC / name
    return httpx.post(c.url + path, headers=bearer(c, who), timeout=60, data=data,
                      files={"file": (file.name, file.read_bytes())})


def test_fingerprints_over_the_api(console: Console) -> None:
    """Enrol fingers from an image and from an ISO template (legal basis required), verify and identify with the
    decision and its false match rate, remove one, erase a person: all audited, and an erased person's finger is
    never found again by the running console."""
    c = console
    h = bearer(c, "oscar")
    ana, ben = _enrol_face(c, "Ana Fingers", "img3.jpg"), _enrol_face(c, "Ben Fingers", "img8.jpg")
    r = _finger(c, f"/api/people/{ana}/fingers", "101_1.tif", finger=2, legal_basis="gate 4 access control")
    assert r.status_code == 201, r.text
    assert r.json()["position"] == "right index" and r.json()["minutiae"] >= 8 and not r.json()["image_kept"]
    r = _finger(c, f"/api/people/{ana}/fingers", "101_2.iso", finger=3, legal_basis="gate 4 access control",
                keep_image="true")
    assert r.status_code == 201 and not r.json()["image_kept"], "an ISO template has no image to keep"
    assert _finger(c, f"/api/people/{ben}/fingers", "102_1.tif", finger=2, legal_basis="gate 4 access control",
                   keep_image="true").json()["image_kept"]
    # refusals name the problem
    r = _finger(c, f"/api/people/{ana}/fingers", "101_3.tif", finger=2)
    assert r.status_code == 422 and "legal_basis" in r.text
    r = httpx.post(f"{c.url}/api/people/{ana}/fingers", headers=h, data={"finger": 2, "legal_basis": "gate 4"},
                   files={"file": ("broken.tif", b"II*\x00 not really a tiff")})
    assert r.status_code == 422 and "broken.tif" in r.json()["detail"], r.text
    r = _finger(c, "/api/people/nobody/fingers", "101_3.tif", finger=2, legal_basis="gate 4")
    assert r.status_code == 404 and "nobody" in r.text
    fingers = httpx.get(f"{c.url}/api/people/{ana}/fingers", headers=h).json()
    assert [(f["finger"], f["position"]) for f in fingers] == [(2, "right index"), (3, "right middle")]

    # 1:1 — her finger, not his; with the false match rate the decision stands on
    r = _finger(c, "/api/fingers/verify", "101_4.tif", person_id=ana, justification="door 4 badge dispute")
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["match"] and mine["score"] >= mine["threshold"] and mine["fmr"] <= 1e-3
    theirs = _finger(c, "/api/fingers/verify", "101_4.tif", person_id=ben, justification="door 4 badge dispute").json()
    assert not theirs["match"] and theirs["score"] < mine["score"] and theirs["fmr"] > mine["fmr"]
    assert _finger(c, "/api/fingers/verify", "101_4.tif", person_id=ana).status_code == 422, "needs a why"
    # 1:N
    r = _finger(c, "/api/fingers/identify", "102_5.tif", justification="latent from the store room")
    assert r.status_code == 200, r.text
    best = r.json()["candidates"][0]
    assert best["person_id"] == ben and best["match"] and best["finger"] == 2

    # remove one finger; erase a person: the running console forgets both
    assert httpx.delete(f"{c.url}/api/people/{ana}/fingers/{fingers[1]['id']}", headers=h).status_code == 204
    assert httpx.delete(f"{c.url}/api/people/{ana}/fingers/{fingers[1]['id']}", headers=h).status_code == 404
    assert len(httpx.get(f"{c.url}/api/people/{ana}/fingers", headers=h).json()) == 1
    assert httpx.delete(f"{c.url}/api/people/{ana}", headers=h).status_code == 204
    r = _finger(c, "/api/fingers/identify", "101_4.tif", justification="latent from the store room")
    assert ana not in [x["person_id"] for x in r.json()["candidates"]]

    records = AuditLog(c.svc.db).list(500, actor="oscar")
    enrol = json.loads(next(x for x in records if x.action == "biometric.finger_enrol" and x.target == ben).detail)
    assert enrol["legal_basis"] == "gate 4 access control" and enrol["finger"] == 2 and enrol["image_kept"]
    assert any(x.action == "biometric.finger_verify" and x.target == ana and x.justification == "door 4 badge dispute"
               for x in records)
    assert any(x.action == "biometric.finger_identify" and x.justification == "latent from the store room"
               and ben in x.detail for x in records)
    assert {"biometric.finger_remove", "biometric.view"} <= {x.action for x in records}
    spec = httpx.get(f"{c.url}/api/openapi.json").json()["paths"]
    assert {"/api/fingers/verify", "/api/fingers/identify", "/api/people/{person_id}/fingers",
            "/api/people/{person_id}/fingers/{template_id}"} <= set(spec)
    httpx.delete(f"{c.url}/api/people/{ben}", headers=h)


def test_plates_search_lists_and_what_a_viewer_sees(console: Console) -> None:
    from clearwatch.events.model import Event
    from clearwatch.storage import EventStore

    ev = Event("front", "plate", "AB123CD", 1.7e9, end=1.7e9 + 3, score=0.97,
               data={"plate": "AB123CD", "format": "AR", "verified": True, "vehicle": "car", "direction": "in",
                     "chars": [0.97] * 7, "lists": []})
    EventStore(console.svc.db).save(ev.as_dict())
    op, viewer = bearer(console, "oscar"), bearer(console, "vera")
    r = httpx.get(f"{console.url}/api/plates/search", params={"q": "AB12*", "why": "theft at gate 2"}, headers=op)
    assert r.status_code == 200 and [x["plate"] for x in r.json()] == ["AB123CD"]
    r = httpx.get(f"{console.url}/api/plates/search", params={"q": "AB123CO", "fuzzy": 1, "why": "theft at gate 2"},
                  headers=op)
    assert [(x["plate"], x["distance"]) for x in r.json()] == [("AB123CD", 1)]
    assert httpx.get(f"{console.url}/api/plates/search", params={"q": "AB123CD"}, headers=op).status_code == 422
    trail = httpx.get(f"{console.url}/api/audit", params={"limit": 50}, headers=bearer(console, "audrey")).json()
    searches = [a for a in trail if a["action"] == "plate.search"]
    assert len(searches) == 2 and all(a["justification"] == "theft at gate 2" and a["actor"] == "oscar"
                                      for a in searches)
    # a viewer sees that a plate was read on its camera, not which plate; and cannot look one up by label
    r = httpx.get(f"{console.url}/api/events", params={"kind": "plate"}, headers=viewer)
    (seen,) = [e for e in r.json()["events"] if e["id"] == ev.id]
    assert seen["label"] == "plate" and "plate" not in seen["data"] and "AB123CD" not in r.text
    r = httpx.get(f"{console.url}/api/events", params={"kind": "plate", "label": "AB123CD"}, headers=op)
    assert r.status_code == 403
    r = httpx.get(f"{console.url}/api/events", params={"label": "AB123CD"}, headers=op)
    assert r.status_code == 200 and r.json()["events"] == []
    # lists: create, add (a visitor until a date), show, remove; each change audited
    assert httpx.post(f"{console.url}/api/plates/lists", json={"name": "visitors", "kind": "visitor"},
                      headers=op).status_code == 201
    assert httpx.post(f"{console.url}/api/plates/lists", json={"name": "visitors", "kind": "visitor"},
                      headers=op).status_code == 409
    assert httpx.post(f"{console.url}/api/plates/lists", json={"name": "x", "kind": "maybe"},
                      headers=op).status_code == 422
    r = httpx.post(f"{console.url}/api/plates/lists/visitors/entries", headers=op,
                   json={"plate": "kr-w 301", "valid_until": "2030-01-01T00:00:00Z", "note": "delivery"})
    assert r.status_code == 201 and r.json()["plate"] == "KRW301"
    assert httpx.post(f"{console.url}/api/plates/lists/nope/entries", json={"plate": "KRW301"},
                      headers=op).status_code == 404
    r = httpx.get(f"{console.url}/api/plates/lists", headers=op)
    assert {"name": "visitors", "kind": "visitor", "description": "", "plates": 1} in r.json()
    assert httpx.delete(f"{console.url}/api/plates/lists/visitors/entries/KRW301", headers=op).status_code == 204
    assert httpx.delete(f"{console.url}/api/plates/lists/visitors/entries/KRW301", headers=op).status_code == 404
    actions = {a["action"] for a in httpx.get(f"{console.url}/api/audit", params={"limit": 50},
                                              headers=bearer(console, "audrey")).json()}
    assert {"plates.list_create", "plates.list_add", "plates.list_remove"} <= actions


def test_metrics_in_prometheus_format(console: Console) -> None:
    assert httpx.get(console.url + "/metrics").status_code == 401
    r = httpx.get(console.url + "/metrics", headers=bearer(console, "ada"))
    assert r.status_code == 200
    assert 'clearwatch_camera_fps{camera="front"}' in r.text
    assert "# TYPE clearwatch_detector_seconds_total counter" in r.text
    assert 'clearwatch_storage_bytes{camera="front"}' in r.text


# audit tampering -------------------------------------------------------------------------------------

@pytest.fixture
def trail(tmp_path: Path) -> tuple[AuditLog, Path]:
    from clearwatch.governance import Actor
    from clearwatch.storage import Database

    db_file = tmp_path / "cw.db"
    db = Database(f"sqlite:///{db_file}")
    db.migrate()
    log = AuditLog(db)
    for i in range(10):
        log.append(Actor("ada", "admin", "10.0.0.1"), "footage.live", f"cam{i % 3}", {"i": i})
    log.close()
    return log, db_file


def _sql(db_file: Path, *statements: str) -> None:
    con = sqlite3.connect(db_file)
    for st in statements:
        con.execute(st)
    con.commit()
    con.close()


@pytest.mark.parametrize(("tamper", "expected"), [
    (["UPDATE audit_log SET target = 'nothing to see' WHERE id = 4"], "record 4: content does not match"),
    (["DELETE FROM audit_log WHERE id = 6"], "record 7: expected record 6 next (records deleted)"),
    (["UPDATE audit_log SET id = -3 WHERE id = 3", "UPDATE audit_log SET id = 3 WHERE id = 5",
      "UPDATE audit_log SET id = 5 WHERE id = -3"], "record 3: does not follow"),
    (["DELETE FROM audit_log WHERE id > 7"], "records were cut off the end (truncated)"),
])
def test_tampering_is_detected_and_located(trail: tuple[AuditLog, Path], tamper: list[str], expected: str) -> None:
    log, db_file = trail
    assert log.verify().ok
    _sql(db_file, *tamper)
    v = log.verify()
    assert not v.ok and any(expected in p for p in v.problems), v.problems
    r = subprocess.run([sys.executable, "-m", "clearwatch", "audit", "verify", "--config", _cfg(db_file)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and expected.split(":")[0] in r.stdout


def _cfg(db_file: Path) -> str:
    cfg = db_file.with_suffix(".yaml")
    cfg.write_text(f"data_dir: {db_file.parent}\ndatabase: {{url: 'sqlite:///{db_file}'}}\n")
    return str(cfg)


def _raise(c: Console, camera: str, title: str, priority: int = 2, kind: str = "intrusion") -> str:
    from clearwatch.storage.alarms import Raised

    seg = c.svc.index.list(camera)[0]
    alarm = c.svc.alarms.raise_(Raised(
        rule=f"test-{title}", kind=kind, camera=camera, priority=priority, title=title,
        at=seg.start + timedelta(seconds=1), event_id=None, clip_start=seg.start, clip_end=seg.end))
    return alarm.id


def test_alarm_desk_over_the_api(console: Console) -> None:
    c = console
    front = _raise(c, "front", "intruder at the front")
    back = _raise(c, "back", "intruder at the back")
    seen_by_vera = [a["id"] for a in httpx.get(c.url + "/api/alarms", headers=bearer(c, "vera")).json()]
    assert front in seen_by_vera and back not in seen_by_vera, "an operator of camera A never sees B's alarms"
    assert httpx.get(f"{c.url}/api/alarms/{back}", headers=bearer(c, "vera")).status_code == 404
    face = _raise(c, "front", "Watchlist face: Grace Hopper on front", kind="face")
    assert httpx.get(f"{c.url}/api/alarms/{face}", headers=bearer(c, "vera")).json()["title"] == \
        "Watchlist face on front", "whom a face alarm is about is biometric"
    assert "Grace Hopper" in httpx.get(f"{c.url}/api/alarms/{face}", headers=bearer(c, "oscar")).json()["title"]
    r = httpx.post(f"{c.url}/api/alarms/{front}/ack", json={"note": "me"}, headers=bearer(c, "vera"))
    assert r.status_code == 403, "a viewer cannot acknowledge"

    r = httpx.post(f"{c.url}/api/alarms/{front}/ack", json={"note": "guard on his way"}, headers=bearer(c, "oscar"))
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["acked_by"] == "oscar"
    again = httpx.post(f"{c.url}/api/alarms/{front}/ack", json={"note": "x"}, headers=bearer(c, "oscar"))
    assert again.status_code == 409
    one = httpx.get(f"{c.url}/api/alarms/{front}", headers=bearer(c, "oscar")).json()
    assert one["clip"]["segment"] == c.svc.index.list("front")[0].id and one["clip"]["offset"] == 0
    r = httpx.post(f"{c.url}/api/alarms/{front}/close", json={"note": "cleaner"}, headers=bearer(c, "oscar"))
    assert r.json()["state"] == "closed"
    open_ids = [a["id"] for a in httpx.get(c.url + "/api/alarms", headers=bearer(c, "oscar")).json()]
    assert front not in open_ids and back in open_ids

    r = httpx.post(c.url + "/api/schedules/after_hours/disarm", json={"why": "stocktaking tonight"},
                   headers=bearer(c, "oscar"))
    assert r.status_code == 200 and r.json()["on"] is False and r.json()["manual"] == "disarmed"
    r = httpx.post(c.url + "/api/schedules/after_hours/auto", json={"why": "stocktaking done"},
                   headers=bearer(c, "oscar"))
    assert r.json()["manual"] is None
    records = AuditLog(c.svc.db).list(200, actor="oscar")
    actions = [(x.action, x.actor, x.target) for x in records]
    assert ("alarm.ack", "oscar", front) in actions and ("alarm.close", "oscar", front) in actions
    arm = next(x for x in records if x.action == "alarm.disarm")
    assert arm.actor == "oscar" and arm.justification == "stocktaking tonight"


def test_transparency_subject_access_and_erasure_over_the_api(console: Console) -> None:
    from clearwatch.governance.signing import check_document
    from clearwatch.identity import Photo

    c = console
    r = httpx.get(c.url + "/api/reports/transparency", headers=bearer(c, "audrey"), timeout=60)
    assert r.status_code == 200 and r.json()["audit"]["ok"] and {f["camera"] for f in r.json()["footage"]} >= {
        "front", "back"}
    page = httpx.get(c.url + "/transparency", headers={"Accept": "text/html"})
    assert page.status_code == 303, "not public unless governance.public_transparency is on"
    assert c.svc.registry is not None
    person = c.svc.registry.enrol("Erin Erase", [Photo("p.jpg", (PHOTOS / "img5.jpg").read_bytes())],
                                  legal_basis="visitor consent", enrolled_by="oscar")
    report = httpx.get(f"{c.url}/api/people/{person.id}/report", headers=bearer(c, "oscar")).json()
    assert report["person"]["legal_basis"] == "visitor consent" and len(report["face_templates"]) == 1
    r = httpx.post(f"{c.url}/api/people/{person.id}/erase", json={"why": "erasure request ER-7"},
                   headers=bearer(c, "oscar"), timeout=60)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["removed"]["face_templates"] == 1 and not check_document(receipt, {c.svc.signer.key_id})
    assert httpx.get(f"{c.url}/api/people/{person.id}/report", headers=bearer(c, "oscar")).status_code == 404
    records = AuditLog(c.svc.db).list(50, actor="oscar")
    assert any(x.action == "biometric.erase" and x.justification == "erasure request ER-7" for x in records)


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _masked(image: np.ndarray) -> bool:
    """The top-left mask area is one flat grey (JPEG and H.264 leave a little noise)."""
    h, w = image.shape[:2]
    area = image[int(h * 0.03):int(h * 0.37), int(w * 0.03):int(w * 0.37)].astype(np.float32)
    return bool(abs(area.mean() - 96) < 6 and area.std() < 6)


def _first_frame(data: bytes) -> np.ndarray:
    import io

    import av

    with av.open(io.BytesIO(data)) as c:
        return next(iter(c.decode(video=0))).to_ndarray(format="bgr24")


def test_privacy_masks_are_burned_in_for_roles_without_unmask(console: Console) -> None:
    c = console
    for who, masked in (("vera", True), ("oscar", True), ("ada", False)):
        r = httpx.get(f"{c.url}/api/cameras/front/snapshot.jpg", headers=bearer(c, who))
        assert r.status_code == 200 and _masked(_decode(r.content)) is masked, who
    seg = c.svc.index.list("front")[0]
    played = httpx.get(f"{c.url}/api/recordings/{seg.id}/video", headers=bearer(c, "vera"), timeout=120)
    assert played.status_code == 200 and _masked(_first_frame(played.content))
    raw = httpx.get(f"{c.url}/api/recordings/{seg.id}/video", headers=bearer(c, "ada"), timeout=60)
    assert not _masked(_first_frame(raw.content))
    assert (c.svc.root / seg.path).read_bytes() == raw.content, "the recording itself is untouched"
    ev = next(e for e in c.svc.events.store.list(camera="front", limit=500) if e.snapshot)
    snap = httpx.get(f"{c.url}/api/events/{ev.id}/snapshot.jpg", headers=bearer(c, "vera"))
    assert snap.status_code == 200 and _masked(_decode(snap.content))
    r = httpx.post(f"{c.url}/api/cameras/front/export", headers=bearer(c, "oscar"), timeout=120, json={
        "start": seg.start.isoformat(), "end": seg.end.isoformat(), "justification": "masked export test"})
    assert r.status_code == 200 and _masked(_first_frame(r.content))
    manifest = json.loads(base64.b64decode(r.headers["X-Clearwatch-Manifest"]))
    assert manifest["redactions"] == ["privacy_masks"]
    actions = [(x.action, x.target) for x in AuditLog(c.svc.db).list(200, actor="ada")]
    assert ("footage.unmask", "front") in actions, "a look past the masks is on the trail"


def test_a_long_reencoded_export_is_handed_back_as_a_job(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    import clearwatch.api.export_jobs as export_jobs

    c = console
    monkeypatch.setattr(export_jobs, "WAIT", 0.0)  # as if masking took longer than a request waits
    seg = c.svc.index.list("front")[0]
    r = httpx.post(f"{c.url}/api/cameras/front/export", headers=bearer(c, "oscar"), timeout=60, json={
        "start": seg.start.isoformat(), "end": seg.end.isoformat(), "justification": "masked export as a job"})
    assert r.status_code == 202 and r.json()["state"] == "running", r.text
    url = c.url + r.json()["url"]
    assert httpx.get(url, headers=bearer(c, "ada")).status_code == 404, "only the user who asked sees it"

    def done() -> bool:
        return httpx.get(url, headers=bearer(c, "oscar")).headers["content-type"] == "video/mp4"

    assert wait_for(done, 120, step=0.5) is not None
    got = httpx.get(url, headers=bearer(c, "oscar"))
    manifest = json.loads(base64.b64decode(got.headers["X-Clearwatch-Manifest"]))
    assert manifest["sha256"] == hashlib.sha256(got.content).hexdigest() and _masked(_first_frame(got.content))
    assert manifest["redactions"] == ["privacy_masks"] and manifest["why"] == "masked export as a job"


def test_dual_authorisation_of_exports_and_face_searches(console: Console) -> None:
    c = console
    gov = c.svc.config.governance
    gov.dual_authorisation = ["export", "face_search"]
    try:
        seg = c.svc.index.list("back")[0]
        body = {"start": seg.start.isoformat(), "end": seg.end.isoformat(), "justification": "insurance claim 9"}
        r = httpx.post(f"{c.url}/api/cameras/back/export", headers=bearer(c, "oscar"), json=body, timeout=60)
        assert r.status_code == 202, "nothing runs until a second person approves"
        req = r.json()["approval"]
        early = httpx.post(f"{c.url}/api/cameras/back/export", headers=bearer(c, "oscar"), timeout=60,
                           json={**body, "approval": req})
        assert early.status_code == 403 and "still waiting" in early.json()["detail"]
        own = httpx.post(f"{c.url}/api/approvals/{req}/approve", headers=bearer(c, "oscar"))
        assert own.status_code == 409 and "your own request" in own.json()["detail"]
        assert httpx.post(f"{c.url}/api/approvals/{req}/approve", headers=bearer(c, "vera")).status_code == 403
        pending = httpx.get(c.url + "/api/approvals", headers=bearer(c, "ada")).json()
        assert any(a["id"] == req and a["requested_by"] == "oscar" for a in pending)
        ok = httpx.post(f"{c.url}/api/approvals/{req}/approve", headers=bearer(c, "ada"))
        assert ok.status_code == 200 and ok.json()["state"] == "approved"
        other = httpx.post(f"{c.url}/api/cameras/back/export", headers=bearer(c, "oscar"), timeout=60,
                           json={**body, "justification": "a different range", "approval": req,
                                 "start": seg.end.isoformat(), "end": (seg.end + timedelta(seconds=5)).isoformat()})
        assert other.status_code == 403 and "another export" in other.json()["detail"]
        r = httpx.post(f"{c.url}/api/cameras/back/export", headers=bearer(c, "oscar"), timeout=60,
                       json={**body, "approval": req})
        assert r.status_code == 200 and r.content[4:8] == b"ftyp"
        again = httpx.post(f"{c.url}/api/cameras/back/export", headers=bearer(c, "oscar"), timeout=60,
                           json={**body, "approval": req})
        assert again.status_code == 403 and "is used" in again.json()["detail"], "an approval runs once"
        trail = [(x.action, x.actor) for x in AuditLog(c.svc.db).list(300)]
        assert ("approval.request", "oscar") in trail and ("approval.approve", "ada") in trail

        photo = (PHOTOS / "img2.jpg").read_bytes()
        form = {"justification": "who is at the gate", "top": "3"}
        r = httpx.post(f"{c.url}/api/faces/search", headers=bearer(c, "oscar"), data=form,
                       files={"photo": ("p.jpg", photo, "image/jpeg")}, timeout=60)
        assert r.status_code == 202
        req = r.json()["approval"]
        rejected = httpx.post(f"{c.url}/api/approvals/{req}/reject", headers=bearer(c, "ada"))
        assert rejected.json()["state"] == "rejected"
        r = httpx.post(f"{c.url}/api/faces/search", headers=bearer(c, "oscar"), data={**form, "approval": req},
                       files={"photo": ("p.jpg", photo, "image/jpeg")}, timeout=60)
        assert r.status_code == 403 and "rejected" in r.json()["detail"]
    finally:
        gov.dual_authorisation = []


# the browser -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _frame_hash(page: object, selector: str) -> str:
    return page.evaluate("""(sel) => { const img = document.querySelector(sel);
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data; let h = 0;
        for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) | 0; return c.width + ':' + h; }""", selector)


def _login(page: object, c: Console, who: str) -> None:
    page.goto(c.url + "/")
    page.wait_for_url("**/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", c.passwords[who])
    page.click("button[type=submit]")
    page.wait_for_url(c.url + "/")


def test_browser_walkthrough(console: Console, browser: object, output_dir: Path) -> None:
    c = console
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    _login(page, c, "oscar")

    # live grid: frames move
    page.wait_for_function("() => { const i = document.querySelector('img.live'); return i && i.naturalWidth > 0 }")
    first = _frame_hash(page, "img.live")
    pixel = page.evaluate("""() => { const img = document.querySelector('img.live');
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        return Array.from(g.getImageData(Math.round(c.width * 0.1), Math.round(c.height * 0.1), 1, 1).data); }""")
    assert all(abs(v - 96) < 10 for v in pixel[:3]), f"the privacy mask is burned into the live view: {pixel}"
    assert wait_for(lambda: _frame_hash(page, "img.live") != first, 10) is not None, "the live picture changes"
    page.screenshot(path=str(shots / "live.png"))

    # a camera's recording plays
    page.click("figcaption a >> text=front")
    page.click("details:has(#segments) summary")
    page.wait_for_selector("#segments a")
    page.click("#segments a >> nth=-1")
    page.wait_for_function("() => document.querySelector('#player').currentTime > 1.0", timeout=20_000)
    page.screenshot(path=str(shots / "camera.png"))

    # events arrive without a reload
    page.goto(c.url + "/events")
    page.wait_for_selector("#event-rows tr", timeout=30_000)
    page.wait_for_selector("#event-rows tr.fresh", timeout=60_000)
    page.screenshot(path=str(shots / "events.png"))

    # enrol by photo upload, then find them by face search
    page.goto(c.url + "/people")
    page.fill("#enrol-form input[name=name]", "Grace Browser")
    page.fill("#enrol-form input[name=legal_basis]", "visitor consent form")
    page.set_input_files("#enrol-form input[name=photos]", [str(PHOTOS / "img38.jpg"), str(PHOTOS / "img39.jpg")])
    page.click("#enrol-form button")
    page.wait_for_selector("#enrol-status >> text=enrolled Grace Browser", timeout=60_000)
    page.wait_for_selector("#people-rows >> text=Grace Browser")
    page.screenshot(path=str(shots / "people.png"))
    page.goto(c.url + "/search")
    page.set_input_files("#search-form input[name=photo]", str(PHOTOS / "img40.jpg"))
    page.fill("#search-form input[name=justification]", "browser test: find the visitor")
    page.click("#search-form button")
    page.wait_for_selector("#search-results .match >> text=Grace Browser", timeout=60_000)
    page.screenshot(path=str(shots / "search.png"))
    # plates: the latest reads, an audited search, a list with a plate on it
    from clearwatch.events.model import Event
    from clearwatch.storage import EventStore

    EventStore(c.svc.db).save(Event("front", "plate", "GH789JK", 1.7e9, end=1.7e9 + 2, score=0.95, data={
        "plate": "GH789JK", "format": "AR", "verified": True, "vehicle": "car", "colour": "blue"}).as_dict())
    page.goto(c.url + "/plates")
    page.wait_for_selector("#plate-rows >> text=GH789JK")
    page.fill("#plate-search input[name=q]", "GH7*")
    page.fill("#plate-search input[name=why]", "browser test: a car at the gate")
    page.click("#plate-search button")
    page.wait_for_selector("#plate-results >> text=GH789JK", timeout=20_000)
    page.fill("#list-form input[name=name]", "browser-list")
    page.click("#list-form button")
    page.click("#plate-lists a >> text=browser-list")
    page.fill("#entry-form input[name=plate]", "GH789JK")
    page.click("#entry-form button")
    page.wait_for_selector("#list-entries >> text=GH789JK", timeout=20_000)
    page.screenshot(path=str(shots / "plates.png"))
    # the alarm desk: an alarm appears live, is acknowledged with a note, its clip plays
    page.goto(c.url + "/alarms")
    page.wait_for_selector("#stream-state >> text=(live)", timeout=20_000)
    alarm = _raise(c, "front", "browser intruder", priority=1)
    row = f"#alarm-rows tr[data-id='{alarm}']"
    page.wait_for_selector(row, timeout=20_000)
    assert page.locator("#alarm-rows tr").first.get_attribute("data-id") == alarm, "priority 1 on top"
    page.click(row)
    page.wait_for_function("() => document.querySelector('#alarm-clip').currentTime > 0.5", timeout=20_000)
    page.fill("#alarm-act input[name=note]", "browser test: checked the yard")
    page.click("#alarm-ack")
    page.wait_for_selector("#alarm-status >> text=acknowledged", timeout=20_000)
    page.wait_for_selector(f"{row} >> text=acknowledged", timeout=20_000)
    page.screenshot(path=str(shots / "alarms.png"))
    acked = c.svc.alarms.store.get(alarm)
    assert acked is not None and acked.acked_by == "oscar" and acked.ack_note == "browser test: checked the yard"
    for name in ("machines", "system"):
        page.goto(f"{c.url}/{name}")
        page.wait_for_selector("#table table, #table p", timeout=20_000)
        page.screenshot(path=str(shots / f"{name}.png"))

    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(c.url + "/events")
    page.wait_for_url("**/login")

    # a viewer: no people page, no camera that is not theirs
    _login(page, c, "vera")
    assert page.goto(c.url + "/people").status == 403
    assert page.goto(c.url + "/plates").status == 403
    assert page.goto(c.url + "/cameras/back").status == 403
    assert page.goto(c.url + "/cameras/front").status == 200
    page.goto(c.url + "/")
    assert page.locator("img.live").count() == 1
    page.click("#logout")
    page.wait_for_url("**/login")

    # the auditor reads the trail in the console
    _login_auditor = c.passwords["audrey"]
    page.fill("input[name=username]", "audrey")
    page.fill("input[name=password]", _login_auditor)
    page.click("button[type=submit]")
    page.goto(c.url + "/audit")
    page.wait_for_selector("#table >> text=biometric.search")
    page.click("#verify")
    page.wait_for_selector("#verify-result.match")
    page.screenshot(path=str(shots / "audit.png"))
    page.close()
    actions = {r.action for r in AuditLog(c.svc.db).list(1000, actor="oscar")}
    assert {"auth.login", "footage.live", "footage.playback", "biometric.enrol", "biometric.search",
            "auth.logout"} <= actions
    logged = json.dumps([r.detail for r in AuditLog(c.svc.db).list(1000, action="auth.login_failed")])
    assert "oscar" not in logged


def test_fingerprints_page_in_the_browser(console: Console, browser: object, output_dir: Path) -> None:
    """The console's fingerprint page: a person's fingers listed, a finger enrolled from an uploaded image, another
    impression identified as them with its false match rate, and a 1:1 check."""
    c = console
    person = _enrol_face(c, "Cleo Prints", "img13.jpg")
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    _login(page, c, "oscar")
    page.goto(c.url + "/fingers")
    page.wait_for_function("(id) => [...document.querySelectorAll('#finger-person option')].some(o => o.value === id)",
                           arg=person)
    page.select_option("#finger-person", person)
    page.wait_for_selector("#finger-list >> text=Nothing yet")
    page.select_option("#finger-enrol select[name=finger]", "7")
    page.set_input_files("#finger-enrol input[name=file]", str(FVC / "105_1.tif"))
    page.fill("#finger-enrol input[name=legal_basis]", "store room access")
    page.click("#finger-enrol button")
    page.wait_for_selector("#finger-status >> text=enrolled left index")
    page.wait_for_selector("#finger-list td >> text=7 — left index")
    page.set_input_files("#finger-identify input[name=file]", str(FVC / "105_3.tif"))
    page.fill("#finger-identify input[name=justification]", "print on the store room door")
    page.click("#finger-identify button")
    page.wait_for_selector("#identify-result .match >> text=Cleo Prints")
    assert "impostors" in page.inner_text("#identify-result")
    page.select_option("#finger-verify select[name=person_id]", person)
    page.set_input_files("#finger-verify input[name=file]", str(FVC / "106_1.tif"))
    page.fill("#finger-verify input[name=justification]", "is this her print on the box?")
    page.click("#finger-verify button")
    page.wait_for_selector("#verify-result >> text=No match")
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(output_dir / "screenshots" / "fingers.png"))
    page.close()
    records = AuditLog(c.svc.db).list(200, actor="oscar")
    assert any(r.action == "biometric.finger_identify" and r.justification == "print on the store room door"
               and person in r.detail for r in records)
    httpx.delete(f"{c.url}/api/people/{person}", headers=bearer(c, "oscar"))


def test_event_filters_accept_times_without_offset_as_utc(console: Console) -> None:
    h = bearer(console, "ada")
    r = httpx.get(console.url + "/api/events?start=2020-01-01T00:00:00&end=2100-01-01T00:00:00&limit=5", headers=h)
    assert r.status_code == 200 and len(r.json()["events"]) <= 5
    r = httpx.get(console.url + "/api/events?zone=nowhere", headers=h)
    assert r.status_code == 200 and r.json()["events"] == []


def test_first_admin_comes_from_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "clearwatch", "users", "create", "root-admin", "--role", "admin",
                        "--data", str(tmp_path), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["role"] == "admin" and len(created["password"]) >= 16
    from clearwatch.storage import Database

    db = Database(f"sqlite:///{tmp_path / 'clearwatch.db'}")
    assert Users(db).check_password("root-admin", created["password"]) is not None
    assert [x.action for x in AuditLog(db).list(10)] == ["user.create"]
    again = subprocess.run([sys.executable, "-m", "clearwatch", "users", "create", "root-admin", "--data",
                            str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_login_limiter_counts_names_and_addresses_separately() -> None:
    from clearwatch.api.security import LoginLimiter

    lim = LoginLimiter(per_user=3, per_address=5, window=60)
    for _ in range(3):
        lim.failed("10.0.0.1", "ann")
    assert lim.blocked("10.0.0.1", "ann") > 0 and lim.blocked("10.0.0.2", "ann") > 0  # the name is locked
    assert lim.blocked("10.0.0.1", "bob") == 0  # the address is not, yet
    for name in ("c1", "c2"):
        lim.failed("10.0.0.1", name)
    assert lim.blocked("10.0.0.1", "bob") > 0 and lim.blocked("10.0.0.9", "bob") == 0


def test_live_hub_wakes_watchers_on_each_frame_until_they_stop() -> None:
    import numpy as np

    from clearwatch.api.live import LiveHub

    hub, woken = LiveHub(), []
    unwatch = hub.watch("gate", lambda: woken.append("gate"))
    hub.watch("yard", lambda: woken.append("yard"))
    image = np.zeros((8, 8, 3), np.uint8)
    hub.publish("gate", image, 1.0)
    hub.publish("gate", image, 1.1)
    hub.publish("yard", image, 1.1)
    assert woken == ["gate", "gate", "yard"]
    unwatch()
    unwatch()  # twice is harmless
    hub.publish("gate", image, 1.2)
    assert woken == ["gate", "gate", "yard"]
    latest = hub.latest("gate")
    assert latest is not None and latest.seq == 3

    def closed_loop() -> None:
        raise RuntimeError("Event loop is closed")
    hub.watch("gate", closed_loop)
    hub.publish("gate", image, 1.3)  # a viewer whose server is gone does not break the camera's thread
    hub.publish("gate", image, 1.4)
    assert hub._watchers.get("gate", []) == []


def test_schemathesis_finds_no_server_errors(console: Console, output_dir: Path) -> None:
    # its own admin, and last in this module: the fuzzer changes and deletes whatever it can reach
    user, _ = Users(console.svc.db).create("fuzzer", "admin")
    token = Users(console.svc.db).create_token(user, "schemathesis")
    report = output_dir / "schemathesis"
    r = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", f"{console.url}/api/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
         "--max-examples", os.environ.get("CW_SCHEMATHESIS_EXAMPLES", "12"), "--request-timeout", "20",
         "--exclude-path-regex", "live|stream|logout",
         "--report", "junit", "--report-dir", str(report)],
        capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"},
        cwd=report.parent)  # it keeps a crash cache (.schemathesis/) in its working directory
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
