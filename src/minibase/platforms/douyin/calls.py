"""Douyin (ByteDance) mini program server calls, sans-IO.

code2Session: POST /api/apps/v2/jscode2session with JSON {appid, secret, code, anonymous_code},
answering {err_no, err_tips, log_id, data: {session_key, openid, anonymous_openid, unionid}}
(developer.open-douyin.com, mini-app server "code2Session"). `code` and `anonymous_code` are
single-use, and at least one is sent. tt.login gives `anonymousCode` always and `code` only to
a user logged in to the Douyin app: a guest's login sends only `anonymous_code` and gets only
`anonymous_openid` (openid, session_key and unionid are empty); a logged-in user's sends both,
and the answer's `anonymous_openid` lets the app carry the guest's data over ("数据同步").

getAccessToken: POST /api/apps/v2/token with JSON {appid, secret, grant_type:
"client_credential"}, answering {err_no, err_tips, data: {access_token, expires_in}}; a new
token shortens the previous one's life to five minutes.

Subscribe notifications: POST /api/apps/subscribe_notification/developer/v1/notify with JSON
{access_token, app_id, tpl_id, open_id, data: {keyword: value}, page}; err_no 1000 bad format,
1001 bad content (an unknown template, a user who has not subscribed), 1008 content refused,
1009 the app may not send, 1010 too frequent (one per user per second), 2000 internal error,
28001003 / 28001008 the access token is invalid / expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from minibase.platforms.errors import ErrorKind, PlatformError
from minibase.platforms.models import AccessToken, LoginSession
from minibase.platforms.transport import Call, json_object, optional_str

ERR_NO_KINDS: Mapping[int, ErrorKind] = {
    -1: "unavailable",  # system error
    40014: "other",  # a parameter is missing or malformed
    40015: "invalid_appid",
    40017: "invalid_credentials",  # wrong secret
    40018: "invalid_code",
    40019: "invalid_code",  # wrong anonymous_code
    40020: "other",  # grant_type is not client_credential
    1010: "rate_limited",  # subscribe notifications: too frequent
    2000: "unavailable",  # subscribe notifications: internal error
    28001003: "invalid_credentials",  # access_token invalid
    28001008: "invalid_credentials",  # access_token expired
}


def raise_for_err_no(body: Mapping[str, Any], http_status: int) -> None:
    err_no = body.get("err_no", 0)
    if err_no in (0, None):
        return
    kind = ERR_NO_KINDS.get(err_no, "other") if isinstance(err_no, int) else "other"
    message = str(body.get("err_tips") or "no err_tips")
    raise PlatformError("douyin", kind, message, errcode=err_no, http_status=http_status)


def code2session(
    base_url: str, appid: str, secret: str, code: str | None, anonymous_code: str | None = None
) -> Call[LoginSession]:
    if not code and not anonymous_code:
        raise ValueError("code2session needs a code or an anonymous_code")
    payload = {"appid": appid, "secret": secret}
    if code:
        payload["code"] = code
    if anonymous_code:
        payload["anonymous_code"] = anonymous_code

    def parse(response: httpx.Response) -> LoginSession:
        body = json_object(response, "douyin")
        raise_for_err_no(body, response.status_code)
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise PlatformError("douyin", "bad_response", "the answer has no data")
        openid = optional_str(data, "openid")
        anonymous_openid = optional_str(data, "anonymous_openid")
        if openid is None and (code or anonymous_openid is None):
            raise PlatformError("douyin", "bad_response", "the answer has no openid")
        return LoginSession(
            platform="douyin",
            appid=appid,
            openid=openid or "",  # empty for a guest: the anonymous_openid is all there is
            unionid=optional_str(data, "unionid"),
            session_key=optional_str(data, "session_key"),
            anonymous_openid=anonymous_openid,
            raw={
                **{k: v for k, v in body.items() if k != "data"},
                "data": {k: v for k, v in data.items() if k != "session_key"},
            },
        )

    return Call(
        platform="douyin",
        method="POST",
        url=f"{base_url.rstrip('/')}/api/apps/v2/jscode2session",
        json=payload,
        parse=parse,
    )


def get_access_token(base_url: str, appid: str, secret: str) -> Call[AccessToken]:
    def parse(response: httpx.Response) -> AccessToken:
        body = json_object(response, "douyin")
        raise_for_err_no(body, response.status_code)
        data = body.get("data")
        token = data.get("access_token") if isinstance(data, Mapping) else None
        expires_in = data.get("expires_in") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise PlatformError("douyin", "bad_response", "the answer has no access_token")
        return AccessToken(token, expires_in)

    return Call(
        platform="douyin",
        method="POST",
        url=f"{base_url.rstrip('/')}/api/apps/v2/token",
        json={"appid": appid, "secret": secret, "grant_type": "client_credential"},
        parse=parse,
    )


def send_subscribe_notification(
    base_url: str,
    appid: str,
    access_token: str,
    *,
    open_id: str,
    tpl_id: str,
    data: Mapping[str, str | int | float],
    page: str | None = None,
) -> Call[None]:
    """A subscribe notification to a user who subscribed to the template in
    tt.requestSubscribeMessage; `data` maps each template keyword to its value."""
    payload: dict[str, Any] = {
        "access_token": access_token,
        "app_id": appid,
        "tpl_id": tpl_id,
        "open_id": open_id,
        "data": {name: str(value) for name, value in data.items()},
    }
    if page is not None:
        payload["page"] = page

    def parse(response: httpx.Response) -> None:
        raise_for_err_no(json_object(response, "douyin"), response.status_code)

    return Call(
        platform="douyin",
        method="POST",
        url=f"{base_url.rstrip('/')}/api/apps/subscribe_notification/developer/v1/notify",
        json=payload,
        parse=parse,
    )
