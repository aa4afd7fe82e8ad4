"""Plate formats, confusable characters, the character vote, list matching and moving regions: made-up reads."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from clearwatch.plates.formats import FormatError, classify, compile_formats, normalise
from clearwatch.plates.lists import ListEntry, edit_distance, match
from clearwatch.plates.vote import Reading, reading, vote
from clearwatch.plates.watch import regions

FORMATS = compile_formats(["AR", "UK"])


@pytest.mark.parametrize(("raw", "text"), [("AB 123 CD", "AB123CD"), ("ab123cd", None), ("Passat CC", None),
                                           ("TITANIUM", None), ("KRW-301", "KRW301"), ("A1", None),
                                           ("AB1234567890", None), ("12 34", "1234")])
def test_normalise_keeps_plates_and_refuses_words_and_badges(raw: str, text: str | None) -> None:
    assert normalise(raw) == text


@pytest.mark.parametrize(("read", "fitted", "fmt", "swaps"), [
    ("AB123CD", "AB123CD", "AR", 0),
    ("A8123CD", "AB123CD", "AR", 1),  # an 8 where the format has a letter
    ("ABI23CD", "AB123CD", "AR", 1),  # an I where it has a digit
    ("KRW301", "KRW301", "AR", 0),
    ("AB12CDE", "AB12CDE", "UK", 0),
    ("A8I23CD", "AB123CD", "AR", 2),
    ("ZZZ99999", "ZZZ99999", None, 0),  # plausible, fits nothing: kept, unverified
    ("0O0O0O0", "0O0O0O0", None, 0),  # would need more than two swaps: not bent into a format
])
def test_classify_swaps_as_few_confusable_characters_as_it_takes(read: str, fitted: str, fmt: str | None,
                                                                swaps: int) -> None:
    c = classify(read, FORMATS)
    assert (c.text, c.format, c.swaps) == (fitted, fmt, swaps)


def test_custom_formats_and_bad_ones() -> None:
    mine = compile_formats([{"name": "site", "regex": "[A-Z]{2}-?[0-9]{4}"}])
    assert classify("XY1234", mine).format == "site"
    with pytest.raises(FormatError, match="does not compile"):
        compile_formats([{"name": "bad", "regex": "[A-Z"}])
    with pytest.raises(FormatError, match="unknown plate format preset"):
        compile_formats(["Narnia"])


def test_reading_keeps_each_characters_confidence() -> None:
    r = reading("AB 123-CD", [0.9, 0.8, 0.1, 0.7, 0.6, 0.5, 0.2, 0.4, 0.3])
    assert r == Reading("AB123CD", (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3))
    assert reading("Passat CC", [1.0] * 9) is None


def test_vote_is_by_character_weighted_by_confidence() -> None:
    reads = [Reading("KRN301", (0.9, 0.9, 0.6, 0.9, 0.9, 0.9)),
             Reading("KRW301", (0.9, 0.9, 0.95, 0.9, 0.9, 0.9)),
             Reading("KRW3O1", (0.9, 0.9, 0.9, 0.9, 0.3, 0.9)),
             Reading("KRW30", (0.99,) * 5)]  # a shorter misread: outvoted as a length
    v = vote(reads)
    assert v is not None and v.text == "KRW301"
    assert v.confidences[2] == pytest.approx((0.95 + 0.9) / 3, abs=1e-4)
    assert vote([]) is None


def test_edit_distance() -> None:
    assert [edit_distance(a, b) for a, b in [("AB123CD", "AB123CD"), ("AB123CD", "AB128CD"), ("AB123CD", "AB23CD"),
                                             ("KRW301", "KRW3011"), ("ABC", "XYZ")]] == [0, 1, 1, 1, 3]
    assert edit_distance("AAAAAAAA", "BBBBBBBB", limit=1) > 1


def test_list_match_exact_fuzzy_and_validity() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    entries = [ListEntry("stolen", "deny", "AB123CD"),
               ListEntry("guests", "visitor", "KRW301", valid_until=now - timedelta(minutes=1)),
               ListEntry("guests", "visitor", "AD799KB", valid_from=now - timedelta(hours=1),
                         valid_until=now + timedelta(hours=1)),
               ListEntry("later", "visitor", "GH789JK", valid_from=now + timedelta(days=1))]
    assert [(h.entry.list, h.distance) for h in match("AB123CD", entries, now)] == [("stolen", 0)]
    assert [(h.entry.list, h.distance) for h in match("AB128CD", entries, now)] == [("stolen", 1)]
    assert match("AB128CD", entries, now, max_distance=0) == []
    assert match("KRW301", entries, now) == []  # the visit is over
    assert [h.entry.plate for h in match("AD799KB", entries, now)] == ["AD799KB"]
    assert match("GH789JK", entries, now) == []  # not yet


def test_moving_boxes_become_reading_regions() -> None:
    boxes = np.array([[100, 100, 300, 200], [310, 120, 400, 210], [900, 500, 910, 505]], np.float32)
    out = regions(boxes, 1280, 720)
    assert len(out) == 1  # the two touching boxes merge; the speck is too small to hold a plate
    x1, y1, x2, y2 = out[0]
    assert x1 < 100 and y1 < 100 and x2 > 400 and y2 > 210
    wide = regions(np.array([[0, 100, 1280, 400]], np.float32), 1280, 720)
    assert len(wide) >= 3 and all(r[2] - r[0] <= 640 for r in wide)  # cut into tiles that overlap
    assert all(a[2] - b[0] >= 200 for a, b in itertools.pairwise(wide))


def test_moving_now_is_where_things_are_not_the_trail_they_left() -> None:
    from clearwatch.analytics.motion import Motion, moving_now

    before, now = np.zeros((60, 100), np.uint8), np.zeros((60, 100), np.uint8)
    before[20:40, 40:60] = 200
    now[20:40, 50:70] = 200  # moved 10 px right
    trail = np.array([[0, 18, 72, 42]], np.float32)  # what background subtraction still reports
    boxes = moving_now(Motion(trail, 0.1, now, before, 2.0))
    assert len(boxes) >= 1
    x1, y1, x2, y2 = boxes.min(0)[0], boxes.min(0)[1], boxes.max(0)[2], boxes.max(0)[3]
    assert 2 * 30 <= x1 <= 2 * 42 and x2 <= 2 * 80 and y1 >= 2 * 10 and y2 <= 2 * 50  # in frame pixels (×2)
    assert len(moving_now(Motion(np.zeros((0, 4), np.float32), 0.0, now, now, 2.0))) == 0
