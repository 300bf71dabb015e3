"""WeChat mini programs: login, access tokens, phone numbers, and user-data crypto."""

from minibase.platforms.wechat.client import AsyncWeChatClient, WeChatClient
from minibase.platforms.wechat.crypto import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)

__all__ = [
    "AsyncWeChatClient",
    "WeChatClient",
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "sign_raw_data",
    "verify_raw_data",
]
