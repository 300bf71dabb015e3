"""Douyin (ByteDance) mini programs: login, encrypted user data, subscribe notifications and
content checks."""

from minibase.platforms.douyin.client import AsyncDouyinClient, DouyinClient
from minibase.platforms.douyin.crypto import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)

__all__ = [
    "AsyncDouyinClient",
    "DouyinClient",
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "sign_raw_data",
    "verify_raw_data",
]
