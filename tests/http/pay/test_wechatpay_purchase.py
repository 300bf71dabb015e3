"""A WeChat user buys: the server prepays the order at WeChat Pay (signed JSAPI call) and hands
the mini program wx.requestPayment's parameters; the person pays in the sandbox, whose signed,
encrypted notification pays the order here, once, however it is delivered."""

from __future__ import annotations

import asyncio

import httpx
from tests.http.pay.conftest import Shop

from minibase.pay import FULFIL_JOB
from minibase.platforms.wechatpay import verify_payment_params
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def _count(services: Services, sql: str, *args: object) -> int:
    value: int = await services.db.fetch_value(sql, *args)
    return value


async def test_the_order_comes_back_with_signed_request_payment_parameters(
    http: httpx.AsyncClient, wechat_shop: Shop, services: Services
) -> None:
    response = await wechat_shop.order(http, description="A flat white")
    assert response.status_code == 201, response.text
    body = response.json()
    order, payment = body["order"], body["payment"]
    assert order["state"] == "created"
    assert (order["amount"], order["provider"], order["appid"]) == (1200, "wechatpay", "wx-coffee")
    assert order["user"] == wechat_shop.buyer.id
    assert set(payment) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert payment["package"].startswith("prepay_id=wx")
    assert payment["signType"] == "RSA"
    merchant = await services.merchants.get(wechat_shop.merchant)
    public_key = rsa_public(merchant.keys.private_key)
    assert verify_payment_params("wx-coffee", payment, public_key)
    assert "prepay" not in order  # the prepay id travels only inside `payment`


def rsa_public(private_key: str) -> str:
    from minibase.sandbox_wiring import public_key_of

    return public_key_of(private_key)


async def test_the_same_idempotency_key_is_the_same_order_and_another_purchase_is_refused(
    http: httpx.AsyncClient, wechat_shop: Shop
) -> None:
    first = (await wechat_shop.order(http)).json()
    again = await wechat_shop.order(http)
    assert again.status_code == 200
    assert again.json()["order"]["id"] == first["order"]["id"]
    assert again.json()["payment"]["package"] == first["payment"]["package"]
    other = await wechat_shop.order(http, amount=1)
    assert other.status_code == 409
    assert other.json()["code"] == "pay.idempotency_conflict"


async def test_paying_in_the_sandbox_pays_the_order_and_queues_one_fulfilment(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, services: Services
) -> None:
    placed = (await wechat_shop.order(http)).json()
    out_trade_no = placed["order"]["out_trade_no"]
    paid = await sandbox.wechatpay_pay(
        wechat_shop.merchant, out_trade_no, payment={**placed["payment"], "appid": "wx-coffee"}
    )
    assert [delivery["status"] for delivery in paid["deliveries"]] == [204]
    url = f"/api/pay/orders/{placed['order']['id']}"
    order = (await http.get(url, headers=wechat_shop.buyer_headers)).json()["order"]
    assert order["state"] == "paid"
    assert order["provider_trade_no"] == paid["transaction_id"]
    assert order["paid_at"] is not None
    jobs = await _count(services, "SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB)
    assert jobs == 1
    again = await wechat_shop.order(http)
    assert again.status_code == 200
    assert again.json()["payment"] is None  # paid: nothing more to pay


async def test_the_same_notification_twenty_times_at_once_changes_the_order_once(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, services: Services
) -> None:
    placed = (await wechat_shop.order(http)).json()
    out_trade_no = placed["order"]["out_trade_no"]
    paid = await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no, concurrent=20)
    assert [delivery["status"] for delivery in paid["deliveries"]] == [204] * 20
    again = await sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no, times=3)
    assert [delivery["status"] for delivery in again["deliveries"]] == [204] * 3
    order_id = placed["order"]["id"]
    assert await _count(services, "SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB) == 1
    assert (
        await _count(
            services,
            "SELECT COUNT(*) FROM pay_events WHERE order_id = ? AND kind = 'paid'",
            order_id,
        )
        == 1
    )


async def test_forged_tampered_stale_and_unknown_key_notifications_are_refused(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    paid = await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no, times=0)
    assert paid["deliveries"] == []
    for broken in ("forge", "tamper", "stale", "unknown_serial"):
        sent = await sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no, **{broken: True})
        assert [d["status"] for d in sent["deliveries"]] == [401], broken
        assert sent["deliveries"][0]["body"].startswith('{"code":"FAIL"')
        state = await services.db.fetch_value("SELECT state FROM pay_orders WHERE id = ?", order_id)
        assert state == "created", broken
    assert await _count(services, "SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB) == 0
    # admins see each refused report (no order: nothing in it can be trusted), and why
    events = (await http.get("/api/admin/pay/events?kind=rejected", headers=admin.headers)).json()
    refused = [
        (e["order"], e["detail"]["merchant"], e["detail"]["reason"]) for e in events["items"]
    ]
    reasons = ("invalid_signature", "expired_data", "invalid_signature", "invalid_signature")
    assert refused == [(None, wechat_shop.merchant, reason) for reason in reasons]
    assert "no platform key with serial" in events["items"][0]["detail"]["message"]
    sent = await sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no)
    assert [d["status"] for d in sent["deliveries"]] == [204]


async def test_a_payment_that_does_not_match_the_order_is_refused_and_shown_to_admins(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    # what the server holds says 1 yuan less than what WeChat Pay took
    async with services.db.transaction() as conn:
        await conn.execute("UPDATE pay_orders SET amount = 1100 WHERE id = ?", order_id)
    paid = await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no)
    assert [d["status"] for d in paid["deliveries"]] == [400]
    state = await services.db.fetch_value("SELECT state FROM pay_orders WHERE id = ?", order_id)
    assert state == "created"
    events = (await http.get("/api/admin/pay/events?kind=rejected", headers=admin.headers)).json()[
        "items"
    ]
    assert [event["order"] for event in events] == [order_id]
    assert "amount" in events[0]["detail"]["reason"]


async def test_a_notification_for_an_unknown_merchant_is_not_acknowledged(
    http: httpx.AsyncClient, wechat_shop: Shop
) -> None:
    response = await http.post("/api/pay/wechatpay/notify/1999999999", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "FAIL"


async def test_notifications_and_a_query_racing_record_one_payment(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, services: Services
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no, times=0)
    sent, *synced = await asyncio.gather(
        sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no, concurrent=5),
        *(services.payments.sync(order_id) for _ in range(5)),
    )
    assert [d["status"] for d in sent["deliveries"]] == [204] * 5
    assert {order.state.value for order in synced} == {"paid"}
    assert await _count(services, "SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB) == 1
    assert (
        await _count(
            services,
            "SELECT COUNT(*) FROM pay_events WHERE order_id = ? AND kind = 'paid'",
            order_id,
        )
        == 1
    )
