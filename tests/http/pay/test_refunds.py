"""Refunds, full and partial, several per order but never more than was paid: an admin asks,
WeChat Pay answers PROCESSING, and its refund notification (or reconciliation) settles it.
Buyers and admins read the order's refund history."""

from __future__ import annotations

from typing import Any

import httpx
from tests.http.pay.conftest import OffsetClock, Shop, load_functions

from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def _paid_order(http: httpx.AsyncClient, shop: Shop, sandbox: SandboxClient) -> str:
    placed = (await shop.order(http)).json()
    await sandbox.wechatpay_pay(shop.merchant, placed["order"]["out_trade_no"])
    order_id: str = placed["order"]["id"]
    return order_id


async def _refund(
    http: httpx.AsyncClient, admin: Actor, order_id: str, amount: int, reason: str | None = None
) -> httpx.Response:
    return await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds",
        json={"amount": amount, "reason": reason},
        headers=admin.headers,
    )


async def _order(http: httpx.AsyncClient, shop: Shop, order_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/pay/orders/{order_id}", headers=shop.buyer_headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_partial_refunds_settled_by_notifications_end_in_a_refunded_order(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    first = await _refund(http, admin, order_id, 500, "one cup was cold")
    assert first.status_code == 201, first.text
    refund = first.json()["refund"]
    assert (refund["amount"], refund["state"]) == (500, "requested")
    assert first.json()["order"]["state"] == "refunding"
    settled = await sandbox.wechatpay_refund_result(
        wechat_shop.merchant, refund["out_refund_no"], "SUCCESS"
    )
    assert [d["status"] for d in settled["deliveries"]] == [204]
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["order"]["refunded"]) == ("paid", 500)
    second = (await _refund(http, admin, order_id, 700)).json()["refund"]
    await sandbox.wechatpay_refund_result(wechat_shop.merchant, second["out_refund_no"], "SUCCESS")
    again = await sandbox.wechatpay_notify(
        wechat_shop.merchant,
        seen["order"]["out_trade_no"],
        second["out_refund_no"],
        concurrent=5,
    )
    assert [d["status"] for d in again["deliveries"]] == [204] * 5
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["order"]["refunded"]) == ("refunded", 1200)
    assert [(r["amount"], r["state"]) for r in seen["refunds"]] == [
        (500, "succeeded"),
        (700, "succeeded"),
    ]


async def test_refunds_can_never_pass_what_was_paid_counting_those_in_flight(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    assert (await _refund(http, admin, order_id, 1000)).status_code == 201
    too_much = await _refund(http, admin, order_id, 201)
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "pay.refund_too_large"
    assert too_much.json()["details"] == {"refundable": 200}
    assert (await _refund(http, admin, order_id, 200)).status_code == 201
    nothing = await _refund(http, admin, order_id, 1)
    assert nothing.json()["details"] == {"refundable": 0}


async def test_a_refund_amount_written_as_a_whole_decimal_is_that_many_fen(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    answer = await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds", json={"amount": 500.0}, headers=admin.headers
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["refund"]["amount"] == 500
    half = await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds", json={"amount": 0.5}, headers=admin.headers
    )
    assert (half.status_code, half.json()["code"]) == (400, "pay.invalid_refund")


async def test_a_refund_the_bank_closes_frees_its_amount_again(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    refund = (await _refund(http, admin, order_id, 1200)).json()["refund"]
    await sandbox.wechatpay_refund_result(wechat_shop.merchant, refund["out_refund_no"], "CLOSED")
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["order"]["refunded"]) == ("paid", 0)
    assert seen["refunds"][0]["state"] == "failed"
    assert (await _refund(http, admin, order_id, 1200)).status_code == 201


async def test_an_abnormal_refund_stays_in_flight_until_the_bank_settles_it(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    refund = (await _refund(http, admin, order_id, 300)).json()["refund"]
    await sandbox.wechatpay_refund_result(wechat_shop.merchant, refund["out_refund_no"], "ABNORMAL")
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["refunds"][0]["state"]) == ("refunding", "requested")
    await sandbox.wechatpay_refund_result(wechat_shop.merchant, refund["out_refund_no"], "SUCCESS")
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["order"]["refunded"]) == ("paid", 300)


async def test_a_refund_whose_notification_was_lost_is_settled_by_reconciliation(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    refund = (await _refund(http, admin, order_id, 1200)).json()["refund"]
    await sandbox.wechatpay_refund_result(
        wechat_shop.merchant, refund["out_refund_no"], "SUCCESS", times=0
    )
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    assert await services.payments.reconcile() == {"orders": 0, "refunds": 1, "failed": 0}
    state = await services.db.fetch_value("SELECT state FROM pay_orders WHERE id = ?", order_id)
    assert state == "refunded"


async def test_only_admins_refund_and_buyers_see_only_their_own_orders(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    admin: Actor,
    make_user: Any,
) -> None:
    order_id = await _paid_order(http, wechat_shop, sandbox)
    refused = await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds",
        json={"amount": 100},
        headers=wechat_shop.buyer_headers,
    )
    assert refused.status_code == 403
    stranger = await make_user()
    hidden = await http.get(f"/api/pay/orders/{order_id}", headers=stranger.headers)
    assert hidden.status_code == 404
    mine = await http.get("/api/pay/orders", headers=wechat_shop.buyer_headers)
    assert [order["id"] for order in mine.json()["items"]] == [order_id]
    theirs = await http.get("/api/pay/orders", headers=stranger.headers)
    assert theirs.json()["items"] == []
    listed = await http.get("/api/admin/pay/orders?state=paid", headers=admin.headers)
    assert [order["id"] for order in listed.json()["items"]] == [order_id]


async def test_an_unpaid_order_cannot_be_refunded(
    http: httpx.AsyncClient, wechat_shop: Shop, admin: Actor
) -> None:
    placed = (await wechat_shop.order(http)).json()
    refused = await _refund(http, admin, placed["order"]["id"], 100)
    assert refused.status_code == 409
    assert refused.json()["code"] == "pay.not_refundable"


CANCEL = """
from minibase.functions import function

@function(auth="user")
async def cancel(ctx, input):
    order = await ctx.payments.order(input["order"])  # the caller's own, else 404
    left = order["amount"] - order["refunded"]
    return await ctx.payments.refund(order["id"], left, "cancelled by the buyer")
"""


async def test_a_function_lets_buyers_cancel_their_own_paid_orders(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    make_user: Any,
) -> None:
    load_functions(services, CANCEL)
    order_id = await _paid_order(http, wechat_shop, sandbox)
    stranger = await make_user()
    theirs = await http.post(
        "/api/functions/cancel", json={"order": order_id}, headers=stranger.headers
    )
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "pay.order_not_found"
    mine = await http.post(
        "/api/functions/cancel", json={"order": order_id}, headers=wechat_shop.buyer_headers
    )
    assert mine.status_code == 200, mine.text
    result = mine.json()["result"]
    assert (result["amount"], result["state"], result["order_state"]) == (
        1200,
        "requested",
        "refunding",
    )
    events = await services.payments.events(order=order_id, kind="refund_requested")
    assert events[0]["detail"]["by"] == "user"
    assert events[0]["detail"]["id"] == wechat_shop.buyer.id


async def test_a_late_payment_notification_after_a_refund_changes_nothing(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no, times=0)  # held back
    await services.payments.sync(order_id)
    refund = (await _refund(http, admin, order_id, 1200)).json()["refund"]
    await sandbox.wechatpay_refund_result(wechat_shop.merchant, refund["out_refund_no"], "SUCCESS")
    late = await sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no, times=2)
    assert [d["status"] for d in late["deliveries"]] == [204, 204]
    seen = await _order(http, wechat_shop, order_id)
    assert (seen["order"]["state"], seen["order"]["refunded"]) == ("refunded", 1200)
    jobs = await services.db.fetch_value("SELECT COUNT(*) FROM jobs WHERE name = 'pay.fulfil'")
    assert jobs == 1
