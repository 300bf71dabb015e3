"""The user's platform profile (nickname, avatar ...), as the client got it from the platform:
either `rawData` with its signature (sha1 over rawData + session key) or the encrypted user info.
Only what the signature or the encryption proves is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.auth.user_data import decrypt_user_data, platform_session_key
from minibase.auth.users import User, check_profile, get_user, update_user
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.platforms import PlatformError
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.services import Services

PROFILE_KEYS = ("nickName", "avatarUrl", "gender", "city", "province", "country", "language")
_USER_INFO_PLATFORMS = frozenset({"wechat", "qq", "douyin", "baidu"})
_SIGNED_RAW_DATA = frozenset({"wechat", "qq", "douyin"})  # sha1(rawData + session key)


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > 16384:
        raise ApiError("request.invalid_body", 400, f"{name} is required (a string)")
    return value


async def update_platform_profile(
    services: Services, caller: Caller, body: Mapping[str, Any]
) -> User:
    if caller.id is None or not caller.platform or not caller.appid:
        raise ApiError("auth.no_session", 400, "sign in through a platform first")
    app = await services.apps.get(caller.platform, caller.appid)
    if app.platform not in _USER_INFO_PLATFORMS:
        raise ApiError("request.invalid_body", 400, f"{app.platform} sends no signed user info")
    async with services.db.reader() as conn:
        key = await platform_session_key(conn, services, caller, app)
    try:
        if "raw_data" in body:
            if app.platform not in _SIGNED_RAW_DATA:
                raise ApiError(
                    "request.invalid_body",
                    400,
                    f"{app.platform} sends encrypted_data and iv, not raw_data",
                )
            raw = _text(body, "raw_data")
            if not wechat_crypto.verify_raw_data(raw, _text(body, "signature"), key):
                raise ApiError(
                    "auth.invalid_encrypted_data", 400, "the signature does not match raw_data"
                )
            data = orjson.loads(raw)
        else:
            data = decrypt_user_data(
                app,
                key,
                _text(body, "encrypted_data"),
                _text(body, "iv"),
                services.settings.phone_max_age,
            )
    except PlatformError as exc:
        raise platform_failure(exc) from None
    except orjson.JSONDecodeError:
        raise ApiError("request.invalid_body", 400, "raw_data is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError("request.invalid_body", 400, "the user info is not an object")
    found = {key: data[key] for key in PROFILE_KEYS if key in data}
    async with services.db.transaction() as conn:
        user = await get_user(conn, caller.id)
        profile = check_profile({**user.profile, **found})
        return await update_user(conn, services.clock, user, profile=profile)
