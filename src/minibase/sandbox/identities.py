"""Who a fake person is on each platform, and the random values the platforms hand out.

Identifiers are derived from (platform, app or account, person) with a hash, not stored: the
same person gets the same openid after the sandbox restarts, so a development database keeps
matching its users. Their shapes follow the real ones (length, prefix, alphabet) so that
column sizes and validators are exercised; they carry no meaning.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import uuid

_ALNUM = string.ascii_letters + string.digits


def _digest(*parts: str) -> bytes:
    # 48 bytes: enough entropy for the longest identifier (47 alphanumerics)
    return hashlib.shake_256("\x00".join(("minibase-sandbox", *parts)).encode()).digest(48)


def _alnum(raw: bytes, length: int) -> str:
    number = int.from_bytes(raw, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALNUM))
        chars.append(_ALNUM[index])
    return "".join(chars)


def _urlsafe(raw: bytes, length: int) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]


def openid(platform: str, appid: str, person: str) -> str:
    """The person's id inside one app."""
    raw = _digest("openid", platform, appid, person)
    if platform == "wechat":
        return "o" + _urlsafe(raw, 27)  # 28 characters, like oHAUs6LSuwgHq-mlnFrffKXw3QYM
    if platform == "qq":
        return raw[:16].hex().upper()
    if platform == "douyin":
        return "_000" + _urlsafe(raw, 32)
    if platform == "alipay":
        return "0" + _alnum(raw, 46)
    return _alnum(raw, 26)  # baidu


def anonymous_openid(appid: str, person: str) -> str:
    """Douyin's id for a person who has not logged in (from `anonymous_code`)."""
    return "_000" + _urlsafe(_digest("anonymous", appid, person), 32)


def unionid(platform: str, account: str, person: str) -> str:
    """The person's id across every app of one open-platform account."""
    raw = _digest("unionid", platform, account, person)
    if platform == "wechat":
        return "o" + _urlsafe(raw, 27)
    if platform == "douyin":
        return str(uuid.UUID(bytes=raw[:16]))
    if platform == "qq":
        return "UID_" + raw[:16].hex().upper()
    return _alnum(raw, 32)


def alipay_user_id(person: str) -> str:
    """Alipay's account-wide user id: "2088" and twelve digits."""
    number = int.from_bytes(_digest("alipay-user", person), "big") % 10**12
    return f"2088{number:012d}"


def session_key(platform: str) -> str:
    """A fresh session key in the platform's format (Baidu's decodes to 24 bytes)."""
    if platform == "baidu":
        return secrets.token_hex(16)  # 32 characters; base64-decoded it is an AES-192 key
    return base64.b64encode(secrets.token_bytes(16)).decode()


def login_code() -> str:
    return _alnum(secrets.token_bytes(32), 32)


def phone_code() -> str:
    return secrets.token_hex(32)


def access_token() -> str:
    return "sbx_" + secrets.token_urlsafe(96)


def alipay_token(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def app_secret() -> str:
    return secrets.token_hex(16)


def aes_key() -> str:
    """An Alipay content-encryption key: 128 random bits, base64."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


def link_ticket() -> str:
    """The random part of a URL scheme (`?t=...`) or URL link (`wxaurl.cn/...`)."""
    return _alnum(secrets.token_bytes(16), 11)


def request_id() -> str:
    """The `rid` WeChat appends to every errmsg: three groups of eight hex digits."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def log_id() -> str:
    """Douyin's per-response `log_id`."""
    return secrets.token_hex(16).upper()
