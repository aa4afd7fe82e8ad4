"""Plate formats: what a registration looks like on a site's roads, and turning an OCR line into one.

A read is normalised (upper case, letters and digits only), then matched against the site's formats; when it
matches none as read, characters OCR often confuses (O/0, I/1, B/8, S/5, …) are swapped at as few positions as
possible until it does. A plausible plate that still matches no format is kept as unverified, never dropped.
Text that cannot be a registration — lower-case words, no digit, a dealer's or model's name — is refused.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

# shipped presets: each a list of full-match regular expressions over normalised text
PRESETS: dict[str, list[str]] = {
    "AR": [r"[A-Z]{2}[0-9]{3}[A-Z]{2}", r"[A-Z]{3}[0-9]{3}"],  # Mercosur (2016–) and the 1995 series
    "EU": [r"[A-Z]{2}[0-9]{3}[A-Z]{2}",  # FR, IT (SIV style)
           r"[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}[EH]?",  # DE: district, letters, digits
           r"[0-9]{4}[B-DF-HJ-NP-TV-Z]{3}",  # ES
           r"[A-Z]{2}[0-9]{2}[A-Z]{2}",  # NL sidecodes, PT
           r"[0-9]{1,3}[A-Z]{1,3}[0-9]{1,3}"],  # NL, BE
    "UK": [r"[A-Z]{2}[0-9]{2}[A-Z]{3}", r"[A-Z][0-9]{1,3}[A-Z]{3}", r"[A-Z]{3}[0-9]{1,3}[A-Z]"],
    "US": [r"(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{5,7}"],  # generic: 5–7, letters and digits
}
DEFAULT_FORMATS = ["AR", "EU", "UK", "US"]

# what OCR reads for what: a letter where the format wants a digit, and the other way round
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "Z": "2", "S": "5", "B": "8",
            "G": "6", "A": "4"}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A", "7": "T"}
MAX_SWAPS = 2  # more than this and it is not the same plate any more
MIN_LEN, MAX_LEN = 4, 10


class FormatError(ValueError):
    """A configured format is not a usable regular expression."""


@dataclass(frozen=True)
class PlateFormat:
    name: str
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return any(p.fullmatch(text) for p in self.patterns)


def compile_formats(specs: Sequence[str | dict[str, str]]) -> list[PlateFormat]:
    """Preset names ("AR", "EU", "UK", "US") or ``{"name": N, "regex": R}``; raises FormatError naming the bad one."""
    out = []
    for spec in specs:
        if isinstance(spec, str):
            if spec.upper() not in PRESETS:
                raise FormatError(f"unknown plate format preset {spec!r}: use {', '.join(PRESETS)} or "
                                  "{name: X, regex: '...'}")
            name, sources = spec.upper(), PRESETS[spec.upper()]
        else:
            name, sources = spec["name"], [spec["regex"]]
        patterns = []
        for src in sources:
            try:
                patterns.append(re.compile(src))
            except re.error as exc:
                raise FormatError(f"plate format {name!r}: regex {src!r} does not compile ({exc})") from None
        out.append(PlateFormat(name, tuple(patterns)))
    return out


def normalise(raw: str) -> str | None:
    """Letters and digits of an OCR line, upper case; None when the line cannot be a registration."""
    if any(c.islower() for c in raw):  # plates are printed in capitals: "Passat CC", "Titanium" are badges
        return None
    text = "".join(c for c in raw.upper() if c.isascii() and c.isalnum())
    if not MIN_LEN <= len(text) <= MAX_LEN:
        return None
    if not any(c.isdigit() for c in text):  # a model name or a word ("TITANIUM"), not a registration
        return None
    if sum(c.isalnum() for c in raw) < 0.7 * len(raw.replace(" ", "")):  # mostly punctuation: noise
        return None
    return text


@dataclass(frozen=True)
class Classified:
    text: str
    format: str | None  # None: plausible, but matches no configured format (unverified)
    swaps: int  # characters changed to fit the format


def classify(text: str, formats: list[PlateFormat]) -> Classified:
    """The format ``text`` fits, swapping as few confusable characters as it takes (at most MAX_SWAPS)."""
    for f in formats:
        if f.matches(text):
            return Classified(text, f.name, 0)
    options = [(i, TO_DIGIT.get(c) or TO_LETTER.get(c)) for i, c in enumerate(text)]
    swappable = [(i, alt) for i, alt in options if alt is not None]
    for n in range(1, MAX_SWAPS + 1):
        for combo in itertools.combinations(swappable, n):
            chars = list(text)
            for i, alt in combo:
                chars[i] = alt
            candidate = "".join(chars)
            for f in formats:
                if f.matches(candidate):
                    return Classified(candidate, f.name, n)
    return Classified(text, None, 0)
