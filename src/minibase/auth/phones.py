"""Phone numbers: verified by the platform, stored sealed, found again by a keyed hash.

Flows: WeChat's current one (a getPhoneNumber code the server trades with
`wxa/business/getuserphonenumber`), the older encrypted data (WeChat, QQ, Douyin, Baidu:
decrypted with the user's platform session key, watermark checked), and Alipay's encrypted
response (signature verified, then decrypted with the app's content key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.auth.apps import PlatformApp
from minibase.auth.caller import Caller
from minibase.auth.user_data import decrypt_user_data, platform_session_key
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.platforms import PhoneNumber, PlatformError
from minibase.platforms.alipay import crypto as alipay_crypto
from minibase.services import Services

DIGITS = re.compile(r"[0-9]{3,20}")
COUNTRY = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True, slots=True)
class VerifiedPhone:
    country_code: str
    number: str  # national digits, e.g. 13800138000

    @property
    def normalized(self) -> str:
        return f"+{self.country_code}{self.number}"

    @property
    def hint(self) -> str:
        return f"{self.number[:3]}****{self.number[-4:]}"


def verified(country_code: Any, number: Any) -> VerifiedPhone:
    code = str(country_code or "86").lstrip("+")
    digits = str(number or "").removeprefix(f"+{code}")
    if not COUNTRY.fullmatch(code) or not DIGITS.fullmatch(digits):
        raise ApiError("platform.bad_response", 502, "the platform's phone number is malformed")
    return VerifiedPhone(code, digits)


def _from_phone_number(phone: PhoneNumber) -> VerifiedPhone:
    return verified(phone.country_code, phone.pure_phone_number or phone.phone_number)


def _from_decrypted(data: Mapping[str, Any]) -> VerifiedPhone:
    number = data.get("purePhoneNumber") or data.get("phoneNumber") or data.get("mobile")
    return verified(data.get("countryCode"), number)


async def verify_phone(
    services: Services, caller: Caller, body: Mapping[str, Any]
) -> VerifiedPhone:
    """The phone number the platform vouches for, from whichever flow the client used."""
    if not caller.platform or not caller.appid or caller.id is None:
        raise ApiError("auth.no_session", 400, "sign in through a platform to bind a phone")
    app = await services.apps.get(caller.platform, caller.appid)
    try:
        if "code" in body:
            return await _by_code(services, app, _text(body, "code"))
        if "response" in body:
            return _by_alipay_response(app, _text(body, "response"), _text(body, "sign"))
        encrypted, iv = _text(body, "encrypted_data"), _text(body, "iv")
        async with services.db.reader() as conn:
            key = await platform_session_key(conn, services, caller, app)
        data = decrypt_user_data(app, key, encrypted, iv, services.settings.phone_max_age)
    except PlatformError as exc:
        raise platform_failure(exc) from None
    return _from_decrypted(data)


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > 8192:
        raise ApiError("request.invalid_body", 400, f"{name} is required (a string)")
    return value


async def _by_code(services: Services, app: PlatformApp, code: str) -> VerifiedPhone:
    if app.platform != "wechat":
        raise ApiError(
            "request.invalid_body",
            400,
            "a phone code is WeChat's flow; send "
            "encrypted_data and iv (or Alipay's response and sign)",
        )
    client = services.platforms.client(app)
    phone = await services.access_tokens.calling(
        app, lambda token: client.get_phone_number(code, token)
    )
    if phone.appid is not None and phone.appid != app.appid:
        raise ApiError("auth.invalid_encrypted_data", 400, "the phone was issued to another app")
    return _from_phone_number(phone)


def _by_alipay_response(app: PlatformApp, response: str, sign: str) -> VerifiedPhone:
    creds = app.credentials
    if app.platform != "alipay" or not creds.aes_key or not creds.platform_public_key:
        raise ApiError(
            "request.invalid_body",
            400,
            "response and sign are Alipay's flow, for an app with its aes_key",
        )
    phone = alipay_crypto.decrypt_phone_number(
        response, sign, creds.aes_key, creds.platform_public_key
    )
    return _from_phone_number(phone)
