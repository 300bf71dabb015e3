"""Douyin subscribe notifications (`api/apps/subscribe_notification/developer/v1/notify`) as
the platform answers them.

The access token travels in the JSON body. A token that is unknown, for another app, or
replaced past its grace period is 28001003, an expired one 28001008. A person who has no
subscription left to the template (or a template the app never offered, or an unknown open_id)
is 1001; a body that is not the documented shape 1000; past the app's quota (`rate-limit`)
1010, as when one user is sent more than one a second.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities, message_book
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import SandboxState

BAD_FORMAT = (1000, "参数格式有误")
BAD_CONTENT = (1001, "参数内容有误")
TOO_FREQUENT = (1010, "发送消息过于频繁")
TOKEN_INVALID = (28001003, "access_token无效")
TOKEN_EXPIRED = (28001008, "access_token过期")


def _reply(problem: tuple[int, str]) -> Response:
    err_no, err_tips = problem
    return json_response({"err_no": err_no, "err_tips": err_tips, "log_id": identities.log_id()})


def _token_problem(state: SandboxState, value: object, appid: object) -> tuple[int, str] | None:
    token = state.access_token(value) if isinstance(value, str) and value else None
    if token is None or token.platform != "douyin" or token.appid != appid:
        return TOKEN_INVALID
    problem = token.problem(state.now())
    if problem == "expired":
        return TOKEN_EXPIRED
    return TOKEN_INVALID if problem is not None else None


async def notify(request: Request, state: SandboxState) -> Response:
    body = await read_json(request)
    if body is None:
        return _reply(BAD_FORMAT)
    appid, open_id, tpl_id, data = (
        body.get("app_id"),
        body.get("open_id"),
        body.get("tpl_id"),
        body.get("data"),
    )
    with state.lock:
        problem = _token_problem(state, body.get("access_token"), appid)
        if problem is not None:
            return _reply(problem)
        assert isinstance(appid, str)
        if state.faults.over_quota("douyin", appid, state.now()):
            return _reply(TOO_FREQUENT)
        if (
            not isinstance(data, dict)
            or not data
            or not all(isinstance(value, str) and value for value in data.values())
            or not isinstance(body.get("page", ""), str)
        ):
            return _reply(BAD_FORMAT)
        if (
            message_book.person_of(state, "douyin", appid, open_id) is None
            or not message_book.offers(state, appid, tpl_id)
            or not message_book.use_grant(state, appid, str(tpl_id), str(open_id))
        ):
            return _reply(BAD_CONTENT)
        message_book.deliver(
            state, "douyin", appid, str(open_id), str(tpl_id), page=body.get("page"), data=data
        )
    return _reply((0, ""))


ROUTES = (Route("POST", "/douyin/api/apps/subscribe_notification/developer/v1/notify", notify),)
