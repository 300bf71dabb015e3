"""WeChat server API calls, sans-IO: each function returns a Call that both clients run.

Paths and errcodes from developers.weixin.qq.com (code2Session, getStableAccessToken,
getAccessToken, getPhoneNumber, msgSecCheck, mediaCheckAsync, the global errcode table). QQ
shares the protocol family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from minibase.platforms.errors import ErrorKind, PlatformError
from minibase.platforms.models import AccessToken, ContentVerdict, LoginSession, PhoneNumber
from minibase.platforms.transport import Call, json_object, optional_str, required_str

T = TypeVar("T")

ERRCODE_KINDS: Mapping[int, ErrorKind] = {
    -1: "unavailable",  # system busy, retry later
    40029: "invalid_code",
    40163: "code_used",
    40125: "invalid_credentials",  # invalid appsecret
    41004: "invalid_credentials",  # appsecret missing
    # On the token endpoints 40001 means a wrong secret; on token-using calls a stale token
    # (PlatformError.access_token_rejected tells the caller to refresh and retry once).
    40001: "invalid_credentials",
    40014: "invalid_credentials",  # invalid access_token
    42001: "invalid_credentials",  # access_token expired
    40013: "invalid_appid",
    41002: "invalid_appid",  # appid missing
    45009: "rate_limited",  # daily quota reached
    45011: "rate_limited",  # minute quota reached
}

_SENSITIVE = frozenset({"session_key", "access_token"})


def raise_for_errcode(body: Mapping[str, Any], platform: str, http_status: int) -> None:
    errcode = body.get("errcode", 0)
    if isinstance(errcode, str) and errcode.lstrip("-").isdigit():
        errcode = int(errcode)
    if errcode in (0, None):
        return
    kind = ERRCODE_KINDS.get(errcode, "other") if isinstance(errcode, int) else "other"
    message = str(body.get("errmsg") or "no errmsg")
    raise PlatformError(platform, kind, message, errcode=errcode, http_status=http_status)


def token_post(
    base_url: str,
    path: str,
    access_token: str,
    payload: Mapping[str, Any],
    read: Callable[[Mapping[str, Any]], T],
) -> Call[T]:
    """A token-using call: POST JSON to `path` with the access token in the query, the answer's
    errcode raised, then `read` from its body."""

    def parse(response: httpx.Response) -> T:
        body = json_object(response, "wechat")
        raise_for_errcode(body, "wechat", response.status_code)
        return read(body)

    return Call(
        platform="wechat",
        method="POST",
        url=f"{base_url.rstrip('/')}{path}",
        params={"access_token": access_token},
        json=dict(payload),
        parse=parse,
    )


def text_field(name: str) -> Callable[[Mapping[str, Any]], str]:
    """Read one required text field of an answer."""
    return lambda body: required_str(body, name, "wechat")


def code2session(
    base_url: str, appid: str, secret: str, code: str, *, platform: str = "wechat"
) -> Call[LoginSession]:
    def parse(response: httpx.Response) -> LoginSession:
        body = json_object(response, platform)
        raise_for_errcode(body, platform, response.status_code)
        return LoginSession(
            platform=platform,
            appid=appid,
            openid=required_str(body, "openid", platform),
            unionid=optional_str(body, "unionid"),
            session_key=required_str(body, "session_key", platform),
            raw={k: v for k, v in body.items() if k not in _SENSITIVE},
        )

    return Call(
        platform=platform,
        method="GET",
        url=f"{base_url.rstrip('/')}/sns/jscode2session",
        params={
            "appid": appid,
            "secret": secret,
            "js_code": code,
            "grant_type": "authorization_code",
        },
        parse=parse,
    )


def parse_access_token(response: httpx.Response, platform: str) -> AccessToken:
    body = json_object(response, platform)
    raise_for_errcode(body, platform, response.status_code)
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int):
        raise PlatformError(platform, "bad_response", "the answer has no expires_in")
    return AccessToken(value=required_str(body, "access_token", platform), expires_in=expires_in)


def get_access_token(
    base_url: str, appid: str, secret: str, *, stable: bool = True, force_refresh: bool = False
) -> Call[AccessToken]:
    """The stable token (POST JSON, refreshable on demand) or the classic one (GET)."""
    base = base_url.rstrip("/")
    if not stable:
        if force_refresh:
            raise ValueError("force_refresh needs the stable token endpoint")
        return Call(
            platform="wechat",
            method="GET",
            url=f"{base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": appid, "secret": secret},
            parse=lambda response: parse_access_token(response, "wechat"),
        )
    return Call(
        platform="wechat",
        method="POST",
        url=f"{base}/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": appid,
            "secret": secret,
            "force_refresh": force_refresh,
        },
        parse=lambda response: parse_access_token(response, "wechat"),
    )


def get_phone_number(base_url: str, appid: str, code: str, access_token: str) -> Call[PhoneNumber]:
    """Exchange a getPhoneNumber button code for the user's number."""

    def read(body: Mapping[str, Any]) -> PhoneNumber:
        info = body.get("phone_info")
        if not isinstance(info, Mapping):
            raise PlatformError("wechat", "bad_response", "the answer has no phone_info")
        phone = PhoneNumber.from_user_data(info, platform="wechat")
        if phone.appid is not None and phone.appid != appid:
            raise PlatformError("wechat", "watermark_mismatch", "the number is for another app")
        return phone

    path = "/wxa/business/getuserphonenumber"
    return token_post(base_url, path, access_token, {"code": code}, read)


def send_subscribe_message(
    base_url: str,
    access_token: str,
    *,
    touser: str,
    template_id: str,
    data: Mapping[str, str | int | float],
    page: str | None = None,
    miniprogram_state: str | None = None,
    lang: str | None = None,
) -> Call[None]:
    """subscribeMessage.send: `data` maps each template field to its value (sent as
    {"value": ...}). 43101: the user has not accepted (or used up) this template."""
    payload: dict[str, Any] = {
        "touser": touser,
        "template_id": template_id,
        "data": {name: {"value": value} for name, value in data.items()},
    }
    for key, value in (("page", page), ("miniprogram_state", miniprogram_state), ("lang", lang)):
        if value is not None:
            payload[key] = value

    return token_post(
        base_url, "/cgi-bin/message/subscribe/send", access_token, payload, lambda _: None
    )


def msg_sec_check(
    base_url: str,
    access_token: str,
    *,
    openid: str,
    content: str,
    scene: int,
    title: str | None = None,
    nickname: str | None = None,
    signature: str | None = None,
) -> Call[ContentVerdict]:
    """security.msgSecCheck, version 2: is a user's text fit to publish? `scene` is 1
    profile, 2 comment, 3 forum, 4 social log (CONTENT_SCENES); the user (`openid`) must have
    used the mini program in the last two hours (else 61010). At most 2500 characters."""
    payload: dict[str, Any] = {"version": 2, "openid": openid, "scene": scene, "content": content}
    for key, value in (("title", title), ("nickname", nickname), ("signature", signature)):
        if value is not None:
            payload[key] = value

    return token_post(
        base_url, "/wxa/msg_sec_check", access_token, payload, ContentVerdict.from_answer
    )


def media_check_async(
    base_url: str, access_token: str, *, openid: str, media_url: str, media_type: int, scene: int
) -> Call[str]:
    """security.mediaCheckAsync, version 2: queue a check of an image (`media_type` 2) or an
    audio file (1) at a URL WeChat can download; the answer is its trace_id, and the verdict
    arrives within 30 minutes as a `wxa_media_check` push event with that trace_id."""

    payload = {
        "version": 2,
        "openid": openid,
        "scene": scene,
        "media_url": media_url,
        "media_type": media_type,
    }
    return token_post(
        base_url, "/wxa/media_check_async", access_token, payload, text_field("trace_id")
    )
