"""Douyin (ByteDance) code2session and getAccessToken as developer.toutiao.com speaks them
(`api/apps/v2`).

Replies are `{"err_no", "err_tips", "log_id", "data"}` with HTTP 200; `err_no` 0 is success.
A login gives two single-use codes: `code` (the logged-in user) and `anonymous_code`.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import CodeProblem, LoginCode, SandboxState

BAD_PARAMS = (40014, "bad params")
BAD_APPID = (40015, "bad appid")
BAD_SECRET = (40017, "bad secret")
BAD_CODE = (40018, "bad code")
BAD_ANONYMOUS_CODE = (40019, "bad anonymous_code")
BAD_GRANT_TYPE = (40020, "bad grant_type")
SYSTEM_ERROR = (-1, "system error")

_EMPTY_DATA = {"session_key": "", "openid": "", "anonymous_openid": "", "unionid": ""}


def _reply(problem: tuple[int, str], data: dict[str, Any] | None = None) -> Response:
    err_no, err_tips = problem
    body: dict[str, Any] = {
        "err_no": err_no,
        "err_tips": err_tips,
        "log_id": identities.log_id(),
        "data": data if data is not None else dict(_EMPTY_DATA),
    }
    return json_response(body)


def system_busy() -> Response:
    return _reply(SYSTEM_ERROR)


async def jscode2session(request: Request, state: SandboxState) -> Response:
    body = await read_json(request)
    if body is None:
        return _reply(BAD_PARAMS)
    appid, secret = str(body.get("appid") or ""), str(body.get("secret") or "")
    code_value = str(body.get("code") or "")
    anonymous_value = str(body.get("anonymous_code") or "")
    if not appid or not secret or not (code_value or anonymous_value):
        return _reply(BAD_PARAMS)
    with state.lock:
        app = state.app("douyin", appid)
        if app is None:
            return _reply(BAD_APPID)
        if not hmac.compare_digest(secret.encode(), app.secret.encode()):
            return _reply(BAD_SECRET)
        code: LoginCode | CodeProblem | None = None
        if code_value:
            code = state.redeem_code("douyin", appid, code_value)
            if isinstance(code, CodeProblem):
                return _reply(BAD_CODE)
        anonymous: LoginCode | CodeProblem | None = None
        if anonymous_value:
            anonymous = state.redeem_code("douyin", appid, anonymous_value, "anonymous_code")
            if isinstance(anonymous, CodeProblem):
                return _reply(BAD_ANONYMOUS_CODE)
    data = dict(_EMPTY_DATA)
    if isinstance(code, LoginCode):
        data["session_key"] = code.session_key
        data["openid"] = identities.openid("douyin", appid, code.person)
        if app.account is not None:
            data["unionid"] = identities.unionid("douyin", app.account, code.person)
    if isinstance(anonymous, LoginCode):
        data["anonymous_openid"] = identities.anonymous_openid(appid, anonymous.person)
    return _reply((0, "success"), data)


async def get_access_token(request: Request, state: SandboxState) -> Response:
    """A new token each time; the previous one stays usable for five minutes more."""
    body = await read_json(request)
    empty = {"access_token": "", "expires_in": 0}
    if body is None:
        return _reply(BAD_PARAMS, empty)
    appid, secret = str(body.get("appid") or ""), str(body.get("secret") or "")
    if body.get("grant_type") != "client_credential":
        return _reply(BAD_GRANT_TYPE, empty)
    with state.lock:
        app = state.app("douyin", appid)
        if app is None:
            return _reply(BAD_APPID, empty)
        if not hmac.compare_digest(secret.encode(), app.secret.encode()):
            return _reply(BAD_SECRET, empty)
        token = state.issue_access_token("douyin", appid, stable=False)
        expires_in = round(token.expires_at - state.now())
    return _reply((0, "success"), {"access_token": token.value, "expires_in": expires_in})


ROUTES = (
    Route("POST", "/douyin/api/apps/v2/jscode2session", jscode2session),
    Route("POST", "/douyin/api/apps/v2/token", get_access_token),
)
