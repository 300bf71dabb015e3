"""Encryption at rest and the Secret type.

One master key (32 bytes) protects everything: values are sealed with AES-256-GCM under a key
derived per purpose (HKDF), and each sealed value carries its key id so keys can rotate.
The master key comes from settings (MINIBASE_MASTER_KEY) or, on the embedded default, from a
file created once in the data directory with owner-only permissions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minibase.private_files import FILE_MODE, make_private_dir, tighten_existing


class VaultError(ValueError):
    pass


class Secret:
    """A secret string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, or the data directory's key file (created on first use)."""
    if configured:
        return _decode_key(configured, "MINIBASE_MASTER_KEY")
    path = data_dir / "master.key"
    if path.exists():
        tighten_existing(path)
        return _decode_key(path.read_text().strip(), str(path))
    make_private_dir(data_dir)
    key = os.urandom(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VaultError(f"{source}: the master key must be base64 of 32 bytes") from None
    if len(key) != 32:
        raise VaultError(f"{source}: the master key must be base64 of 32 bytes, got {len(key)}")
    return key


class Vault:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise VaultError("master key must be 32 bytes")
        self._master = master_key
        self.key_id = hashlib.sha256(b"minibase/key-id" + master_key).hexdigest()[:8]

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose (token signing, sealing, keyed hashes), stable per master key."""
        return HKDF(
            algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()
        ).derive(self._master)

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt for storage: `v1.<key id>.<base64 nonce+ciphertext>`; context binds the use."""
        nonce = os.urandom(12)
        box = AESGCM(self.derive("minibase/seal/v1"))
        sealed = box.encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, context: str) -> Secret:
        try:
            version, key_id, payload = sealed.split(".", 2)
            if version != "v1" or key_id != self.key_id:
                raise VaultError(f"sealed with another key ({key_id})")
            raw = base64.urlsafe_b64decode(payload)
            box = AESGCM(self.derive("minibase/seal/v1"))
            return Secret(box.decrypt(raw[:12], raw[12:], context.encode()).decode())
        except VaultError:
            raise
        except Exception:
            raise VaultError("sealed value is corrupt or belongs to another context") from None

    def keyed_hash(self, value: str, purpose: str) -> str:
        """A deterministic HMAC to look a secret up without decrypting every row."""
        key = self.derive(f"minibase/lookup/{purpose}")
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
