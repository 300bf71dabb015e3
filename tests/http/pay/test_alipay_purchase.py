"""An Alipay user buys: alipay.trade.create (RSA2) gives the trade_no for my.tradePay; the
person pays in the sandbox, whose signed notification pays the order once, answered "success"
only after the commit. Refunds are settled by Alipay's answer; reconciliation finds payments
whose notification was lost."""

from __future__ import annotations

import httpx
from tests.http.pay.conftest import OffsetClock, Shop

from minibase.pay import FULFIL_JOB
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def _state(services: Services, order_id: str) -> str:
    state: str = await services.db.fetch_value(
        "SELECT state FROM pay_orders WHERE id = ?", order_id
    )
    return state


async def test_the_order_comes_back_with_the_trade_number_for_my_trade_pay(
    http: httpx.AsyncClient, alipay_shop: Shop
) -> None:
    response = await alipay_shop.order(http)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["order"]["provider"] == "alipay"
    assert set(body["payment"]) == {"tradeNO"}
    assert body["payment"]["tradeNO"]


async def test_paying_sends_a_notification_that_pays_the_order_once(
    http: httpx.AsyncClient, alipay_shop: Shop, sandbox: SandboxClient, services: Services
) -> None:
    placed = (await alipay_shop.order(http)).json()
    order_id = placed["order"]["id"]
    paid = await sandbox.alipay_pay(
        alipay_shop.appid, placed["order"]["out_trade_no"], concurrent=8
    )
    assert [d["body"] for d in paid["deliveries"]] == ["success"] * 8
    assert await _state(services, order_id) == "paid"
    order = (
        await http.get(f"/api/pay/orders/{order_id}", headers=alipay_shop.buyer_headers)
    ).json()["order"]
    assert order["provider_trade_no"] == placed["payment"]["tradeNO"]
    jobs = await services.db.fetch_value("SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB)
    assert jobs == 1


async def test_forged_tampered_and_other_apps_notifications_are_refused(
    http: httpx.AsyncClient, alipay_shop: Shop, sandbox: SandboxClient, services: Services
) -> None:
    placed = (await alipay_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    await sandbox.alipay_pay(alipay_shop.appid, out_trade_no, times=0)
    for broken in ("forge", "tamper", "unknown_app"):
        sent = await sandbox.alipay_notify(alipay_shop.appid, out_trade_no, **{broken: True})
        assert [d["body"] for d in sent["deliveries"]] == ["fail"], broken
        assert await _state(services, order_id) == "created", broken
    sent = await sandbox.alipay_notify(alipay_shop.appid, out_trade_no)
    assert [d["body"] for d in sent["deliveries"]] == ["success"]
    assert await _state(services, order_id) == "paid"


async def test_a_refund_is_settled_by_alipays_answer(
    http: httpx.AsyncClient, alipay_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    placed = (await alipay_shop.order(http)).json()
    order_id = placed["order"]["id"]
    await sandbox.alipay_pay(alipay_shop.appid, placed["order"]["out_trade_no"])
    part = await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds", json={"amount": 200}, headers=admin.headers
    )
    assert part.status_code == 201, part.text
    assert part.json()["refund"]["state"] == "succeeded"
    assert (part.json()["order"]["state"], part.json()["order"]["refunded"]) == ("paid", 200)
    rest = await http.post(
        f"/api/admin/pay/orders/{order_id}/refunds", json={"amount": 1000}, headers=admin.headers
    )
    assert rest.json()["order"]["state"] == "refunded"


async def test_a_lost_notification_is_found_by_reconciliation(
    http: httpx.AsyncClient,
    alipay_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await alipay_shop.order(http)).json()
    await sandbox.alipay_pay(alipay_shop.appid, placed["order"]["out_trade_no"], times=0)
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    assert (await services.payments.reconcile())["orders"] == 1
    assert await _state(services, placed["order"]["id"]) == "paid"


async def test_an_expired_trade_is_closed_at_alipay_and_here(
    http: httpx.AsyncClient,
    alipay_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await alipay_shop.order(http)).json()
    clock.advance(seconds=services.settings.pay_order_ttl + 1)
    assert (await services.payments.reconcile())["orders"] == 1
    assert await _state(services, placed["order"]["id"]) == "closed"
