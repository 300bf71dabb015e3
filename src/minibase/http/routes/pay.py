"""Payments as a mini program and the providers call them: orders for the signed-in user, and
the notification endpoints WeChat Pay and Alipay post to."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import require_user, require_user_or_admin, services_of
from minibase.http.json import json_response, read_body, read_object
from minibase.http.paging import PAGE, declared_only, next_page, page_answer, page_limit
from minibase.http.routing import Media, Routes, nullable
from minibase.pay.order import OrderState
from minibase.pay.payments import Acknowledgement
from minibase.pay.providers import ALIPAY, WECHATPAY
from minibase.pay.requests import MAX_AMOUNT

routes = Routes("payments")

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "provider": {"enum": [WECHATPAY, ALIPAY]},
        "appid": {"type": "string"},
        "user": {"type": "string"},
        "out_trade_no": {"type": "string"},
        "product": {"type": "string"},
        "description": {"type": "string"},
        "amount": {"type": "integer", "description": "fen"},
        "refunded": {"type": "integer", "description": "fen refunded so far"},
        "state": {"enum": [state.value for state in OrderState]},
        "provider_trade_no": {"type": ["string", "null"]},
        "expires_at": {"type": "string"},
        "paid_at": {"type": ["string", "null"]},
    },
}
REFUND = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "order": {"type": "string"},
        "amount": {"type": "integer"},
        "reason": {"type": ["string", "null"]},
        "state": {"enum": ["requested", "succeeded", "failed"]},
    },
}
ORDER_WITH_REFUNDS = {
    "type": "object",
    "properties": {"order": ORDER, "refunds": {"type": "array", "items": REFUND}},
}
PLACED = {
    "type": "object",
    "properties": {
        "order": ORDER,
        "payment": {
            "type": ["object", "null"],
            "description": "WeChat: wx.requestPayment's timeStamp, nonceStr, package, signType"
            " and paySign; Alipay: my.tradePay's tradeNO. null once the order is not payable.",
        },
    },
}


@routes.add(
    "POST",
    "/api/pay/orders",
    "Create an order for the signed-in user and get what the payment call takes",
    access="user",
    body={
        "type": "object",
        "required": ["product", "idempotency_key"],
        "properties": {
            "product": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "what is bought (the @price hook's key)",
            },
            "amount": nullable(
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_AMOUNT,
                    "description": "fen; set by the @price hook if any",
                }
            ),
            "description": nullable(
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 127,
                    "description": "what the payer sees",
                }
            ),
            "idempotency_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "the same key: the same order",
            },
            "merchant": nullable(
                {"type": "string", "description": "a WeChat Pay mchid, if several"}
            ),
        },
        "additionalProperties": False,
    },
    responses={
        201: ("A new order, prepaid", PLACED),
        200: ("The order this idempotency key made before", PLACED),
        409: ("No merchant, a changed price, or the key used for another purchase", None),
    },
)
async def place_order(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user(request)
    body = await read_object(request, services.settings.max_body_bytes)
    request_id = request.scope.get("state", {}).get("request_id")
    placed = await services.payments.place(caller, body, request_id)
    return json_response(placed.to_json(), 201 if placed.created else 200)


@routes.add(
    "GET",
    "/api/pay/orders",
    "The signed-in user's orders, newest first",
    access="user",
    query=PAGE,
    responses={200: ("Orders", page_answer(ORDER, "before"))},
)
async def my_orders(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user(request)
    declared_only(request, PAGE)
    limit = page_limit(request)
    fetched = await services.payments.orders(
        user=caller.id, before=request.query_params.get("before"), limit=limit + 1
    )
    orders, next_before = next_page(fetched, limit, lambda order: order.id)
    items = [order.to_json() for order in orders]
    return json_response({"items": items, "next_before": next_before})


@routes.add(
    "GET",
    "/api/pay/orders/{id}",
    "One of the user's orders with its refunds (admins: any order)",
    access="user",
    responses={200: ("The order", ORDER_WITH_REFUNDS), 404: ("Not the caller's order", None)},
)
async def get_order(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user_or_admin(request)
    order, refunds = await services.payments.order(request.path_params["id"], caller)
    return json_response(
        {"order": order.to_json(), "refunds": [refund.to_json() for refund in refunds]}
    )


_ALIPAY_FAIL = Media({"text/plain": {"const": "fail"}})


def _wechatpay_answer(ack: Acknowledgement) -> Response:
    """WeChat Pay: 200/204 without a body is success; anything else is delivered again."""
    if ack.ok:
        return Response(status_code=204)
    body = orjson.dumps({"code": "FAIL", "message": ack.message})
    return Response(body, ack.status, media_type="application/json")


def _alipay_answer(ack: Acknowledgement) -> Response:
    """Alipay: the text "success" is success; anything else is delivered again."""
    if ack.ok:
        return Response(b"success", 200, media_type="text/plain")
    return Response(b"fail", ack.status, media_type="text/plain")


async def _notification(request: Request, provider: str) -> Acknowledgement:
    services = services_of(request)
    body = await read_body(request, services.settings.max_body_bytes)
    headers: dict[str, Any] = dict(request.headers)
    return await services.payments.notification(
        provider, request.path_params["merchant"], headers, body
    )


@routes.add(
    "POST",
    "/api/pay/wechatpay/notify/{merchant}",
    "WeChat Pay's payment and refund notifications (signed, encrypted)",
    responses={204: ("Recorded", None), 401: ("Not signed by WeChat Pay", None)},
)
async def wechatpay_notification(request: Request) -> Response:
    return _wechatpay_answer(await _notification(request, WECHATPAY))


@routes.add(
    "POST",
    "/api/pay/alipay/notify/{merchant}",
    "Alipay's asynchronous trade notifications (RSA2 signed form)",
    responses={
        200: ("success: recorded", Media({"text/plain": {"const": "success"}})),
        # refusals answer the text fail, so Alipay delivers the notification again
        400: ("fail: not a notification of this order", _ALIPAY_FAIL),
        401: ("fail: not signed by Alipay", _ALIPAY_FAIL),
        404: ("fail: no such merchant or order", _ALIPAY_FAIL),
    },
)
async def alipay_notification(request: Request) -> Response:
    return _alipay_answer(await _notification(request, ALIPAY))
