"""When the central node re-makes a site's source in the central stream (``federation.sources.to_remake``)."""

from __future__ import annotations

from clearwatch.federation.sources import MAX_SCAN, REMAKE_EVERY, STALLED_AFTER, SourceState, to_remake

NOW = 1000.0


def test_a_source_never_active_since_the_hub_started_is_remade_once_its_site_answers() -> None:
    sources = [SourceState("north", None), SourceState("south", None)]
    assert to_remake(sources, {"north"}, {"north": 10, "south": 10}, {}, NOW) == ["north"]
    assert to_remake(sources, {"north", "south"}, {"north": 10, "south": 10}, {}, NOW) == ["north", "south"]
    assert to_remake(sources, set(), {"north": 10, "south": 10}, {}, NOW) == []


def test_a_live_source_is_left_alone_and_a_silent_one_is_stalled() -> None:
    behind = {"north": 0}
    assert to_remake([SourceState("north", 0.9)], {"north"}, behind, {}, NOW) == []  # heard a heartbeat
    assert to_remake([SourceState("north", STALLED_AFTER)], {"north"}, behind, {}, NOW) == []
    assert to_remake([SourceState("north", STALLED_AFTER + 0.1)], {"north"}, behind, {}, NOW) == ["north"]


def test_not_remade_again_before_the_servers_own_retry_could_have_come() -> None:
    stalled = [SourceState("north", None)]
    assert to_remake(stalled, {"north"}, {"north": 0}, {"north": NOW - REMAKE_EVERY + 1}, NOW) == []
    assert to_remake(stalled, {"north"}, {"north": 0}, {"north": NOW - REMAKE_EVERY}, NOW) == ["north"]


def test_not_remade_where_the_hub_would_scan_far_back_or_where_that_is_unknown() -> None:
    stalled = [SourceState("north", None)]
    assert to_remake(stalled, {"north"}, {"north": MAX_SCAN}, {}, NOW) == ["north"]
    assert to_remake(stalled, {"north"}, {"north": MAX_SCAN + 1}, {}, NOW) == []
    assert to_remake(stalled, {"north"}, {}, {}, NOW) == []  # nothing of it applied since this process started
