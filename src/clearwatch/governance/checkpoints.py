"""Signed checkpoints of the audit trail: the chain's head (record id and hash) signed with the installation's
key every few minutes and published (MQTT, witness webhooks), and at every trim of old records.

Someone with database access could rewrite the whole chain consistently; they could not sign its new head, and
every checkpoint a witness holds would stop matching the record it names. Trimming keeps a checkpoint at the
cut, so what remains still verifies from there."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select

from clearwatch.config import Config
from clearwatch.federation.messages import site_message
from clearwatch.governance.audit import Actor, AuditLog
from clearwatch.governance.signing import Signer, check_document
from clearwatch.storage import Database, Message
from clearwatch.storage.database import rowcount
from clearwatch.storage.models import AuditCheckpoint, AuditRecord, Hold
from clearwatch.timeparse import iso_z

log = logging.getLogger(__name__)
FORMAT = "clearwatch-audit-checkpoint/1"
SYSTEM = Actor("system", "admin", None)




def stored_checkpoints(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        docs = list(s.scalars(select(AuditCheckpoint.document).order_by(AuditCheckpoint.id)))
    out = []
    for d in docs:
        try:
            doc = json.loads(d)
        except json.JSONDecodeError:
            doc = {"broken": True}
        out.append(doc if isinstance(doc, dict) else {"broken": True})
    return out


def check_checkpoints(db: Database, checkpoints: Iterable[dict[str, Any]], trusted: set[str] | None, first: int,
                      head_id: int) -> list[str]:
    """Each checkpoint must be validly signed and match the record it names (while that record is kept)."""
    checkpoints = list(checkpoints)
    wanted = {c["record_id"] for c in checkpoints if isinstance(c.get("record_id"), int) and c["record_id"] >= first}
    hashes: dict[int, str] = {}
    if wanted:
        with db.session() as s:
            for rec_id, h in s.execute(select(AuditRecord.id, AuditRecord.hash).where(AuditRecord.id.in_(wanted))):
                hashes[int(rec_id)] = str(h)
    problems = []
    for c in checkpoints:
        n = c.get("record_id")
        where = f"signed checkpoint of {c.get('created', '?')} (record {n})"
        if c.get("format") != FORMAT or not isinstance(n, int):
            problems.append(f"{where}: not a checkpoint document")
            continue
        bad = check_document(c, trusted)
        if bad:
            problems += [f"{where}: {p}" for p in bad]
        elif n > head_id:
            problems.append(f"{where}: the chain ends at record {head_id}, before the record it names (records "
                            "cut off the end)")
        elif n >= first and hashes.get(n) != c.get("hash"):
            problems.append(f"{where}: record {n} does not match it — the chain was rewritten after it was signed")
    return problems


class Checkpointer:
    def __init__(self, config: Config, db: Database, signer: Signer,
                 queue: Callable[[list[Message]], None] | None = None):
        self.config = config
        self.db = db
        self.signer = signer
        self.audit = AuditLog(db)
        self.queue = queue

    def make(self, reason: str = "interval", force: bool = False) -> dict[str, Any] | None:
        """Sign the chain's head now (unless nothing was appended since the last checkpoint) and publish it."""
        rec_id, h = self.audit.head()
        if rec_id == 0:
            return None
        if not force:
            with self.db.session() as s:
                last = s.scalar(select(func.max(AuditCheckpoint.record_id)))
            if last == rec_id:
                return None
        return self._sign(rec_id, h, reason)

    def _sign(self, rec_id: int, h: str, reason: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        doc = self.signer.sign_document({"format": FORMAT, "site": self.config.site.name, "record_id": rec_id,
                                         "hash": h, "created": iso_z(now, "microseconds"), "reason": reason})
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        with self.db.session() as s:
            s.add(AuditCheckpoint(record_id=rec_id, hash=h, reason=reason, created_at=now,
                                  key_id=self.signer.key_id, document=text))
        self._publish(text, doc, rec_id)
        return doc

    def _publish(self, text: str, doc: dict[str, Any], rec_id: int) -> None:
        if self.queue is None:
            return
        messages = site_message(self.config, "checkpoint", str(rec_id), {"key": str(rec_id), "document": doc})
        if self.config.mqtt.enabled:
            messages.append(Message("mqtt", f"{self.config.mqtt.topic_prefix}/audit/checkpoint", text, retain=True))
        messages += [Message(f"webhook:{name}", "audit", text) for name in self.config.governance.witnesses]
        if messages:
            try:
                self.queue(messages)
            except Exception as exc:
                log.error("cannot queue the audit checkpoint for its witnesses: %s", exc)

    def trim(self, cutoff: datetime, holds: list[Hold]) -> int:
        """Delete records older than ``cutoff`` — none from an evidence hold's start on — after signing a
        checkpoint at the cut. The newest record always stays."""
        limit = min([cutoff, *(h.start for h in holds)])
        head_id, _ = self.audit.head()
        with self.db.session() as s:
            cut = s.scalar(select(func.max(AuditRecord.id)).where(AuditRecord.ts < iso_z(limit, "microseconds")))
            if cut is None:
                return 0
            cut = min(int(cut), head_id - 1)
            first = s.scalar(select(func.min(AuditRecord.id)))
            h = s.scalar(select(AuditRecord.hash).where(AuditRecord.id == cut))
        if h is None or first is None or cut < first:
            return 0
        self._sign(cut, h, "trim")
        with self.db.session() as s:
            deleted = rowcount(s.execute(delete(AuditRecord).where(AuditRecord.id <= cut)))
        self.audit.append(SYSTEM, "audit.trim", "", {"through_record": cut, "records": deleted,
                                                     "before": iso_z(limit, "microseconds")})
        return int(deleted)
