"""The user's data a platform encrypts for the client (phone, profile), decrypted with the
user's sealed platform session key, in each platform's scheme."""

from __future__ import annotations

from typing import Any

from minibase.auth.apps import PlatformApp
from minibase.auth.caller import Caller
from minibase.auth.identities import find_identity, session_key
from minibase.errors import ApiError
from minibase.platforms.baidu import crypto as baidu_crypto
from minibase.platforms.douyin import crypto as douyin_crypto
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.services import Services
from minibase.store.database import Connection


async def platform_session_key(
    conn: Connection, services: Services, caller: Caller, app: PlatformApp
) -> str:
    assert caller.id is not None
    identity = await find_identity(conn, caller.id, app.platform, app.appid)
    key = None if identity is None else await session_key(conn, services.vault, identity)
    if key is None:
        raise ApiError("auth.no_session", 400, "no platform session for this user; log in again")
    return key.reveal()


def decrypt_user_data(
    app: PlatformApp, key: str, encrypted: str, iv: str, max_age: int | None
) -> dict[str, Any]:
    if app.platform in ("wechat", "qq"):
        return wechat_crypto.decrypt_user_data(key, encrypted, iv, app.appid, max_age=max_age)
    if app.platform == "douyin":
        return douyin_crypto.decrypt_user_data(key, encrypted, iv, app.appid, max_age=max_age)
    if app.platform == "baidu":
        return baidu_crypto.decrypt_user_data(key, encrypted, iv, app.appid)
    raise ApiError(
        "request.invalid_body", 400, "Alipay sends response and sign, not encrypted_data"
    )
