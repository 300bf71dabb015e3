"""QQ mini programs: WeChat's protocol family on api.q.qq.com."""

from minibase.platforms.qq.client import AsyncQQClient, QQClient
from minibase.platforms.qq.crypto import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)

__all__ = [
    "AsyncQQClient",
    "QQClient",
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "sign_raw_data",
    "verify_raw_data",
]
