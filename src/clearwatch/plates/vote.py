"""Several reads of one plate (by different recognisers, from different frames) made into one, character by
character, each vote weighted by the recogniser's confidence in that character."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from clearwatch.plates.formats import normalise


@dataclass(frozen=True)
class Reading:
    """A normalised read (capitals and digits) with a confidence per character."""

    text: str
    confidences: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return min(self.confidences) if self.confidences else 0.0

    @property
    def mean_confidence(self) -> float:
        return sum(self.confidences) / len(self.confidences) if self.confidences else 0.0


def reading(raw: str, confidences: list[float]) -> Reading | None:
    """Keep what ``normalise`` keeps of an OCR line, each character with its own confidence."""
    if normalise(raw) is None:
        return None
    kept = [(c.upper(), p) for c, p in zip(raw, confidences, strict=True) if c.isascii() and c.isalnum()]
    return Reading("".join(c for c, _ in kept), tuple(p for _, p in kept))


def vote(readings: list[Reading]) -> Reading | None:
    """The length with the most confidence behind it, then at each position the character with the most.
    A character's confidence is its share of all the confidence cast at that position by reads of that length."""
    if not readings:
        return None
    by_length: dict[int, list[Reading]] = defaultdict(list)
    for r in readings:
        by_length[len(r.text)].append(r)
    group = max(by_length.values(), key=lambda rs: (sum(sum(r.confidences) for r in rs), len(rs)))
    text, confs = [], []
    for i in range(len(group[0].text)):
        weight: dict[str, float] = defaultdict(float)
        for r in group:
            weight[r.text[i]] += r.confidences[i]
        best = max(weight, key=weight.__getitem__)
        text.append(best)
        confs.append(round(weight[best] / len(group), 4))
    return Reading("".join(text), tuple(confs))
