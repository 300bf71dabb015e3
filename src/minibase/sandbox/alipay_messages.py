"""Alipay subscribe messages (`alipay.open.app.mini.templatemessage.send`) on the sandbox's
gateway: a message to a person who accepted the template in my.requestSubscribeMessage.

Refusals are 40004 "Business Failed", signed like every answer: USER_TEMPLATE_ILLEGAL for a
template the app does not offer, USER_TEMPLATE_LACK_KEYWORD for data without keywords,
USER_KEYWORD_LENGTH_ERROR for a value over 50 characters; a person with no acceptance left
gets USER_NOT_SUBSCRIBED (the sandbox's name: Alipay's documents give none). The addressee is
to_open_id or, for older apps, to_user_id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from minibase.sandbox import identities, message_book
from minibase.sandbox.alipay_trade import BizContent, TradeError
from minibase.sandbox.state import App, SandboxState

METHOD = "alipay.open.app.mini.templatemessage.send"
MAX_KEYWORD = 50


def _failed(sub_code: str, sub_msg: str) -> TradeError:
    return TradeError("40004", "Business Failed", sub_code, sub_msg)


def _addressee(state: SandboxState, app: App, biz: BizContent) -> str:
    """The addressee's openid in the app."""
    open_id = biz.optional_text("to_open_id", 128)
    user_id = biz.optional_text("to_user_id", 20)
    if open_id is None and user_id is None:
        raise TradeError(
            "40001", "Missing Required Arguments", "isv.missing-parameter", "缺少to_open_id"
        )
    if open_id is not None and message_book.person_of(state, "alipay", app.appid, open_id):
        return open_id
    for (appid, openid), person in state.messages.people.items():
        if appid == app.appid and identities.alipay_user_id(person) == user_id:
            return openid
    raise _failed("USER_NOT_SUBSCRIBED", "用户未订阅该模板")


def _data(text: str) -> dict[str, str]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _failed("USER_TEMPLATE_LACK_KEYWORD", "缺少关键词") from None
    if not isinstance(data, dict) or not data:
        raise _failed("USER_TEMPLATE_LACK_KEYWORD", "缺少关键词")
    values: dict[str, str] = {}
    for name, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            raise _failed("USER_TEMPLATE_LACK_KEYWORD", "缺少关键词")
        if len(value) > MAX_KEYWORD:
            raise _failed("USER_KEYWORD_LENGTH_ERROR", "关键词超长")
        values[name] = value
    return values


def answer(state: SandboxState, app: App, params: Mapping[str, str]) -> dict[str, Any]:
    """The method's response node (the gateway has checked the sign)."""
    try:
        biz = BizContent.parse(params.get("biz_content"))
        template_id = biz.text("user_template_id", 64)
        data = _data(biz.text("data", 2048))
        page = biz.optional_text("page", 128)
        with state.lock:
            if not message_book.offers(state, app.appid, template_id):
                raise _failed("USER_TEMPLATE_ILLEGAL", "模板非法")
            openid = _addressee(state, app, biz)
            if not message_book.use_grant(state, app.appid, template_id, openid):
                raise _failed("USER_NOT_SUBSCRIBED", "用户未订阅该模板")
            message_book.deliver(
                state, "alipay", app.appid, openid, template_id, page=page, data=data
            )
    except TradeError as error:
        return error.node
    return {"code": "10000", "msg": "Success"}
