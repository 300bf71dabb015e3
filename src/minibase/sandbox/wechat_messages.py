"""WeChat subscribe messages (`cgi-bin/message/subscribe/send`) as the platform answers them.

A person's acceptance in wx.requestSubscribeMessage is one message of that template (see
message_book): the control API grants them, each send uses one, and a send without one is
43101 "user refuse to accept the msg". An unknown openid is 40003, a template the app never
offered 40037, a data field that is not {"value": non-empty text} 47003, and past the app's
quota (`rate-limit`) 45009. What was delivered is kept for tests to read.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities, message_book
from minibase.sandbox.routing import Route, json_response
from minibase.sandbox.state import SandboxState
from minibase.sandbox.wechat import error, token_call

INVALID_OPENID = (40003, "invalid openid")
INVALID_TEMPLATE = (40037, "invalid template_id")
USER_REFUSED = (43101, "user refuse to accept the msg")
DAILY_QUOTA = (45009, "reach max api daily quota limit")
ARGUMENT_INVALID = (47003, "argument invalid!")
STATES = ("developer", "trial", "formal")


def _problem(state: SandboxState, body: dict[str, Any], appid: str) -> tuple[int, str] | None:
    touser, template_id = body.get("touser"), body.get("template_id")
    if message_book.person_of(state, "wechat", appid, touser) is None:
        return INVALID_OPENID
    if not message_book.offers(state, appid, template_id):
        return INVALID_TEMPLATE
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        return ARGUMENT_INVALID
    for name, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str | int | float) or str(value) == "":
            return (ARGUMENT_INVALID[0], f"argument invalid! data.{name}.value is empty")
    if body.get("miniprogram_state", "formal") not in STATES:
        return ARGUMENT_INVALID
    return None


async def send(request: Request, state: SandboxState) -> Response:
    called = await token_call(request, state, DAILY_QUOTA)
    if isinstance(called, Response):
        return called
    appid, body = called
    with state.lock:
        problem = _problem(state, body, appid)
        if problem is not None:
            return error(problem)
        touser, template_id = str(body["touser"]), str(body["template_id"])
        if not message_book.use_grant(state, appid, template_id, touser):
            return error(USER_REFUSED)
        message_book.deliver(
            state,
            "wechat",
            appid,
            touser,
            template_id,
            page=body.get("page"),
            data={name: item["value"] for name, item in body["data"].items()},
            miniprogram_state=body.get("miniprogram_state", "formal"),
        )
    return json_response({"errcode": 0, "errmsg": "ok", "msgid": identities.request_id()})


ROUTES = (Route("POST", "/wechat/cgi-bin/message/subscribe/send", send),)
