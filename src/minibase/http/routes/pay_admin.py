"""Admin API over payments: WeChat Pay merchants (keys go in, never come out), every order with
its refunds and history, refunds, asking a provider now, and the rejected reports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.errors import ApiError
from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_object
from minibase.http.paging import (
    PAGE,
    declared_only,
    limit_param,
    next_page,
    page_answer,
    page_limit,
    state_filter,
    state_param,
)
from minibase.http.routes.pay import ORDER, ORDER_WITH_REFUNDS, REFUND
from minibase.http.routing import Routes, nullable
from minibase.pay.merchants import (
    APPID,
    MCHID,
    SECRET_FIELDS,
    SERIAL,
    check_merchant,
    delete_merchant,
    save_merchant,
)
from minibase.pay.order import OrderState
from minibase.services import Services

ORDER_STATES = tuple(state.value for state in OrderState)
routes = Routes("payments admin")

MERCHANT_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["mchid", "serial_no", *SECRET_FIELDS],
    "properties": {
        "mchid": {"type": "string", "pattern": f"^{MCHID.pattern}$"},
        "name": nullable({"type": "string"}),
        "appids": nullable(
            {"type": "array", "items": {"type": "string", "pattern": f"^{APPID.pattern}$"}}
        ),
        "serial_no": {
            "type": "string",
            "pattern": f"^{SERIAL.pattern}$",
            "description": "the merchant API certificate's serial",
        },
        "platform_keys": nullable(
            {
                "type": "object",
                "description": "WeChat Pay's keys by serial: platform certificates (PEM), or the"
                " WeChat Pay public key under its PUB_KEY_ID_...",
                "additionalProperties": {"type": "string"},
            }
        ),
        "private_key": {"type": "string", "writeOnly": True, "description": "apiclient_key.pem"},
        "api_v3_key": {"type": "string", "pattern": "^[ -~]{32}$", "writeOnly": True},
    },
    "additionalProperties": False,
}
MERCHANT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "mchid": {"type": "string"},
        "name": {"type": "string"},
        "appids": {"type": "array", "items": {"type": "string"}},
        "serial_no": {"type": "string"},
        "platform_serials": {"type": "array", "items": {"type": "string"}},
        "has_private_key": {"type": "boolean"},
        "has_api_v3_key": {"type": "boolean"},
    },
}
# PATCH: what it names changes; null or missing keeps the current value (mchid is fixed)
_MERCHANT_CHANGES = {
    "type": "object",
    "properties": {
        **{key: nullable(value) for key, value in MERCHANT_BODY["properties"].items()},
        "mchid": {"description": "ignored: a merchant's mchid never changes"},
    },
    "additionalProperties": False,
}
ONE_MERCHANT = "/api/admin/pay/merchants/{mchid}"


async def _registered_in_sandbox(services: Services, mchid: str) -> None:
    """In --dev the in-process sandbox learns every merchant, and its platform key."""
    if services.sandbox is not None:
        from minibase.sandbox_wiring import register_merchant_in_sandbox

        await register_merchant_in_sandbox(services, await services.merchants.get(mchid))


@routes.add(
    "GET",
    "/api/admin/pay/merchants",
    "List WeChat Pay merchants",
    access="admin",
    responses={
        200: (
            "Merchants",
            {"type": "object", "properties": {"items": {"type": "array", "items": MERCHANT}}},
        )
    },
)
async def list_merchants(request: Request) -> Response:
    await require_admin(request)
    merchants = await services_of(request).merchants.all()
    return json_response({"items": [merchant.public() for merchant in merchants]})


@routes.add(
    "POST",
    "/api/admin/pay/merchants",
    "Register a WeChat Pay merchant (its keys are sealed, never returned)",
    access="admin",
    body=MERCHANT_BODY,
    responses={201: ("Registered", MERCHANT)},
)
async def create_merchant(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    if services.sandbox is not None:
        from minibase.sandbox_wiring import with_dev_merchant_keys

        body = with_dev_merchant_keys(body)
    values = check_merchant(body)
    async with services.db.transaction() as conn:
        merchant = await save_merchant(
            conn, services.merchants, services.clock, services.ids, values
        )
    await services.merchants.load()
    await _registered_in_sandbox(services, merchant.mchid)
    return json_response((await services.merchants.get(merchant.mchid)).public(), 201)


@routes.add(
    "GET",
    ONE_MERCHANT,
    "Read a merchant (without its keys)",
    access="admin",
    responses={200: ("The merchant", MERCHANT)},
)
async def get_merchant(request: Request) -> Response:
    await require_admin(request)
    merchant = await services_of(request).merchants.get(request.path_params["mchid"])
    return json_response(merchant.public())


@routes.add(
    "PATCH",
    ONE_MERCHANT,
    "Change a merchant: its apps, name, or keys (e.g. a new certificate or platform key)",
    access="admin",
    body=_MERCHANT_CHANGES,
    responses={200: ("The merchant", MERCHANT)},
)
async def patch_merchant(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    current = await services.merchants.get(request.path_params["mchid"])
    body = await read_object(request, services.settings.max_body_bytes)
    body.pop("mchid", None)
    values = check_merchant(body, partial=True)
    async with services.db.transaction() as conn:
        merchant = await save_merchant(
            conn, services.merchants, services.clock, services.ids, values, current
        )
    await services.merchants.load()
    await _registered_in_sandbox(services, merchant.mchid)
    return json_response((await services.merchants.get(merchant.mchid)).public())


@routes.add(
    "DELETE",
    ONE_MERCHANT,
    "Remove a merchant (its orders stay; they cannot be refunded or reconciled until it is back)",
    access="admin",
    responses={204: ("Removed", None)},
)
async def delete_merchant_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    merchant = await services.merchants.get(request.path_params["mchid"])
    async with services.db.transaction() as conn:
        await delete_merchant(conn, merchant)
    await services.merchants.load()
    return Response(status_code=204)


ORDERS_QUERY = (
    state_param(ORDER_STATES, "orders"),
    ("user", "the buyer's user id", {"type": "string"}),
    *PAGE,
)


@routes.add(
    "GET",
    "/api/admin/pay/orders",
    "Every order, newest first (filter by state or user)",
    access="admin",
    query=ORDERS_QUERY,
    responses={200: ("Orders", page_answer(ORDER, "before"))},
)
async def list_orders(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, ORDERS_QUERY)
    params = request.query_params
    limit = page_limit(request)
    fetched = await services_of(request).payments.orders(
        user=params.get("user"),
        state=state_filter(request, ORDER_STATES),
        before=params.get("before"),
        limit=limit + 1,
    )
    orders, next_before = next_page(fetched, limit, lambda order: order.id)
    items = [order.to_json() for order in orders]
    return json_response({"items": items, "next_before": next_before})


@routes.add(
    "GET",
    "/api/admin/pay/orders/{id}",
    "An order with its refunds and everything that happened to it",
    access="admin",
    responses={200: ("The order", ORDER_WITH_REFUNDS)},
)
async def admin_order(request: Request) -> Response:
    caller = await require_admin(request)
    payments = services_of(request).payments
    order, refunds = await payments.order(request.path_params["id"], caller)
    events = await payments.events(order=order.id)
    return json_response(
        {
            "order": order.to_json(),
            "refunds": [refund.to_json() for refund in refunds],
            "events": events,
        }
    )


@routes.add(
    "POST",
    "/api/admin/pay/orders/{id}/refunds",
    "Refund an order, fully or in part (never more than was paid)",
    access="admin",
    body={
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": {"type": "integer", "minimum": 1, "description": "fen"},
            "reason": nullable({"type": "string", "maxLength": 80}),
        },
        "additionalProperties": False,
    },
    responses={
        201: (
            "The refund and its order",
            {"type": "object", "properties": {"order": ORDER, "refund": REFUND}},
        )
    },
)
async def refund_order(request: Request) -> Response:
    caller = await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    unknown = sorted(set(body) - {"amount", "reason"})
    if unknown:
        raise ApiError("pay.invalid_refund", 400, f"unknown fields {unknown}: give amount, reason")
    amount = body.get("amount")
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)  # JSON numbers: 500.0 is 500
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ApiError("pay.invalid_refund", 400, "amount is a whole number of fen above zero")
    order, refund = await services.payments.refund(
        request.path_params["id"], amount, body.get("reason"), caller
    )
    return json_response({"order": order.to_json(), "refund": refund.to_json()}, 201)


@routes.add(
    "POST",
    "/api/admin/pay/orders/{id}/sync",
    "Ask the provider about an unpaid order now and record what it says",
    access="admin",
    responses={200: ("The order", ORDER)},
)
async def sync_order(request: Request) -> Response:
    await require_admin(request)
    order = await services_of(request).payments.sync(request.path_params["id"], "admin")
    return json_response(order.to_json())


EVENTS_QUERY = (
    ("kind", "created, paid, closed, rejected, refund_requested, ...", {"type": "string"}),
    ("order", "an order id", {"type": "string"}),
    (
        "source",
        "where a change came from: notification, reconcile (asked by reconciliation),"
        " query (asked by the buyer), function (your code), prepay, admin",
        {"type": "string"},
    ),
    PAGE[0],  # before
    limit_param(100),
)
EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "order": {"type": ["string", "null"], "description": "null for a refused report"},
        "kind": {"type": "string"},
        "detail": {},
        "created": {"type": "string", "format": "date-time"},
    },
}


@routes.add(
    "GET",
    "/api/admin/pay/events",
    "What happened to orders, newest first; kind=rejected lists refused reports,"
    " source=reconcile what reconciliation settled",
    access="admin",
    query=EVENTS_QUERY,
    responses={200: ("Events", page_answer(EVENT, "before"))},
)
async def list_events(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, EVENTS_QUERY)
    params = request.query_params
    limit = page_limit(request, default=100)
    fetched: list[dict[str, Any]] = await services_of(request).payments.events(
        order=params.get("order"),
        kind=params.get("kind"),
        source=params.get("source"),
        before=params.get("before"),
        limit=limit + 1,
    )
    events, next_before = next_page(fetched, limit, lambda event: str(event["id"]))
    return json_response({"items": list(events), "next_before": next_before})
