"""WeChat mini programs: login, access tokens, phone numbers, user-data crypto, and the codes
and links that open a mini program."""

from minibase.platforms.wechat.client import AsyncWeChatClient, WeChatClient
from minibase.platforms.wechat.crypto import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)
from minibase.platforms.wechat.links import CodeImage

__all__ = [
    "AsyncWeChatClient",
    "CodeImage",
    "WeChatClient",
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "sign_raw_data",
    "verify_raw_data",
]
