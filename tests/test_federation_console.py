"""Two sites recording and analysing a camera each, and a central node over them, on real nats-server
processes: cross-site search with per-site permissions, footage fetched from a site (the site's own export,
audited on both sides), a live picture, an offline site answered at once, and the sites page in Chromium
showing a site go down and come back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from clearwatch.config import Config
from clearwatch.config.loader import parse_config
from clearwatch.governance import Users
from clearwatch.recording import export_range
from clearwatch.service import Service
from clearwatch.service.central import CentralService
from clearwatch.storage import HoldStore
from clearwatch.storage.models import AuditRecord
from tests.support.helpers import make_config, wait_for
from tests.support.natsd import Topology, nats_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(nats_available() is not None, reason=nats_available() or "")]
CHROMIUM = "/usr/bin/chromium"
SITES = ["north", "south"]


@dataclass
class Federation:
    topo: Topology
    sites: dict[str, Service]
    central: CentralService
    url: str
    tokens: dict[str, str]
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def fed(h264_clip: Path, tmp_path_factory: pytest.TempPathFactory, detector: object) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("federation")
    topo = Topology(tmp / "nats", SITES)
    topo.start()
    sites: dict[str, Service] = {}
    central: CentralService | None = None
    try:
        for name in SITES:
            link = json.dumps(topo.site_link(name))
            cfg = make_config(tmp / name, {"gate": str(h264_clip)},
                              extra=f"site: {{name: {name}, nats: {link}}}\nrecord: {{segment_seconds: 4}}\n"
                                    "web: {enabled: false}")
            sites[name] = Service(cfg)
            sites[name].start()
        ccfg = parse_config(f"data_dir: {tmp / 'central'}\nweb: {{port: 0}}\n"
                            f"central: {json.dumps(topo.central_section())}\n")
        central = CentralService(ccfg)
        central.start()
        users = Users(central.db)
        tokens, passwords = {}, {}
        for who, role, limit in (("ada", "admin", None), ("olga", "operator", ["south"])):
            user, passwords[who] = users.create(who, role, None, None, limit)
            tokens[who] = users.create_token(user, "tests")
        yield Federation(topo, sites, central, f"http://127.0.0.1:{central.web_port}", tokens, passwords)
    finally:
        if central is not None:
            central.stop()
        for svc in sites.values():
            svc.stop()
        topo.stop()


def auth(f: Federation, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {f.tokens[who]}"}


def events(f: Federation, who: str, **params: str) -> httpx.Response:
    return httpx.get(f"{f.url}/api/events", params={"limit": "500", **params}, headers=auth(f, who), timeout=10)


def audit(cfg: Config | Service | CentralService, action: str) -> list[AuditRecord]:
    db = cfg.db  # type: ignore[union-attr]
    with db.session() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_events_of_every_site_with_per_site_permissions(fed: Federation) -> None:
    def both() -> bool:
        r = events(fed, "ada")
        return r.status_code == 200 and {e["site"] for e in r.json()["events"]} >= set(SITES)

    assert wait_for(both, 90) is not None, "events from both sites at the central node"
    north = events(fed, "ada", site="north").json()["events"]
    assert north and all(e["site"] == "north" and e["camera"] == "gate" for e in north)
    seen_by_olga = events(fed, "olga").json()["events"]
    assert seen_by_olga and {e["site"] for e in seen_by_olga} == {"south"}
    assert events(fed, "olga", site="north").status_code == 403
    assert [s["name"] for s in httpx.get(f"{fed.url}/api/sites", headers=auth(fed, "olga")).json()] == ["south"]
    with_picture = next((e for e in north if e["snapshot"]), None)
    assert with_picture is not None, "snapshots travel with events"
    pic = httpx.get(f"{fed.url}/api/events/{with_picture['id']}/snapshot.jpg", headers=auth(fed, "ada"))
    assert pic.status_code == 200 and pic.content[:2] == b"\xff\xd8"


def test_footage_is_fetched_from_the_site_and_audited_on_both_sides(fed: Federation, tmp_path: Path) -> None:
    north = fed.sites["north"]
    assert wait_for(lambda: len([s for s in north.index.list("gate") if s.status == "complete"]) >= 2, 60)
    done = [s for s in north.index.list("gate") if s.status == "complete"]
    start, end = done[0].start + timedelta(seconds=1), done[1].end - timedelta(seconds=1)
    r = httpx.get(f"{fed.url}/api/sites/north/cameras/gate/export", headers=auth(fed, "ada"), timeout=60,
                  params={"start": start.isoformat(), "end": end.isoformat(), "justification": "incident 7 review"})
    assert r.status_code == 200, r.text
    own = export_range(north.config.recordings_dir, north.index, HoldStore(north.db), "gate", start, end,
                       tmp_path / "own.mp4")
    assert r.content == own.path.read_bytes() and len(r.content) > 10_000
    mine = [a for a in audit(fed.central, "footage.export") if a.target == "north/gate"]
    assert mine and mine[-1].actor == "ada" and mine[-1].justification == "incident 7 review"
    theirs = [a for a in audit(north, "footage.export") if a.actor == "ada@central"]
    assert theirs and theirs[-1].justification == "incident 7 review"
    assert "sha256" in json.loads(theirs[-1].detail)

    olga = httpx.get(f"{fed.url}/api/sites/north/cameras/gate/export", headers=auth(fed, "olga"),
                     params={"start": start.isoformat(), "end": end.isoformat(), "justification": "curious"})
    assert olga.status_code == 403  # not her site

    pic = httpx.get(f"{fed.url}/api/sites/south/cameras/gate/snapshot.jpg", headers=auth(fed, "olga"), timeout=20)
    assert pic.status_code == 200 and pic.content[:2] == b"\xff\xd8"
    assert any(a.actor == "olga@central" for a in audit(fed.sites["south"], "footage.snapshot"))

    fed.topo.sites["north"].stop()  # north's link is down: asked, it does not keep the operator waiting
    try:
        t0 = time.monotonic()
        down = httpx.get(f"{fed.url}/api/sites/north/cameras/gate/snapshot.jpg", headers=auth(fed, "ada"),
                         timeout=20)
        assert down.status_code == 503 and "offline" in down.json()["detail"]
        assert time.monotonic() - t0 < 3
    finally:
        fed.topo.sites["north"].start()


def test_users_and_roles_pushed_from_the_central_node(fed: Federation) -> None:
    r = httpx.post(f"{fed.url}/api/sites/users/push", headers=auth(fed, "ada"), timeout=20,
                   json={"justification": "staff list of December"})
    assert r.status_code == 202, r.text
    request_id = r.json()["id"]

    def complete() -> bool:
        status = httpx.get(f"{fed.url}/api/sites/commands/{request_id}", headers=auth(fed, "ada")).json()
        return bool(status["complete"])

    assert wait_for(complete, 30) is not None, "both sites confirm"
    south, north = Users(fed.sites["south"].db), Users(fed.sites["north"].db)
    assert south.check_password("olga", fed.passwords["olga"]) is not None  # she may see south only
    assert north.get("olga") is None and north.check_password("ada", fed.passwords["ada"]) is not None
    assert any(a.actor == "ada@central" for a in audit(fed.sites["north"], "user.sync"))
    # a user limited to some sites cannot send a command to every site
    denied = httpx.post(f"{fed.url}/api/sites/erasures", headers=auth(fed, "olga"),
                        json={"person_id": "E-1", "justification": "asked to be forgotten"})
    assert denied.status_code == 403


def test_sites_page_shows_a_site_go_down_and_come_back(fed: Federation, output_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.goto(fed.url + "/login")
        page.fill("input[name=username]", "ada")
        page.fill("input[name=password]", fed.passwords["ada"])
        page.click("button[type=submit]")
        page.wait_for_url("**/sites")

        def link(site: str) -> str:
            return str(page.evaluate("""(site) => { for (const tr of document.querySelectorAll('#table tr')) {
                if (tr.cells[0] && tr.cells[0].textContent === site) return tr.querySelector('[data-link]')
                    ?.dataset.link || ''; } return ''; }""", site))

        page.wait_for_function("() => document.querySelectorAll('[data-link=up]').length === 2", timeout=20_000)
        fed.topo.sites["south"].stop()
        try:
            page.wait_for_function("() => document.querySelector('[data-link=down]')", timeout=20_000)
            assert link("south") == "down" and link("north") == "up"
            page.screenshot(path=str(shots / "sites-south-down.png"))
        finally:
            fed.topo.sites["south"].start()
        page.wait_for_function("() => document.querySelectorAll('[data-link=up]').length === 2", timeout=30_000)

        page.goto(fed.url + "/events?site=south")
        page.wait_for_selector("#event-rows tr")
        cells = page.eval_on_selector_all("#event-rows td.site", "tds => tds.map(t => t.textContent)")
        assert cells and set(cells) == {"south"}
        page.fill("input[name=site]", "")
        page.click("#event-filters button")
        page.wait_for_function("""() => { const s = new Set([...document.querySelectorAll('#event-rows td.site')]
            .map(t => t.textContent)); return s.has('north') && s.has('south'); }""", timeout=20_000)
        page.screenshot(path=str(shots / "events-all-sites.png"))
        browser.close()
