"""The installation's Ed25519 signing key and signed JSON documents (export manifests, erasure receipts, audit
checkpoints).

The private key lives in a file outside the database (mode 600), like the biometric key: someone who can rewrite
the database cannot forge what it signs. A signed document carries its signature, the public key and the key's
id, so it can be checked anywhere; whether that key is *this installation's* (or one a witness published) is a
separate question that ``check_document`` answers when given the trusted key ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from clearwatch.config import Config

log = logging.getLogger(__name__)
KEY_ENV = "CLEARWATCH_SIGNING_KEY"
SIGNED = "signed"  # the key under which a document carries its signature


class SigningKeyError(ClearwatchError):
    """The signing key is missing, unreadable, exposed or not an Ed25519 key."""


def canonical_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey):
        self._private = private
        self.public_raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)
        self.public_b64 = base64.b64encode(self.public_raw).decode()
        self.key_id = key_id(self.public_raw)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode()

    def sign_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with a ``signed`` block over its canonical JSON (any earlier ``signed`` block replaced)."""
        body = {k: v for k, v in doc.items() if k != SIGNED}
        return {**body, SIGNED: {"algorithm": "Ed25519", "key_id": self.key_id, "public_key": self.public_b64,
                                 "signature": self.sign(canonical_json(body))}}


def check_document(doc: dict[str, Any], trusted: set[str] | None = None) -> list[str]:
    """What is wrong with a signed document (empty: the signature holds). ``trusted``: key ids it must be signed
    with (this installation's, or ones published to a witness); None: any key, which proves integrity only."""
    block = doc.get(SIGNED)
    if not isinstance(block, dict):
        return ["it carries no signature"]
    try:
        public_raw = base64.b64decode(str(block.get("public_key", "")), validate=True)
        signature = base64.b64decode(str(block.get("signature", "")), validate=True)
        public = Ed25519PublicKey.from_public_bytes(public_raw)
    except (binascii.Error, ValueError):
        return ["its signature block is malformed"]
    problems = []
    if key_id(public_raw) != block.get("key_id"):
        problems.append("its key id does not belong to its public key")
    body = {k: v for k, v in doc.items() if k != SIGNED}
    try:
        public.verify(signature, canonical_json(body))
    except InvalidSignature:
        problems.append("the signature does not match the content (edited after signing, or signed by another "
                        "key)")
    if trusted is not None and block.get("key_id") not in trusted:
        problems.append(f"signed with key {block.get('key_id')}, which is not a trusted key "
                        f"({', '.join(sorted(trusted)) or 'none'})")
    return problems


def create_signing_key(path: Path) -> Signer:
    """Write a new private key (PEM, mode 600); never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{path} exists already: a signing key is never overwritten") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    return Signer(private)


def _parse(data: bytes, where: str) -> Signer:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{where}: not a PEM private key (make one with 'clearwatch keys signing FILE')") \
            from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: not an Ed25519 key")
    return Signer(private)


def load_signer(path: Path | None, env: str = KEY_ENV, default: Path | None = None) -> Signer:
    """The key from ``path`` (which must exist), else ``$env`` (PEM text), else ``default`` — created there on
    first use, so that every installation signs from the start."""
    if path is None and os.environ.get(env):
        return _parse(os.environ[env].encode(), f"${env}")
    target = path or default
    if target is None:
        raise SigningKeyError(f"no signing key: set governance.signing_key or ${env}")
    if not target.exists():
        if path is not None:
            raise SigningKeyError(f"signing key file {path} not found (create it with 'clearwatch keys signing "
                                  f"{path}')")
        signer = create_signing_key(target)
        log.warning("created this installation's signing key %s (key id %s): back it up, and publish the "
                    "public key ('clearwatch keys public') to whoever checks your exports", target, signer.key_id)
        return signer
    try:
        mode = target.stat().st_mode
        data = target.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read signing key file {target}: {exc.strerror}") from None
    if mode & 0o077:
        raise SigningKeyError(f"signing key file {target} is readable by others: chmod 600 {target}")
    return _parse(data, str(target))


def installation_signer(config: Config) -> Signer:
    g = config.governance
    return load_signer(g.signing_key, g.signing_key_env, default=config.signing_key_path)


def trusted_keys(config: Config, signer: Signer | None = None) -> set[str]:
    """This installation's key id and the ones the config trusts besides."""
    return {(signer or installation_signer(config)).key_id, *config.governance.trusted_keys}


def verification_keys(config: Config) -> set[str] | None:
    """The key ids a signature must be made with to count here; None where this machine has no signing key and
    trusts none (then a signature proves integrity only). Never creates a key."""
    g = config.governance
    if g.signing_key is None and not os.environ.get(g.signing_key_env) and not config.signing_key_path.exists():
        return set(g.trusted_keys) or None
    try:
        return trusted_keys(config)
    except SigningKeyError as exc:
        log.warning("%s: checking signatures without a trusted key", exc)
        return None
