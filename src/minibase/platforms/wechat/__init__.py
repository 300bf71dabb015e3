"""WeChat mini programs: login, access tokens, phone numbers, user-data crypto, the codes and
links that open a mini program, and the crypto of message push (消息推送)."""

from minibase.platforms.wechat.client import AsyncWeChatClient, WeChatClient
from minibase.platforms.wechat.crypto import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)
from minibase.platforms.wechat.links import CodeImage
from minibase.platforms.wechat.push import (
    OpenedPush,
    PushCrypto,
    PushError,
    msg_signature,
    parse_body,
    render_body,
)

__all__ = [
    "AsyncWeChatClient",
    "CodeImage",
    "OpenedPush",
    "PushCrypto",
    "PushError",
    "WeChatClient",
    "decrypt_phone_number",
    "decrypt_user_data",
    "encrypt_user_data",
    "msg_signature",
    "parse_body",
    "render_body",
    "sign_raw_data",
    "verify_raw_data",
]
