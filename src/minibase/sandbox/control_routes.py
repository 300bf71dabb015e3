"""`/control/*`: the control operations over HTTP, JSON in and out.

Bad input is answered 4xx with `{"code": "sandbox.<reason>", "message": ...}`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import douyin_content, wechat_content
from minibase.sandbox.alipay_trade_control import AlipayDelivery, AlipayPayControl
from minibase.sandbox.control import SandboxControl
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import SandboxState
from minibase.sandbox.wechatpay_control import Delivery, WeChatPayControl


def _invalid(message: str) -> SandboxError:
    return SandboxError("sandbox.invalid_request", 400, message)


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        raise _invalid("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{name} must be a non-empty string")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    return value


def _number(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{name} must be a number")
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _invalid(f"{name} must be an integer")
    return value


async def register_app(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).register_app(
        _text(body, "platform"),
        _text(body, "appid"),
        secret=_optional_text(body, "secret"),
        account=_optional_text(body, "account"),
        app_public_key=_optional_text(body, "app_public_key"),
        aes_key=_optional_text(body, "aes_key"),
    )
    return json_response(answer, status=201)


async def list_apps(request: Request, state: SandboxState) -> Response:
    return json_response({"apps": SandboxControl(state).apps()})


async def login_code(request: Request, state: SandboxState) -> Response:
    """{platform, appid, person, guest?}: guest (Douyin) is a person not logged in to the
    Douyin app, who gets only an anonymous_code."""
    body = await _body(request)
    guest = body.get("guest", False)
    if not isinstance(guest, bool):
        raise _invalid("guest must be true or false")
    answer = SandboxControl(state).login_code(
        _text(body, "platform"), _text(body, "appid"), _text(body, "person"), guest=guest
    )
    return json_response(answer)


async def login_codes(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    persons = body.get("persons")
    if not isinstance(persons, list) or not all(isinstance(p, str) and p for p in persons):
        raise _invalid("persons: a list of names")
    codes = SandboxControl(state).login_codes(
        _text(body, "platform"), _text(body, "appid"), persons
    )
    return json_response({"codes": codes})


async def phone_code(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).phone_code(
        _text(body, "appid"),
        _text(body, "person"),
        _text(body, "phone"),
        _optional_text(body, "country_code") or "86",
    )
    return json_response(answer)


async def subscribe(request: Request, state: SandboxState) -> Response:
    """A person accepts `count` (default 1) messages of a template (platform wechat, douyin or
    alipay; wechat when left out); the answer has their openid."""
    body = await _body(request)
    openid = SandboxControl(state).subscribe(
        str(body.get("platform", "wechat")),
        _text(body, "appid"),
        _text(body, "person"),
        _text(body, "template_id"),
        body.get("count", 1),
    )
    return json_response({"openid": openid})


async def subscribe_messages(request: Request, state: SandboxState) -> Response:
    """The subscribe messages delivered so far, oldest first."""
    return json_response({"items": SandboxControl(state).subscribe_messages()})


async def wechat_pages(request: Request, state: SandboxState) -> Response:
    """Publish a WeChat app's pages (the first is its home page): what codes with check_path
    and links with a path are checked against."""
    body = await _body(request)
    pages = body.get("pages")
    if not isinstance(pages, list):
        raise _invalid('pages: a list of paths like "pages/index/index"')
    return json_response(SandboxControl(state).publish_pages(_text(body, "appid"), pages))


async def wechat_codes(request: Request, state: SandboxState) -> Response:
    """The mini program codes drawn so far, oldest first (what each carries, not the image)."""
    with state.lock:
        return json_response({"items": list(state.links.codes)})


async def wechat_links_issued(request: Request, state: SandboxState) -> Response:
    """The URL schemes and URL links issued so far, oldest first, with their expiry."""
    with state.lock:
        return json_response({"items": list(state.links.links)})


async def content_word(request: Request, state: SandboxState) -> Response:
    """An app's own keyword for content checks: {platform (wechat, the default, or douyin),
    appid, word, suggest: risky | review (Douyin: risky), label (WeChat; default 21000)}."""
    body = await _body(request)
    platform = body.get("platform", "wechat")
    if platform == "douyin":
        douyin_content.add_word(
            state, _text(body, "appid"), _text(body, "word"), _text(body, "suggest")
        )
        return json_response({"added": True}, status=201)
    if platform != "wechat":
        raise SandboxError("sandbox.unsupported", 400, "content words are for wechat and douyin")
    label = _integer(body, "label", 21000)
    wechat_content.add_word(
        state, _text(body, "appid"), _text(body, "word"), _text(body, "suggest"), label or 21000
    )
    return json_response({"added": True}, status=201)


async def content_media_checks(request: Request, state: SandboxState) -> Response:
    """The media checks asked for, oldest first: pending, or finished with their push event."""
    return json_response({"items": wechat_content.media_checks(state)})


async def content_media_result(request: Request, state: SandboxState) -> Response:
    """Finish a pending media check: {suggest?, label?}; the wxa_media_check push event, and
    its deliveries to the app's message server (none when the app set no server)."""
    body = await _body(request)
    answer = await wechat_content.deliver_media_check(
        state,
        request.path_params["trace_id"],
        _optional_text(body, "suggest"),
        _integer(body, "label", None),
    )
    return json_response(answer)


async def encrypted_data(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    data = body.get("data")
    if not isinstance(data, dict):
        raise _invalid("data must be a JSON object")
    answer = SandboxControl(state).encrypted_data(
        _text(body, "platform"), _text(body, "appid"), _text(body, "person"), data
    )
    return json_response(answer)


async def raw_data_signature(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).raw_data_signature(
        _text(body, "platform"),
        _text(body, "appid"),
        _text(body, "person"),
        _text(body, "raw_data"),
    )
    return json_response(answer)


async def alipay_phone(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).alipay_phone(
        _text(body, "appid"), _text(body, "person"), _text(body, "phone")
    )
    return json_response(answer)


async def rate_limit(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).rate_limit(
        _text(body, "platform"), _text(body, "appid"), _integer(body, "per_minute", None)
    )
    return json_response(answer)


async def outage(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = SandboxControl(state).outage(
        _text(body, "platform"),
        _text(body, "mode"),
        _integer(body, "count", 1) or 0,
        _number(body, "seconds", None),
    )
    return json_response(answer)


async def wechatpay_merchant(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = WeChatPayControl(state).register_merchant(
        _text(body, "mchid"),
        _text(body, "merchant_public_key"),
        _text(body, "merchant_serial"),
        _text(body, "api_v3_key"),
    )
    return json_response(answer, status=201)


async def wechatpay_pay(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    payment = body.get("payment")
    if payment is not None and (
        not isinstance(payment, dict) or not all(isinstance(v, str) for v in payment.values())
    ):
        raise _invalid("payment must be an object of strings (wx.requestPayment's parameters)")
    answer = await WeChatPayControl(state).pay(
        _text(body, "mchid"),
        _text(body, "out_trade_no"),
        payment=payment,
        notify=Delivery.from_json(body.get("notify")),
    )
    return json_response(answer)


async def wechatpay_notify(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = await WeChatPayControl(state).notify(
        _text(body, "mchid"),
        _text(body, "out_trade_no"),
        _optional_text(body, "out_refund_no"),
        Delivery.from_json(body),
    )
    return json_response(answer)


async def wechatpay_refund_result(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = await WeChatPayControl(state).refund_result(
        _text(body, "mchid"),
        _text(body, "out_refund_no"),
        _text(body, "status"),
        Delivery.from_json(body.get("notify")),
    )
    return json_response(answer)


async def alipay_pay(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = await AlipayPayControl(state).pay(
        _text(body, "appid"),
        _text(body, "out_trade_no"),
        notify=AlipayDelivery.from_json(body.get("notify")),
    )
    return json_response(answer)


async def alipay_notify(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    answer = await AlipayPayControl(state).notify(
        _text(body, "appid"), _text(body, "out_trade_no"), AlipayDelivery.from_json(body)
    )
    return json_response(answer)


async def reset(request: Request, state: SandboxState) -> Response:
    return json_response(SandboxControl(state).reset())


async def calls(request: Request, state: SandboxState) -> Response:
    return json_response(SandboxControl(state).calls())


ROUTES = (
    Route("POST", "/control/apps", register_app),
    Route("GET", "/control/apps", list_apps),
    Route("POST", "/control/login-code", login_code),
    Route("POST", "/control/login-codes", login_codes),
    Route("POST", "/control/phone-code", phone_code),
    Route("POST", "/control/subscribe", subscribe),
    Route("GET", "/control/subscribe-messages", subscribe_messages),
    Route("POST", "/control/wechat/pages", wechat_pages),
    Route("GET", "/control/wechat/codes", wechat_codes),
    Route("GET", "/control/wechat/links", wechat_links_issued),
    Route("POST", "/control/content/words", content_word),
    Route("GET", "/control/content/media-checks", content_media_checks),
    Route("POST", "/control/content/media-checks/{trace_id}/result", content_media_result),
    Route("POST", "/control/encrypted-data", encrypted_data),
    Route("POST", "/control/raw-data-signature", raw_data_signature),
    Route("POST", "/control/alipay-phone", alipay_phone),
    Route("POST", "/control/rate-limit", rate_limit),
    Route("POST", "/control/outage", outage),
    Route("POST", "/control/wechatpay/merchants", wechatpay_merchant),
    Route("POST", "/control/wechatpay/pay", wechatpay_pay),
    Route("POST", "/control/wechatpay/notify", wechatpay_notify),
    Route("POST", "/control/wechatpay/refund-result", wechatpay_refund_result),
    Route("POST", "/control/alipay/pay", alipay_pay),
    Route("POST", "/control/alipay/notify", alipay_notify),
    Route("POST", "/control/reset", reset),
    Route("GET", "/control/calls", calls),
)
