"""QQ encrypts user data exactly as WeChat does; these name QQ in their errors."""

from __future__ import annotations

from typing import Any

from minibase.platforms.models import PhoneNumber
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.platforms.wechat.crypto import encrypt_user_data, sign_raw_data, verify_raw_data

__all__ = [
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "sign_raw_data",
    "verify_raw_data",
]


def decrypt_user_data(
    session_key: str,
    encrypted_data: str,
    iv: str,
    appid: str,
    *,
    max_age: int | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    return wechat_crypto.decrypt_user_data(
        session_key, encrypted_data, iv, appid, max_age=max_age, now=now, platform="qq"
    )


def decrypt_phone_number(
    session_key: str, encrypted_data: str, iv: str, appid: str, *, max_age: int | None = None
) -> PhoneNumber:
    return wechat_crypto.decrypt_phone_number(
        session_key, encrypted_data, iv, appid, max_age=max_age, platform="qq"
    )
