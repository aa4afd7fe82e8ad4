"""Biometric data at rest: AES-256-GCM with a key that never lives in the database.

Each record is ``version || nonce || ciphertext+tag``; the associated data binds a ciphertext to its row
(``face:<person>:<kind>``), so a template copied onto another person's row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clearwatch.errors import ClearwatchError

VERSION = b"\x01"
NONCE = 12
KEY_ENV = "CLEARWATCH_KEY"


class EncryptionKeyError(ClearwatchError):
    """The encryption key is missing, malformed or not the one the data was written with."""


def _parse_key(text: bytes, where: str) -> bytes:
    raw = text.strip()
    if len(raw) == 32 and not raw.isascii():
        return raw
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise EncryptionKeyError(f"{where}: the key must be 32 bytes, base64-encoded (make one with "
                        "'clearwatch keys create FILE')")
    return key


def load_key(key_file: Path | None = None, env: str = KEY_ENV) -> bytes:
    """The key from ``key_file``, else from the environment variable ``env``; a clear error without one."""
    if key_file is not None:
        try:
            mode = key_file.stat().st_mode
            data = key_file.read_bytes()
        except FileNotFoundError:
            raise EncryptionKeyError(f"encryption key file {key_file} not found (create it with "
                            f"'clearwatch keys create {key_file}')") from None
        except OSError as exc:
            raise EncryptionKeyError(f"cannot read encryption key file {key_file}: {exc.strerror}") from None
        if mode & 0o077:
            raise EncryptionKeyError(f"encryption key file {key_file} is readable by others: chmod 600 {key_file}")
        return _parse_key(data, str(key_file))
    value = os.environ.get(env)
    if value:
        return _parse_key(value.encode(), f"${env}")
    raise EncryptionKeyError(f"no encryption key for biometric data: set identity.key_file in the config or "
                             f"${env} (create a key with 'clearwatch keys create FILE')")


def create_key_file(path: Path) -> None:
    if path.exists():
        raise EncryptionKeyError(f"{path} already exists: a key is never overwritten "
                                 "(the data it protects would be lost)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")


class Cipher:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)
        # identifies the key without revealing it: stored once, compared at start-up
        self.fingerprint = hmac.new(key, b"clearwatch key check v1", hashlib.sha256).hexdigest()

    def encrypt(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE)
        return VERSION + nonce + self._aead.encrypt(nonce, data, context.encode())

    def decrypt(self, blob: bytes, context: str) -> bytes:
        if len(blob) < 1 + NONCE + 16 or blob[:1] != VERSION:
            raise EncryptionKeyError(f"encrypted record for {context} is malformed")
        try:
            return self._aead.decrypt(blob[1:1 + NONCE], blob[1 + NONCE:], context.encode())
        except InvalidTag:
            raise EncryptionKeyError(f"cannot decrypt {context}: wrong key, or the record was altered") from None
