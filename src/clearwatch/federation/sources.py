"""Which of the central stream's sources to re-make, so that a returning link is sourced at once.

nats-server 2.9 asks a site's server for a source consumer when the hub starts, and again when a source stalls.
Asked while the leaf link is down, the request goes nowhere, and the server waits 5 s for its answer before it
asks again: after a hub restart, sourcing resumed ~5.2 s later even though the leaf links were back within one.
A source removed and added again (two stream updates) is asked for at once. Re-adding makes the hub scan its
stream backwards for that site's last message, to start where it stopped — nothing is copied twice — so a source
is re-made only when that scan is short: its site's last message is known to be recent in the central stream.
"""

from __future__ import annotations

from dataclasses import dataclass

STALLED_AFTER = 3.0  # seconds without a message or heartbeat: a live source hears one every second
REMAKE_EVERY = 10.0  # seconds between two re-makes of one source: the server itself asks again after 5
MAX_SCAN = 100_000  # central-stream messages the hub may read back to find where a re-made source stopped


@dataclass(frozen=True)
class SourceState:
    """A site's source as the central stream reports it."""

    site: str
    active: float | None  # seconds since its last message or heartbeat; None: none since the hub started


def to_remake(sources: list[SourceState], up: set[str], behind: dict[str, int], remade: dict[str, float],
              now: float) -> list[str]:
    """Sites whose source is stalled while the site itself answers (``up``), at most ``MAX_SCAN`` messages
    ``behind`` the end of the central stream (unknown: not re-made; the server's own retry comes anyway), and
    not re-made in the last ``REMAKE_EVERY`` seconds."""
    out = []
    for src in sources:
        stalled = src.active is None or src.active > STALLED_AFTER
        recent = behind.get(src.site, MAX_SCAN + 1) <= MAX_SCAN
        if stalled and src.site in up and recent and now - remade.get(src.site, -REMAKE_EVERY) >= REMAKE_EVERY:
            out.append(src.site)
    return sorted(out)
