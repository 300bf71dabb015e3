"""Baidu smart programs: login and encrypted user data."""

from minibase.platforms.baidu.client import AsyncBaiduClient, BaiduClient
from minibase.platforms.baidu.crypto import decrypt_user_data, encrypt_user_data

__all__ = ["AsyncBaiduClient", "BaiduClient", "decrypt_user_data", "encrypt_user_data"]
