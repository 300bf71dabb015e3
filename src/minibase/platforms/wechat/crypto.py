"""WeChat's user-data encryption and rawData signature; QQ and Douyin use the same scheme.

encryptedData is AES-128-CBC with key = base64(session_key), the iv given alongside, PKCS#7
padding, and a JSON plaintext whose `watermark` names the app and the time it was made.
The signature of rawData is sha1(rawData + session_key) in hex.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from minibase.platforms.cipher import b64decode, b64encode, cbc_decrypt, cbc_encrypt
from minibase.platforms.compare import same_text
from minibase.platforms.errors import PlatformError
from minibase.platforms.models import PhoneNumber

SESSION_KEY_BYTES = 16


def decrypt_user_data(
    session_key: str,
    encrypted_data: str,
    iv: str,
    appid: str,
    *,
    max_age: int | None = None,
    now: float | None = None,
    platform: str = "wechat",
    require_watermark: bool = True,
) -> dict[str, Any]:
    """Decrypt and check encryptedData from wx.getUserInfo, the old getPhoneNumber, and kin.

    Raises PlatformError: "decrypt_failed" (wrong key or iv, bad padding, not JSON),
    "watermark_mismatch" (made for another app), "expired_data" (older than `max_age` seconds).
    """
    key = b64decode(session_key, platform=platform, what="session key")
    if len(key) != SESSION_KEY_BYTES:
        raise PlatformError(platform, "decrypt_failed", "the session key is not 16 bytes")
    plaintext = cbc_decrypt(
        key,
        b64decode(iv, platform=platform, what="iv"),
        b64decode(encrypted_data, platform=platform, what="encrypted data"),
        platform=platform,
    )
    try:
        data = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PlatformError(platform, "decrypt_failed", "the plaintext is not JSON") from error
    if not isinstance(data, dict):
        raise PlatformError(platform, "decrypt_failed", "the plaintext is not a JSON object")
    _check_watermark(data, appid, platform, max_age, now, require_watermark)
    return data


def _check_watermark(
    data: Mapping[str, Any],
    appid: str,
    platform: str,
    max_age: int | None,
    now: float | None,
    required: bool,
) -> None:
    watermark = data.get("watermark")
    if not isinstance(watermark, Mapping):
        if required:
            raise PlatformError(platform, "watermark_mismatch", "the data has no watermark")
        return
    if watermark.get("appid") != appid:
        raise PlatformError(platform, "watermark_mismatch", "the data was made for another app")
    if max_age is None:
        return
    timestamp = watermark.get("timestamp")
    if not isinstance(timestamp, int | float):
        raise PlatformError(platform, "expired_data", "the watermark has no timestamp")
    current = time.time() if now is None else now
    if current - timestamp > max_age:
        raise PlatformError(platform, "expired_data", f"the data is older than {max_age} seconds")


def encrypt_user_data(
    session_key: str,
    data: Mapping[str, Any],
    appid: str,
    *,
    iv: str | None = None,
    timestamp: int | None = None,
) -> tuple[str, str]:
    """The inverse of decrypt_user_data, for sandboxes and tests: (encrypted_data, iv).

    A watermark {timestamp, appid} is added (now, unless `timestamp` is given).
    """
    key = base64.b64decode(session_key, validate=True)
    if len(key) != SESSION_KEY_BYTES:
        raise ValueError("a WeChat session key is 16 bytes, base64-encoded")
    iv_bytes = os.urandom(16) if iv is None else base64.b64decode(iv, validate=True)
    stamp = int(time.time()) if timestamp is None else timestamp
    payload = {**data, "watermark": {"timestamp": stamp, "appid": appid}}
    plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b64encode(cbc_encrypt(key, iv_bytes, plaintext)), b64encode(iv_bytes)


def sign_raw_data(raw_data: str, session_key: str) -> str:
    """The `signature` that comes with rawData: sha1 hex of rawData followed by the session key."""
    # sha1 is the platform's choice for this signature, not ours.
    return hashlib.sha1((raw_data + session_key).encode("utf-8")).hexdigest()  # noqa: S324


def verify_raw_data(raw_data: str, signature: str, session_key: str) -> bool:
    return same_text(sign_raw_data(raw_data, session_key), signature)


def decrypt_phone_number(
    session_key: str,
    encrypted_data: str,
    iv: str,
    appid: str,
    *,
    max_age: int | None = None,
    now: float | None = None,
    platform: str = "wechat",
    require_watermark: bool = True,
) -> PhoneNumber:
    """Decrypt the encryptedData of the getPhoneNumber button (the scheme before codes)."""
    data = decrypt_user_data(
        session_key,
        encrypted_data,
        iv,
        appid,
        max_age=max_age,
        now=now,
        platform=platform,
        require_watermark=require_watermark,
    )
    return PhoneNumber.from_user_data(data, platform=platform)
