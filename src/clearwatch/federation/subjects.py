"""Names on the wire: subjects, streams, message ids. One place, so the site, the central node and the server
configs written for them agree.

- ``cw.site.<site>.<kind>``: what a site publishes, into its own stream ``CW_SITE_<site>`` on its own server;
  the central server's ``CW_CENTRAL`` sources every site stream through ``$JS.<site domain>.API``.
- ``cw.cmd.<site>.<kind>``: what the central node tells a site, in ``CW_CMDS`` on the central server; each site
  pulls its own subjects through a durable consumer named after it.
- ``cw.req.<site>.<what>``: requests a site answers at once (ping, footage, a live picture).
"""

from __future__ import annotations

from dataclasses import dataclass

CENTRAL_STREAM = "CW_CENTRAL"
COMMAND_STREAM = "CW_CMDS"
CENTRAL_CONSUMER = "central"
MSG_ID = "Nats-Msg-Id"
SOURCE = "Nats-Stream-Source"  # set by the central server on what it sourced: "<stream>:<hash> <seq>"

# what a site publishes (kinds of cw.site.<site>.<kind>)
SITE_KINDS = ("event", "snapshot", "alarm", "health", "checkpoint", "receipt")
COMMAND_KINDS = ("erase", "person", "users")


def site_stream(site: str) -> str:
    return f"CW_SITE_{site}"


def site_subject(site: str, kind: str) -> str:
    return f"cw.site.{site}.{kind}"


def command_subject(site: str, kind: str) -> str:
    return f"cw.cmd.{site}.{kind}"


def request_subject(site: str, what: str) -> str:
    return f"cw.req.{site}.{what}"


def inbox_prefix(site: str) -> str:
    """Each site's replies come to its own inboxes, so a site's server can be allowed only those."""
    return f"_INBOX_{site}"


def consumer_name(site: str) -> str:
    return f"site-{site}"


def message_id(site: str, kind: str, key: str, payload: bytes) -> str:
    """Stable across retries and unique otherwise: the same record with the same content is the same message,
    so the site server's de-duplication drops a retry whose first attempt was stored but not acknowledged.
    (Not the outbox row's id: SQLite reuses those once the outbox has emptied.)"""
    import hashlib

    return f"{site}.{kind}.{key}.{hashlib.sha256(payload).hexdigest()[:24]}"


@dataclass(frozen=True)
class SiteMessage:
    site: str
    kind: str


def parse_site_subject(subject: str) -> SiteMessage | None:
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "cw" or parts[1] != "site":
        return None
    return SiteMessage(parts[2], parts[3])


def parse_source(header: str | None) -> tuple[str, int] | None:
    """(site stream name, its sequence number) from the central server's ``Nats-Stream-Source`` header."""
    if not header:
        return None
    tokens = header.split()  # 2.9: "S:hash 5"; later servers add the filter and transform after the sequence
    try:
        return tokens[0].split(":", 1)[0], int(tokens[1])
    except (IndexError, ValueError):
        return None


def site_of_stream(stream: str) -> str | None:
    return stream[len("CW_SITE_"):] if stream.startswith("CW_SITE_") else None
