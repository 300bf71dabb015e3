"""WeChat's server API as api.weixin.qq.com speaks it, and QQ's code2session and getToken
(api.q.qq.com), which follow the same protocol.

Errors are `{"errcode", "errmsg"}` with HTTP 200; errmsg ends in a request id (`, rid: ...`)
as the real one does, so clients must branch on errcode, never on the text.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import App, CodeProblem, SandboxState

# code2session answers with this content type, errors included
_CODE2SESSION_TYPE = "text/plain"

INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
INVALID_GRANT_TYPE = (40002, "invalid grant_type")
INVALID_APPID = (40013, "invalid appid")
INVALID_CODE = (40029, "invalid code")
INVALID_URL = (40066, "invalid url")
INVALID_APPSECRET = (40125, "invalid appsecret")
CODE_USED = (40163, "code been used")
ACCESS_TOKEN_MISSING = (41001, "access_token missing")
APPID_MISSING = (41002, "appid missing")
APPSECRET_MISSING = (41004, "appsecret missing")
CODE_MISSING = (41008, "missing code")
ACCESS_TOKEN_EXPIRED = (42001, "access_token expired")
MINUTE_QUOTA = (45011, "api minute-quota reach limit  mustslower  retry next minute")
DATA_FORMAT_ERROR = (47001, "data format error")
SYSTEM_ERROR = (-1, "system error")


def error(problem: tuple[int, str], media_type: str = "application/json") -> Response:
    errcode, errmsg = problem
    body = {"errcode": errcode, "errmsg": f"{errmsg}, rid: {identities.request_id()}"}
    return json_response(body, media_type=media_type)


def system_busy() -> Response:
    return error(SYSTEM_ERROR)


def invalid_url() -> Response:
    return error(INVALID_URL)


def _authenticate(
    state: SandboxState, platform: str, appid: str, secret: str
) -> App | tuple[int, str]:
    """The app these credentials name, or the errcode the platform answers instead."""
    app = state.app(platform, appid)
    if app is None:
        return INVALID_APPID
    if not hmac.compare_digest(secret.encode(), app.secret.encode()):
        return INVALID_APPSECRET
    if state.faults.over_quota(platform, appid, state.now()):
        return MINUTE_QUOTA
    return app


def _code2session(platform: str) -> Route:
    async def jscode2session(request: Request, state: SandboxState) -> Response:
        query = request.query_params
        appid, secret = query.get("appid", ""), query.get("secret", "")
        js_code = query.get("js_code", "")
        for value, absent in (
            (appid, APPID_MISSING),
            (secret, APPSECRET_MISSING),
            (js_code, CODE_MISSING),
        ):
            if not value:
                return error(absent, _CODE2SESSION_TYPE)
        if query.get("grant_type") != "authorization_code":
            return error(INVALID_GRANT_TYPE, _CODE2SESSION_TYPE)
        with state.lock:
            app = _authenticate(state, platform, appid, secret)
            if not isinstance(app, App):
                return error(app, _CODE2SESSION_TYPE)
            code = state.redeem_code(platform, appid, js_code)
        if code is CodeProblem.USED:
            return error(CODE_USED, _CODE2SESSION_TYPE)
        if isinstance(code, CodeProblem):
            return error(INVALID_CODE, _CODE2SESSION_TYPE)
        body = {
            "session_key": code.session_key,
            "openid": identities.openid(platform, appid, code.person),
        }
        if app.account is not None:
            body["unionid"] = identities.unionid(platform, app.account, code.person)
        return json_response(body, media_type=_CODE2SESSION_TYPE)

    return Route("GET", f"/{platform}/sns/jscode2session", jscode2session)


def _access_token(platform: str, path: str) -> Route:
    async def get_access_token(request: Request, state: SandboxState) -> Response:
        query = request.query_params
        return _issue_token(
            state,
            platform,
            query.get("grant_type", ""),
            query.get("appid", ""),
            query.get("secret", ""),
            stable=False,
            force=False,
        )

    return Route("GET", f"/{platform}{path}", get_access_token)


async def get_stable_access_token(request: Request, state: SandboxState) -> Response:
    body = await read_json(request)
    if body is None:
        return error(DATA_FORMAT_ERROR)
    force = body.get("force_refresh", False)
    return _issue_token(
        state,
        "wechat",
        str(body.get("grant_type", "")),
        str(body.get("appid", "")),
        str(body.get("secret", "")),
        stable=True,
        force=force is True or force == "true",
    )


def _issue_token(
    state: SandboxState,
    platform: str,
    grant_type: str,
    appid: str,
    secret: str,
    *,
    stable: bool,
    force: bool,
) -> Response:
    if grant_type != "client_credential":
        return error(INVALID_GRANT_TYPE)
    if not appid:
        return error(APPID_MISSING)
    if not secret:
        return error(APPSECRET_MISSING)
    with state.lock:
        app = _authenticate(state, platform, appid, secret)
        if not isinstance(app, App):
            return error(app)
        token = state.issue_access_token(platform, appid, stable=stable, force=force)
        expires_in = round(token.expires_at - state.now())
    return json_response({"access_token": token.value, "expires_in": expires_in})


def caller_app(
    request: Request, state: SandboxState, quota: tuple[int, str] = MINUTE_QUOTA
) -> str | tuple[int, str]:
    """The appid whose access token the call carries, or the errcode WeChat answers instead:
    41001 missing, 40001 unknown or replaced, 42001 expired, `quota` over the app's quota."""
    value = request.query_params.get("access_token", "")
    if not value:
        return ACCESS_TOKEN_MISSING
    with state.lock:
        token = state.access_token(value)
        now = state.now()
        problem = token.problem(now) if token is not None else "unknown"
        if token is None or token.platform != "wechat" or problem is not None:
            return ACCESS_TOKEN_EXPIRED if problem == "expired" else INVALID_CREDENTIAL
        if state.faults.over_quota("wechat", token.appid, now):
            return quota
        return token.appid


async def token_call(
    request: Request,
    state: SandboxState,
    quota: tuple[int, str] = MINUTE_QUOTA,
    malformed: tuple[int, str] = DATA_FORMAT_ERROR,
) -> tuple[str, dict[str, Any]] | Response:
    """The appid whose access token a JSON call carries, and its body; or WeChat's answer
    instead (the token's errcode, or `malformed` for a body that is not a JSON object)."""
    appid = caller_app(request, state, quota=quota)
    if not isinstance(appid, str):
        return error(appid)
    body = await read_json(request)
    if body is None:
        return error(malformed)
    return appid, body


async def get_user_phone_number(request: Request, state: SandboxState) -> Response:
    called = await token_call(request, state)
    if isinstance(called, Response):
        return called
    appid, body = called
    now = state.now()
    with state.lock:
        code = state.redeem_phone_code(appid, str(body.get("code", "")))
    if code is None:
        return error(INVALID_CODE)
    national = code.country_code == "86"
    phone_info = {
        # the full number carries the country code only for numbers outside mainland China
        "phoneNumber": code.phone if national else f"+{code.country_code}{code.phone}",
        "purePhoneNumber": code.phone,
        "countryCode": code.country_code,
        "watermark": {"timestamp": int(now), "appid": appid},
    }
    return json_response({"errcode": 0, "errmsg": "ok", "phone_info": phone_info})


ROUTES = (
    _code2session("wechat"),
    _access_token("wechat", "/cgi-bin/token"),
    Route("POST", "/wechat/cgi-bin/stable_token", get_stable_access_token),
    Route("POST", "/wechat/wxa/business/getuserphonenumber", get_user_phone_number),
    _code2session("qq"),
    _access_token("qq", "/api/getToken"),
)
