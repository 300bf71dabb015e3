"""Baidu's encrypted user data.

AES-192-CBC with key = base64(session_key) (24 bytes) and the iv given alongside; the plaintext
is 16 random bytes, a 4-byte big-endian length, the JSON user data, then the app key, padded
PKCS#7-style to a multiple of 32 bytes (smartprogram.baidu.com, "用户数据的签名验证和加解密";
Baidu's sample pads with values up to 32). The app key suffix plays the watermark's part.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Mapping
from typing import Any

from minibase.platforms.cipher import b64decode, b64encode, cbc_decrypt, cbc_encrypt
from minibase.platforms.errors import PlatformError

SESSION_KEY_BYTES = 24
PAD_TO = 32
_HEADER = 16 + 4


def decrypt_user_data(
    session_key: str, encrypted_data: str, iv: str, app_key: str
) -> dict[str, Any]:
    """Raises PlatformError: "decrypt_failed", or "watermark_mismatch" for another app's data."""
    key = b64decode(session_key, platform="baidu", what="session key")
    if len(key) != SESSION_KEY_BYTES:
        raise PlatformError("baidu", "decrypt_failed", "the session key is not 24 bytes")
    plaintext = cbc_decrypt(
        key,
        b64decode(iv, platform="baidu", what="iv"),
        b64decode(encrypted_data, platform="baidu", what="encrypted data"),
        platform="baidu",
        pad_to=PAD_TO,
    )
    if len(plaintext) < _HEADER:
        raise PlatformError("baidu", "decrypt_failed", "the plaintext is too short")
    (length,) = struct.unpack(">I", plaintext[16:_HEADER])
    content, suffix = plaintext[_HEADER : _HEADER + length], plaintext[_HEADER + length :]
    if len(content) != length:
        raise PlatformError("baidu", "decrypt_failed", "the plaintext is shorter than it says")
    if suffix != app_key.encode("utf-8"):
        raise PlatformError("baidu", "watermark_mismatch", "the data was made for another app")
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PlatformError("baidu", "decrypt_failed", "the user data is not JSON") from error
    if not isinstance(data, dict):
        raise PlatformError("baidu", "decrypt_failed", "the user data is not a JSON object")
    return data


def encrypt_user_data(
    session_key: str,
    data: Mapping[str, Any],
    app_key: str,
    *,
    iv: str | None = None,
    random_prefix: bytes | None = None,
) -> tuple[str, str]:
    """The inverse, for sandboxes and tests: (encrypted_data, iv)."""
    key = base64.b64decode(session_key, validate=True)
    if len(key) != SESSION_KEY_BYTES:
        raise ValueError("a Baidu session key is 24 bytes, base64-encoded")
    prefix = os.urandom(16) if random_prefix is None else random_prefix
    if len(prefix) != 16:
        raise ValueError("the random prefix is 16 bytes")
    iv_bytes = os.urandom(16) if iv is None else base64.b64decode(iv, validate=True)
    content = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    plaintext = prefix + struct.pack(">I", len(content)) + content + app_key.encode("utf-8")
    return b64encode(cbc_encrypt(key, iv_bytes, plaintext, pad_to=PAD_TO)), b64encode(iv_bytes)
