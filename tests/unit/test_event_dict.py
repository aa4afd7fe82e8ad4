"""An event's dict is what is stored and sent: all of it, and detached from the event analytics go on changing."""

from __future__ import annotations

from dataclasses import asdict

from clearwatch.events.model import Event


def _event() -> Event:
    return Event("gate", "plate", "car", 100.0, track_id=3, zones=["lane"], box=[0.1, 0.2, 0.3, 0.4],
                 crossings=[{"line": "barrier", "direction": "in", "time": 101.0}], path=[(100.0, 0.1, 0.2)],
                 data={"plate": {"text": "AB123", "reads": [1, 2]}})


def test_every_field_is_there_and_paths_are_lists() -> None:
    ev = _event()
    expected = asdict(ev)
    expected["path"] = [[100.0, 0.1, 0.2]]
    assert ev.as_dict() == expected


def test_changing_the_event_later_does_not_change_its_dict() -> None:
    ev = _event()
    d = ev.as_dict()
    ev.zones.append("yard")
    ev.crossings[0]["direction"] = "out"
    ev.box[0] = 0.9  # type: ignore[index]
    ev.path.append((101.0, 0.2, 0.3))
    ev.data["plate"]["reads"].append(3)
    assert d["zones"] == ["lane"] and d["crossings"][0]["direction"] == "in" and d["box"][0] == 0.1
    assert d["path"] == [[100.0, 0.1, 0.2]] and d["data"]["plate"]["reads"] == [1, 2]
