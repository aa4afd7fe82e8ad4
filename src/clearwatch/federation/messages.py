"""What a site queues for the central node: outbox messages with target ``nats``, written in the same transaction
as the record they carry, so nothing recorded at a site is lost on its way to the central node."""

from __future__ import annotations

import base64
import json
from typing import Any

from clearwatch.config import Config
from clearwatch.storage.events import Message
from clearwatch.timeparse import json_default

TARGET = "nats"


def site_message(config: Config, kind: str, key: str, body: dict[str, Any]) -> list[Message]:
    """The message that carries ``body`` to the central node (none when this installation is not a site)."""
    if config.site.nats is None:
        return []
    return [Message(TARGET, f"{kind}/{key}", json.dumps({"site": config.site.name, **body},
                                                        separators=(",", ":"), default=json_default))]


def picture_messages(config: Config, pictures: dict[str, bytes]) -> list[Message]:
    """Pictures (path under the snapshots folder → JPEG) small enough to travel; larger ones stay at the site."""
    link = config.site.nats
    if link is None:
        return []
    out: list[Message] = []
    for path, data in pictures.items():
        if len(data) <= link.snapshot_max_bytes:
            out += site_message(config, "snapshot", path,
                                {"path": path, "jpeg": base64.b64encode(data).decode("ascii")})
    return out
