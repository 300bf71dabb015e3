"""Notifications that never arrive: the scheduled reconciliation asks WeChat Pay about orders
still waiting after `pay_reconcile_after`, records what it says, and closes orders past their
expiry there first (so they can no longer be paid) and then here."""

from __future__ import annotations

import httpx
import pytest
from tests.functions.conftest import run_jobs
from tests.http.pay.conftest import OffsetClock, Shop

from minibase.pay import FULFIL_JOB
from minibase.pay.payments import RECONCILE_JOB
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def _state(services: Services, order_id: str) -> str:
    state: str = await services.db.fetch_value(
        "SELECT state FROM pay_orders WHERE id = ?", order_id
    )
    return state


async def test_a_payment_whose_notification_was_lost_is_found_by_reconciliation(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id = placed["order"]["id"]
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"], times=0)
    assert await services.payments.reconcile() == {"orders": 0, "refunds": 0, "failed": 0}
    assert await _state(services, order_id) == "created"  # too early to ask
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    assert await services.payments.reconcile() == {"orders": 1, "refunds": 0, "failed": 0}
    assert await _state(services, order_id) == "paid"
    jobs = await services.db.fetch_value("SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB)
    assert jobs == 1


async def test_the_scheduler_runs_reconciliation_only_while_something_waits(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"], times=0)
    await services.functions.enqueue_due()
    count = "SELECT COUNT(*) FROM jobs WHERE name = ?"
    assert await services.db.fetch_value(count, RECONCILE_JOB) == 0
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    await services.functions.enqueue_due()
    await services.functions.enqueue_due()  # the same interval: the same job
    assert await services.db.fetch_value(count, RECONCILE_JOB) == 1
    await run_jobs(services)
    assert await _state(services, placed["order"]["id"]) == "paid"
    clock.advance(seconds=services.settings.scheduler_interval)
    await services.functions.enqueue_due()  # nothing waits any more
    assert await services.db.fetch_value(count, RECONCILE_JOB) == 1


async def test_a_waiting_order_is_asked_about_once_per_period_not_on_every_tick(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    await wechat_shop.order(http)
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    assert (await services.payments.reconcile())["orders"] == 1
    assert (await services.payments.reconcile())["orders"] == 0
    assert not await services.payments.reconcile_due()
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    assert (await services.payments.reconcile())["orders"] == 1


async def test_an_expired_order_is_closed_at_wechat_pay_and_here_and_can_no_longer_be_paid(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
    admin: Actor,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    order_id, out_trade_no = placed["order"]["id"], placed["order"]["out_trade_no"]
    clock.advance(seconds=services.settings.pay_order_ttl + 1)
    assert (await services.payments.reconcile())["orders"] == 1
    assert await _state(services, order_id) == "closed"
    with pytest.raises(AssertionError, match=r"sandbox\.not_payable"):
        await sandbox.wechatpay_pay(wechat_shop.merchant, out_trade_no)  # closed there too
    events = (await http.get(f"/api/admin/pay/orders/{order_id}", headers=admin.headers)).json()[
        "events"
    ]
    assert [event["kind"] for event in events] == ["closed", "created"]


async def test_an_order_paid_just_before_it_expired_is_recorded_as_paid_not_closed(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"], times=0)
    clock.advance(seconds=services.settings.pay_order_ttl + 1)
    await services.payments.reconcile()
    assert await _state(services, placed["order"]["id"]) == "paid"


async def test_an_admin_can_ask_about_an_order_now(
    http: httpx.AsyncClient, wechat_shop: Shop, sandbox: SandboxClient, admin: Actor
) -> None:
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"], times=0)
    synced = await http.post(
        f"/api/admin/pay/orders/{placed['order']['id']}/sync", headers=admin.headers
    )
    assert synced.status_code == 200
    assert synced.json()["state"] == "paid"


async def test_a_provider_outage_during_reconciliation_changes_nothing_and_is_retried(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
) -> None:
    placed = (await wechat_shop.order(http)).json()
    await sandbox.wechatpay_pay(wechat_shop.merchant, placed["order"]["out_trade_no"], times=0)
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    await sandbox.outage("wechatpay", "http_500")
    assert await services.payments.reconcile() == {"orders": 0, "refunds": 0, "failed": 1}
    assert await _state(services, placed["order"]["id"]) == "created"
    assert await services.payments.reconcile_due()  # not marked as asked: asked again
    assert (await services.payments.reconcile())["orders"] == 1
    assert await _state(services, placed["order"]["id"]) == "paid"
