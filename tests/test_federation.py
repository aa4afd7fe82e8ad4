"""Sites and a central node on real nats-server processes (a hub and a leaf server per site, each on its own
ports and store directory): store-and-forward through a cut link and a killed central process, a site killed
mid-publish, repeats, credentials, a site posing as another, and erasures for an offline site."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from clearwatch.config import Config
from clearwatch.federation import CentralNode, FederationError
from clearwatch.federation.link import connect
from clearwatch.federation.subjects import message_id, site_stream, site_subject
from clearwatch.storage import Database, EventRecord
from clearwatch.storage.models import AuditRecord, FedSite
from tests.conftest import SHARED
from tests.support.natsd import Topology, nats_available
from tests.support.site_rig import SiteRig

pytestmark = pytest.mark.skipif(nats_available() is not None, reason=nats_available() or "")
SITES = ["north", "south"]
PHOTOS = SHARED / "data/faces/photos"


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topology]:
    t = Topology(tmp_path / "nats", SITES)
    t.start()
    yield t
    t.stop()


def central_yaml(root: Path, topo: Topology, web_port: int | None = None) -> Path:
    cfg = {"data_dir": str(root / "central"), "central": topo.central_section(),
           "web": {"enabled": web_port is not None, "port": web_port or 0}, "logging": {"level": "info"}}
    path = root / "central.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start_central(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "clearwatch", "central", str(config)], stdout=out,
                                stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def central_rows(db: Database) -> dict[str, EventRecord]:
    with db.session() as s:
        return {r.id: r for r in s.scalars(select(EventRecord))}


def test_link_cut_and_killed_central_lose_and_repeat_nothing(topo: Topology, tmp_path: Path) -> None:
    rigs = {name: SiteRig(tmp_path, name, topo.site_link(name)) for name in SITES}
    for rig in rigs.values():
        rig.start()
    cfg_path = central_yaml(tmp_path, topo)
    log = tmp_path / "central.log"
    central = start_central(cfg_path, log)
    cdb = Database(Config.model_validate(yaml.safe_load(cfg_path.read_text())).database_url)
    try:
        until = time.monotonic() + 60.0  # both sites produce 10 events/s for a minute, whatever happens
        producers = [threading.Thread(target=r.produce, args=(until,)) for r in rigs.values()]
        for p in producers:
            p.start()
        time.sleep(10)
        topo.hub.stop()  # the link is cut: sites keep recording into their own streams
        time.sleep(20)
        topo.hub.start()
        time.sleep(8)
        central.send_signal(signal.SIGKILL)  # killed mid-apply of the backlog
        central.wait(10)
        central = start_central(cfg_path, log)
        for p in producers:
            p.join()

        def all_there() -> bool:
            try:
                have = central_rows(cdb)
            except Exception:
                return False
            return all(eid in have and have[eid].end is not None for r in rigs.values() for eid in r.produced)

        wait_for(all_there, 90, "every site's events at the central node")
        have = central_rows(cdb)
        for name, rig in rigs.items():
            assert len(rig.produced) >= 500, "the producer fell behind"
            mine = {eid: r for eid, r in have.items() if r.site == name}
            assert set(mine) == set(rig.produced), f"{name}: events missing or foreign"
            with rig.db.session() as s:
                local = {r.id: r for r in s.scalars(select(EventRecord))}
            assert all(mine[e].end == local[e].end and mine[e].track_id == local[e].track_id for e in mine)
        with cdb.session() as s:
            sites = {r.name: r for r in s.scalars(select(FedSite))}
        for name in SITES:
            # every message of the site's stream applied once, in order: no gap, nothing refused
            assert sites[name].gaps == 0 and sites[name].rejected == 0, log.read_text()[-3000:]
            assert sites[name].applied == sites[name].last_seq
        # applied in the site's order: each event's row was last written by a later message than the one before
        ordered = [have[e].version or 0 for e in rigs["north"].produced]
        assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
        # the hub asked each site for its source before the leaf links were back, and would have waited 5 s for an
        # answer: the central node re-made both sources as soon as their sites answered (and the above shows that
        # nothing came twice or went missing for it)
        remade = " ".join(line for line in log.read_text().splitlines() if "re-made" in line)
        assert all(name in remade for name in SITES), log.read_text()[-3000:]
    finally:
        central.send_signal(signal.SIGTERM)
        central.wait(20)
        for rig in rigs.values():
            rig.stop()
        cdb.dispose()


def start_central_node(root: Path, topo: Topology) -> tuple[CentralNode, Database]:
    """A central node in this process, on its own SQLite database."""
    ccfg = Config.model_validate(yaml.safe_load(central_yaml(root, topo).read_text()))
    cdb = Database(ccfg.database_url)
    cdb.migrate()
    node = CentralNode(ccfg, cdb)
    node.start()
    return node, cdb


def start_site(root: Path, topo: Topology, name: str, seconds: float, log: Path) -> subprocess.Popen[bytes]:
    """A site as a process of its own (``tests.support.site_rig``), producing events for ``seconds``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.support.site_rig", str(root), name,
                                 json.dumps(topo.site_link(name)), str(seconds)], stdout=out, stderr=out,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_site_killed_mid_publish_and_restarted_loses_and_repeats_nothing(topo: Topology, tmp_path: Path) -> None:
    node, cdb = start_central_node(tmp_path, topo)
    log = tmp_path / "north.log"
    try:
        site = start_site(tmp_path, topo, "north", 60, log)
        wait_for(lambda: "producing" in log.read_text(), 60, "the site producing")
        wait_for(lambda: len(central_rows(cdb)) >= 30, 30, "the site's first events at the central node")
        site.send_signal(signal.SIGKILL)  # in the middle of writing events and handing them to its server
        site.wait(10)
        topo.sites["north"].stop()  # and its server restarted too, while messages may be under way
        topo.sites["north"].start()
        site = start_site(tmp_path, topo, "north", 5, log)  # the same data: its outbox sends what was left
        assert site.wait(90) == 0, log.read_text()[-3000:]
        sdb = Database(Config.model_validate({"data_dir": str(tmp_path / "north")}).database_url)
        with sdb.session() as s:
            local = {r.id: r for r in s.scalars(select(EventRecord))}
        sdb.dispose()
        assert len(local) > 60, "the site produced before and after the kill"

        def all_there() -> bool:
            have = central_rows(cdb)
            return all(e in have and have[e].end == r.end for e, r in local.items())

        wait_for(all_there, 60, "every event the site holds, in its last state, at the central node")
        have = central_rows(cdb)
        assert set(have) == set(local), "events at the central node that the site does not hold"
        with cdb.session() as s:
            row = s.get(FedSite, "north")
            assert row is not None
            # every message of the site's stream applied once, in order: no gap, nothing refused
            assert row.gaps == 0 and row.rejected == 0 and row.applied == row.last_seq
        # and the site's stream holds each message once: what the killed process had handed over but not yet
        # marked as sent went again after the restart, under the same id, and the server kept only the first
        ids = asyncio.run(_stream_msg_ids(topo, "north"))
        assert len(ids) == row.last_seq and len(set(ids)) == len(ids)
    finally:
        node.stop()
        cdb.dispose()


async def _stream_msg_ids(topo: Topology, site: str) -> list[str]:
    nc = await connect(topo.site_nats(site), name="check")
    try:
        js = nc.jetstream()
        info = await js.stream_info(site_stream(site))
        seqs = range(info.state.first_seq, info.state.last_seq + 1)
        msgs = [await js.get_msg(site_stream(site), seq) for seq in seqs]
        return [str((m.headers or {}).get("Nats-Msg-Id")) for m in msgs]
    finally:
        await nc.close()


def test_repeats_credentials_and_a_site_posing_as_another(topo: Topology, tmp_path: Path) -> None:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import NoStreamResponseError

    node, cdb = start_central_node(tmp_path, topo)
    south = topo.site_nats("south")

    async def scenario() -> dict[str, object]:
        out: dict[str, object] = {}
        wrong = south.model_copy(update={"password": "guess"})
        try:
            await connect(wrong, name="wrong")
        except FederationError as exc:
            out["wrong"] = str(exc)
        nc = await connect(south, name="south")
        js = nc.jetstream()
        from nats.js.api import StreamConfig

        await js.add_stream(StreamConfig(name=site_stream("south"), subjects=["cw.site.south.>"]))
        body = {"site": "south", "type": "start", "event": {"id": "s-1", "camera": "gate", "kind": "object",
                                                              "label": "car", "start": 1.8e9}}
        headers = {"Nats-Msg-Id": message_id("south", "event", "s-1", json.dumps(body).encode())}
        acks = [await js.publish(site_subject("south", "event"), json.dumps(body).encode(), headers=headers)
                for _ in range(2)]  # published twice (a retry after a lost acknowledgement)
        out["dup"] = [bool(a.duplicate) for a in acks]
        forged = {**body, "site": "north", "event": {**body["event"], "id": "n-forged"}}  # type: ignore[dict-item]
        await js.publish(site_subject("south", "event"), json.dumps(forged).encode(),
                         headers={"Nats-Msg-Id": "forged"})
        try:  # north's subjects: south's server has no stream for them
            await js.publish(site_subject("north", "event"), b"{}", timeout=2)
            out["north_subject"] = "accepted"
        except (NoRespondersError, NoStreamResponseError):
            out["north_subject"] = "no responders"
        try:  # north's stream, through south's leaf: its permissions do not reach it
            await nc.jetstream(domain="site-north", timeout=2).stream_info(site_stream("north"))
            out["north_stream"] = "read"
        except (NatsTimeout, NoRespondersError, Exception) as exc:
            out["north_stream"] = type(exc).__name__
        try:
            await nc.request("cw.req.north.ping", b"{}", timeout=2)
            out["north_ping"] = "answered"
        except (NoRespondersError, NatsTimeout) as exc:
            out["north_ping"] = type(exc).__name__
        await nc.close()
        return out

    try:
        out = asyncio.run(scenario())
        assert "refused the credentials" in str(out["wrong"]) and "user 'clearwatch'" in str(out["wrong"])
        assert out["dup"] == [False, True]
        assert out["north_subject"] == "no responders" and out["north_stream"] != "read"
        assert out["north_ping"] != "answered"

        def applied() -> bool:
            with cdb.session() as s:
                row = s.get(FedSite, "south")
                return row is not None and row.last_seq >= 2
        wait_for(applied, 20, "south's messages at the central node")
        with cdb.session() as s:
            rows = list(s.scalars(select(EventRecord)))
            south_row = s.get(FedSite, "south")
            assert south_row is not None
            assert [r.id for r in rows] == ["s-1"] and rows[0].site == "south"  # once; the forgery refused
            assert south_row.rejected == 1 and south_row.applied >= 1
    finally:
        node.stop()
        cdb.dispose()


def test_erasure_waits_for_an_offline_site(topo: Topology, tmp_path: Path) -> None:
    from clearwatch.governance.audit import Actor
    from clearwatch.storage.models import Person

    rigs = {name: SiteRig(tmp_path, name, topo.site_link(name)) for name in SITES}
    now = __import__("datetime").datetime.now(__import__("datetime").UTC)
    for rig in rigs.values():
        with rig.db.session() as s:
            s.add(Person(id=f"p-{rig.config.site.name}", name="Ada", external_ref="E-1", tags=[], watchlists=[],
                         legal_basis="staff", enrolled_by="hr", created_at=now, updated_at=now))
        rig.link.registry = _registry_for(rig)
        rig.start()
    node, cdb = start_central_node(tmp_path, topo)
    try:
        wait_for(lambda: all(node.links[s].up for s in SITES), 20, "both sites linked")
        topo.sites["south"].stop()  # south is offline
        wait_for(lambda: not node.links["south"].up, 10, "south seen offline")
        request = node.erase("E-1", Actor("dpo", "admin"), "subject asked to be forgotten (ref 42)")
        wait_for(lambda: "north" in node.command(request)["confirmed"], 20, "north's receipt")  # type: ignore[index]
        status = node.command(request)
        assert status is not None and status["pending"] == ["south"] and not status["complete"]
        time.sleep(3)
        topo.sites["south"].start()
        wait_for(lambda: node.command(request)["complete"], 60, "south's receipt once back")  # type: ignore[index]
        status = node.command(request)
        assert status is not None
        for name, rig in rigs.items():
            got = status["confirmed"][name]
            assert [e["person_id"] for e in got["erased"]] == [f"p-{name}"]
            with rig.db.session() as s:
                assert s.get(Person, f"p-{name}") is None
    finally:
        node.stop()
        for rig in rigs.values():
            rig.stop()
        cdb.dispose()


def _registry_for(rig: SiteRig):  # type: ignore[no-untyped-def]
    """A face registry over the site's database, with its own key."""
    from clearwatch.identity import FaceRegistry
    from clearwatch.identity.crypto import Cipher

    reg = FaceRegistry(rig.db, Cipher(os.urandom(32)))
    reg.start()
    return lambda: reg


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared face photos missing")
def test_enrolments_and_users_reach_their_sites(topo: Topology, tmp_path: Path) -> None:
    from clearwatch.governance import Users
    from clearwatch.governance.audit import Actor
    from clearwatch.identity import FaceRegistry, Photo
    from clearwatch.identity.crypto import Cipher

    rigs = {name: SiteRig(tmp_path, name, topo.site_link(name)) for name in SITES}
    registries = {}
    for rig in rigs.values():
        rig.link.registry = registries.setdefault(rig.config.site.name, _registry_for(rig))
        rig.start()
    ccfg = Config.model_validate(yaml.safe_load(central_yaml(tmp_path, topo).read_text()))
    cdb = Database(ccfg.database_url)
    cdb.migrate()
    central_registry = FaceRegistry(cdb, Cipher(os.urandom(32)))
    central_registry.start()
    photo = lambda n: Photo(n, (PHOTOS / n).read_bytes())  # noqa: E731
    ada = central_registry.enrol("Ada", [photo("img1.jpg"), photo("img4.jpg")], legal_basis="site access policy",
                                 enrolled_by="hr", external_ref="E-7", watchlists=["vip"])
    users = Users(cdb)
    _, olga_pw = users.create("olga", "operator", None, None, ["south"])
    users.create("dora", "admin")
    node = CentralNode(ccfg, cdb)
    node.start()
    dpo = Actor("dpo", "admin")
    try:
        enrolment = node.push_person(central_registry.export_person(ada.id), dpo, "badge issued")
        sync = node.push_users(users.export(), dpo, "staff list")
        wait_for(lambda: node.command(enrolment)["complete"] and node.command(sync)["complete"],  # type: ignore[index]
                 30, "both sites' receipts")
        assert all(r["done"] for r in node.command(enrolment)["confirmed"].values())  # type: ignore[index]
        probe = photo("img5.jpg")
        for name, rig in rigs.items():
            reg = registries[name]()
            shot = reg.analyse_photo(probe)
            assert shot.embedding is not None
            best = reg.identify(shot.embedding, k=1)[0]
            assert (best.person_id, best.watchlists) == (ada.id, ["vip"]) and best.similarity >= reg.threshold
            with rig.db.session() as s:
                enrolled = [a for a in s.scalars(select(AuditRecord).where(AuditRecord.action == "person.enrol"))]
            assert [a.actor for a in enrolled] == ["dpo@central"]
        # each user goes to the sites they may see; a password set centrally works at the site
        assert Users(rigs["south"].db).check_password("olga", olga_pw) is not None
        assert Users(rigs["north"].db).get("olga") is None and Users(rigs["north"].db).get("dora") is not None
        confirmed = node.command(sync)["confirmed"]  # type: ignore[index]
        assert sorted(confirmed["south"]["created"]) == ["dora", "olga"] and confirmed["north"]["created"] == ["dora"]
        # the same enrolment again replaces, it does not add
        again = node.push_person(central_registry.export_person(ada.id), dpo, "badge re-issued", ["north"])
        wait_for(lambda: node.command(again)["complete"], 30, "north's receipt")  # type: ignore[index]
        assert len(registries["north"]().templates(ada.id)) == 2
    finally:
        node.stop()
        for rig in rigs.values():
            rig.stop()
        cdb.dispose()
