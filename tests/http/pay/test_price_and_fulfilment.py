"""The team's code around a purchase: a @price hook sets what a product costs (the client can
never choose), and the @paid hook fulfils each paid order exactly once, as a durable job that
is retried when it fails and shown to admins when it keeps failing."""

from __future__ import annotations

import httpx
from tests.functions.conftest import run_jobs
from tests.http.pay.conftest import OffsetClock, Shop, load_functions

from minibase.pay import FULFIL_JOB
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient

PRICES = """
from minibase.functions import ApiError, price

MENU = {"coffee": 1800, "tea": 900}

@price()
async def menu(ctx, product, input):
    if product not in MENU:
        raise ApiError("shop.unknown_product", 404, f"we do not sell {product}")
    return {"amount": MENU[product], "description": f"One {product} for {ctx.caller.openid[:4]}"}
"""

FULFIL = """
from minibase.functions import paid

@paid(max_attempts=3)
async def deliver(ctx, order):
    async with ctx.transaction() as tx:
        await tx.records_as_admin.create(
            "deliveries", {"order": order["id"], "user": order["user"], "amount": order["amount"]}
        )
        await tx.complete_job()
"""

FAILING = """
from minibase.functions import paid

@paid(max_attempts=2)
async def deliver(ctx, order):
    raise RuntimeError("the warehouse is closed")
"""


async def test_the_price_hook_sets_the_amount_and_the_description(
    http: httpx.AsyncClient, wechat_shop: Shop, services: Services
) -> None:
    load_functions(services, PRICES)
    response = await http.post(
        "/api/pay/orders",
        json={"product": "tea", "idempotency_key": "k1"},
        headers=wechat_shop.buyer_headers,
    )
    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert order["amount"] == 900
    assert order["description"].startswith("One tea for ")


async def test_a_client_amount_that_is_not_the_price_is_refused(
    http: httpx.AsyncClient, wechat_shop: Shop, services: Services
) -> None:
    load_functions(services, PRICES)
    cheap = await wechat_shop.order(http, product="coffee", amount=1)
    assert cheap.status_code == 409
    assert cheap.json()["code"] == "pay.price_changed"
    assert cheap.json()["details"] == {"amount": 1800}
    unknown = await wechat_shop.order(http, product="caviar", key="k2")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "shop.unknown_product"
    count = await services.db.fetch_value("SELECT COUNT(*) FROM pay_orders")
    assert count == 0


async def test_without_a_price_hook_the_order_needs_an_amount(
    http: httpx.AsyncClient, wechat_shop: Shop
) -> None:
    response = await http.post(
        "/api/pay/orders",
        json={"product": "coffee", "idempotency_key": "k1"},
        headers=wechat_shop.buyer_headers,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "pay.invalid_order"


async def test_a_paid_order_is_fulfilled_exactly_once_however_often_it_is_reported(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
) -> None:
    created = await http.post(
        "/api/admin/collections",
        json={
            "name": "deliveries",
            "fields": {
                "order": {"type": "string"},
                "user": {"type": "string"},
                "amount": {"type": "integer"},
            },
            "indexes": [{"fields": ["order"], "unique": True}],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    load_functions(services, FULFIL)
    placed = (await wechat_shop.order(http)).json()
    out_trade_no = placed["order"]["out_trade_no"]
    await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no, concurrent=10)
    await sandbox.wechatpay_notify(wechat_shop.merchant, out_trade_no, times=3)
    await services.payments.sync(placed["order"]["id"])
    assert await run_jobs(services) == 1
    assert await run_jobs(services) == 0
    listed = await http.get("/api/collections/deliveries/records", headers=admin.headers)
    items = listed.json()["items"]
    assert [(item["order"], item["amount"]) for item in items] == [(placed["order"]["id"], 1200)]
    state = await services.db.fetch_value("SELECT state FROM jobs WHERE name = ?", FULFIL_JOB)
    assert state == "succeeded"


async def test_a_failing_fulfilment_is_retried_then_waits_for_an_admin(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
    clock: OffsetClock,
) -> None:
    load_functions(services, FAILING)
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"])
    assert await run_jobs(services) == 1
    clock.advance(hours=1)  # past the retry's backoff
    assert await run_jobs(services) == 1
    listed = (
        await http.get(f"/api/admin/jobs?state=dead&name={FULFIL_JOB}", headers=admin.headers)
    ).json()["items"]
    assert [item["payload"] for item in listed] == [{"order": placed["order"]["id"]}]
    assert [item["attempts"] for item in listed] == [2]
    assert "the warehouse is closed" in listed[0]["last_error"]


async def test_a_paid_order_without_a_paid_hook_waits_in_the_dead_jobs(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"])
    assert await run_jobs(services) == 1
    job = await services.db.fetch_one(
        "SELECT state, last_error FROM jobs WHERE name = ?", FULFIL_JOB
    )
    assert job is not None
    assert job[0] == "queued"  # to be retried: deploy a @paid hook and it is fulfilled
    assert "no @paid hook" in job[1]
