"""The central node's apply rules on made-up messages: repeats change nothing, gaps are counted, a site cannot
write as another site, pictures stay in the site's folder, old versions never replace newer ones."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from clearwatch.config.federation import CentralConfig
from clearwatch.federation.apply import Applier, Incoming
from clearwatch.federation.natsconf import hub_conf, site_permissions
from clearwatch.federation.subjects import message_id, parse_source, site_stream, site_subject
from clearwatch.storage import Database, EventRecord
from clearwatch.storage.models import FedSite


@pytest.fixture
def applier(tmp_path: Path) -> Applier:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.migrate()
    return Applier(db, tmp_path / "snapshots", ["north", "south"])


def msg(site: str, kind: str, seq: int, body: dict[str, object], stream_site: str | None = None,
        claimed: str | None = None) -> Incoming:
    data = json.dumps({"site": claimed or site, **body}).encode()
    headers = {"Nats-Stream-Source": f"{site_stream(stream_site or site)}:abc {seq}",
               "Nats-Msg-Id": message_id(site, kind, "k", data)}
    return Incoming(site_subject(site, kind), headers, data)


def event(eid: str, *, end: float | None = None, label: str = "person") -> dict[str, object]:
    return {"type": "end" if end else "start", "event": {"id": eid, "camera": "gate", "kind": "object",
                                                          "label": label, "start": 1.8e9, "end": end,
                                                          "snapshot": "gate/2027-01-15/x.jpg"}}


def site_row(a: Applier, name: str) -> FedSite:
    with a.db.session() as s:
        row = s.get(FedSite, name)
        assert row is not None
        return row


def test_repeats_change_nothing_and_newer_versions_win(applier: Applier) -> None:
    first = [msg("north", "event", 1, event("e1")), msg("north", "event", 2, event("e1", end=1.8e9 + 5))]
    r = applier.apply(first)
    assert (r.applied, r.duplicates, r.gaps) == (2, 0, 0)
    again = applier.apply(first)  # a replay after a crash between commit and acknowledgement
    assert (again.applied, again.duplicates) == (0, 2)
    with applier.db.session() as s:
        row = s.get(EventRecord, "e1")
        assert row is not None and row.end is not None and row.version == 2 and row.site == "north"
        assert row.snapshot == "sites/north/gate/2027-01-15/x.jpg"
    assert site_row(applier, "north").duplicates == 2


def test_gaps_are_counted_not_hidden(applier: Applier) -> None:
    applier.apply([msg("south", "event", 1, event("s1")), msg("south", "event", 4, event("s2"))])
    row = site_row(applier, "south")
    assert row.gaps == 2 and row.last_seq == 4 and row.applied == 2


def test_a_site_cannot_write_as_another(applier: Applier) -> None:
    applier.apply([msg("north", "event", 1, event("n1"))])
    r = applier.apply([
        msg("south", "event", 1, event("x"), claimed="north"),  # says north inside south's stream
        msg("north", "event", 1, event("y"), stream_site="south"),  # north's subject from south's stream
        msg("south", "event", 2, event("n1", label="car")),  # takes over north's event id
        msg("east", "event", 1, event("z")),  # not a configured site
    ])
    assert r.applied == 0 and r.rejected == 4
    with applier.db.session() as s:
        row = s.get(EventRecord, "n1")
        assert row is not None and row.label == "person" and row.site == "north"
        assert s.get(EventRecord, "x") is None and s.get(EventRecord, "y") is None


def test_pictures_stay_in_the_sites_folder(applier: Applier, tmp_path: Path) -> None:
    jpeg = base64.b64encode(b"\xff\xd8picture").decode()
    ok = applier.apply([msg("north", "snapshot", 1, {"path": "gate/d/e1.jpg", "jpeg": jpeg})])
    assert ok.applied == 1
    assert (tmp_path / "snapshots/sites/north/gate/d/e1.jpg").read_bytes() == b"\xff\xd8picture"
    bad = applier.apply([msg("north", "snapshot", 2, {"path": "../../../etc/x.jpg", "jpeg": jpeg}),
                         msg("north", "snapshot", 3, {"path": "/abs.jpg", "jpeg": jpeg}),
                         msg("north", "snapshot", 4, {"path": "a.jpg", "jpeg": "not base64!"})])
    assert bad.rejected == 3 and not (tmp_path / "etc").exists()


def test_source_header_of_old_and_new_servers() -> None:
    assert parse_source("CW_SITE_north:x1TzAtgz 5") == ("CW_SITE_north", 5)
    assert parse_source("CW_SITE_north:x1TzAtgz 5 > >") == ("CW_SITE_north", 5)
    assert parse_source("garbage") is None and parse_source(None) is None


def test_site_permissions_name_only_its_own_subjects() -> None:
    perms = site_permissions("north", "site-north", "hub")
    everything = " ".join(perms["publish"] + perms["subscribe"])
    assert "south" not in everything and "cw.req.north.>" in perms["subscribe"]
    assert not any(p in (">", "cw.>", "cw.site.>", "$JS.API.>") for p in perms["publish"] + perms["subscribe"])
    central = CentralConfig.model_validate({"sites": {"north": {"leaf_password": "pw"}, "south": {}}})
    with pytest.raises(ValueError, match=r"south\.leaf_password"):
        hub_conf(central, listen="127.0.0.1:1", leaf_listen="127.0.0.1:2", store_dir=Path("/x"))
