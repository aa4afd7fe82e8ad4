"""The central node's apply rules on made-up messages: repeats change nothing, gaps are counted, a site cannot
write as another site, pictures stay in the site's folder, old versions never replace newer ones."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearwatch.config.federation import CentralConfig
from clearwatch.federation.apply import Applier, Incoming
from clearwatch.federation.natsconf import hub_conf, site_permissions
from clearwatch.federation.subjects import message_id, parse_source, site_stream, site_subject
from clearwatch.storage import Database, EventRecord
from clearwatch.storage.models import FedSite


@pytest.fixture
def applier(db_url: str, tmp_path: Path) -> Iterator[Applier]:
    """On SQLite and on PostgreSQL, which writes a batch's events in one upsert of its own."""
    db = Database(db_url)
    db.migrate()
    yield Applier(db, tmp_path / "snapshots", ["north", "south"])
    db.dispose()


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
    later = applier.apply([msg("north", "event", 3, event("e1", end=1.8e9 + 9, label="car")),
                           msg("north", "event", 4, event("e2"))])  # an update and a new one in the same batch
    assert later.applied == 2
    with applier.db.session() as s:
        row = s.get(EventRecord, "e1")
        assert row is not None and row.label == "car" and row.version == 3
        assert row.end is not None and row.end.timestamp() == 1.8e9 + 9
        assert row.zones == [] and row.box is None and row.data == {}
        assert s.get(EventRecord, "e2") is not None


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


def test_what_the_database_refuses_is_refused_alone(applier: Applier) -> None:
    """A value PostgreSQL refuses (a camera name longer than its column) must not hold up the batch for ever: the
    rest is applied, that message counted as refused, and the site's sequence goes on past it."""
    long_name = event("b")
    long_name["event"] = {**long_name["event"], "camera": "c" * 100}  # type: ignore[dict-item]
    r = applier.apply([msg("north", "event", 1, event("a")), msg("north", "event", 2, long_name),
                       msg("north", "event", 3, event("c")), msg("north", "event", 4, {"event": {"id": "d"}})])
    with applier.db.session() as s:
        assert s.get(EventRecord, "a") is not None and s.get(EventRecord, "c") is not None
        assert s.get(EventRecord, "d") is None  # no camera, no start: refused before the database
        refused_by_db = s.get(EventRecord, "b") is None
    assert refused_by_db == (applier.db.dialect == "postgresql")  # SQLite does not enforce lengths
    assert r.rejected == 1 + refused_by_db and r.applied == 3 - refused_by_db
    row = site_row(applier, "north")
    assert row.last_seq == 4 and row.rejected == r.rejected and row.applied == r.applied


def test_site_counters_add_up_across_batches_and_keep_what_a_batch_did_not_bring(applier: Applier) -> None:
    applier.apply([msg("north", "health", 1, {"key": "health", "cameras": 3}),
                   msg("north", "event", 2, event("c1"))])
    first = site_row(applier, "north")
    assert (first.applied, first.last_seq) == (2, 2) and first.health is not None and first.health["cameras"] == 3
    assert first.last_event_at is not None and first.last_message_at is not None
    applier.apply([msg("north", "event", 2, event("c1")), msg("north", "alarm", 3, {"alarm": "not an alarm"})])
    second = site_row(applier, "north")
    # a repeat and a refused message: counted, the health and the last event's time kept
    assert (second.applied, second.duplicates, second.rejected, second.last_seq) == (2, 1, 1, 3)
    assert second.health == first.health and second.last_event_at == first.last_event_at
    applier.apply([msg("north", "event", 3, event("c2"))])  # only a repeat: the last message's time stays
    assert site_row(applier, "north").last_message_at == second.last_message_at


def test_an_event_at_a_time_no_clock_holds_is_refused_alone(applier: Applier) -> None:
    bad = event("far")
    bad["event"]["start"] = 1e300  # type: ignore[index]
    r = applier.apply([msg("south", "event", 1, bad), msg("south", "event", 2, event("fine"))])
    assert (r.applied, r.rejected) == (1, 1)
    with applier.db.session() as s:
        assert s.get(EventRecord, "fine") is not None and s.get(EventRecord, "far") is None
    assert site_row(applier, "south").last_seq == 2


def test_where_each_sites_latest_message_lies_in_the_central_stream(applier: Applier) -> None:
    """What the central node weighs before re-making a stalled source: how far back the hub would look."""
    batch = [dataclasses.replace(msg("north", "event", 1, event("n1")), position=7),
             dataclasses.replace(msg("south", "event", 1, event("s1")), position=8),
             dataclasses.replace(msg("north", "event", 2, event("n2")), position=9)]
    applier.apply(batch)
    assert applier.positions == {"north": 9, "south": 8}
    applier.apply(batch[:1])  # a replay moves nothing back
    assert applier.positions == {"north": 9, "south": 8}
