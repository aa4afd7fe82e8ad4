"""Webhook delivery: HTTP POST of the event JSON, HMAC-SHA256 signed, retried on failure."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from clearwatch.config.events import WebhookConfig
from clearwatch.events.outbox import PermanentError, TransientError
from clearwatch.sources.urls import redact_url
from clearwatch.storage import OutboxMessage

SIGNATURE_HEADER = "X-Clearwatch-Signature"
TIMESTAMP_HEADER = "X-Clearwatch-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body``: the timestamp stops replays of old deliveries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookTransport:
    def __init__(self, name: str, cfg: WebhookConfig):
        self.target = f"webhook:{name}"
        self.cfg = cfg
        self.safe_url = redact_url(cfg.url)
        self.client = httpx.Client(timeout=cfg.timeout, follow_redirects=False,
                                   headers={"User-Agent": "clearwatch-webhook/1"})

    def deliver(self, msg: OutboxMessage) -> None:
        body = msg.payload.encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts,
                   "X-Clearwatch-Topic": msg.topic, "X-Clearwatch-Delivery": str(msg.id)}
        if self.cfg.secret:
            headers[SIGNATURE_HEADER] = sign(self.cfg.secret, ts, body)
        try:
            r = self.client.post(self.cfg.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"POST {self.safe_url}: {type(exc).__name__}: {exc}") from None
        if r.status_code < 300:
            return
        reason = f"POST {self.safe_url}: HTTP {r.status_code}"
        if r.status_code in (408, 425, 429) or r.status_code >= 500:
            raise TransientError(reason)
        raise PermanentError(reason)

    def close(self) -> None:
        self.client.close()
