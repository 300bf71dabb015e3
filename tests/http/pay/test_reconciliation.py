"""Notifications that never arrive: the scheduled reconciliation asks WeChat Pay about orders
still waiting after `pay_reconcile_after`, records what it says, and closes orders past their
expiry there first (so they can no longer be paid) and then here."""

from __future__ import annotations

import httpx
import pytest
from tests.functions.conftest import run_jobs
from tests.http.admin.test_declared_indexes_are_used import query_plan
from tests.http.pay.conftest import OffsetClock, Shop

from minibase.pay import FULFIL_JOB
from minibase.pay.payments import RECONCILE_JOB
from minibase.services import Services
from minibase.store.migrations import v0018_admin_lists
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


async def test_admins_list_what_reconciliation_settled(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    sandbox: SandboxClient,
    services: Services,
    clock: OffsetClock,
    admin: Actor,
) -> None:
    found, notified = [(await wechat_shop.order(http, key)).json()["order"] for key in "ab"]
    await sandbox.wechatpay_pay(wechat_shop.merchant, found["out_trade_no"], times=0)
    await sandbox.wechatpay_pay(wechat_shop.merchant, notified["out_trade_no"])
    clock.advance(seconds=services.settings.pay_reconcile_after + 1)
    await services.payments.reconcile()
    url = "/api/admin/pay/events?source="
    settled = (await http.get(url + "reconcile", headers=admin.headers)).json()["items"]
    assert [(e["order"], e["kind"], e["detail"]["source"]) for e in settled] == [
        (found["id"], "paid", "reconcile")
    ]
    told = (await http.get(url + "notification", headers=admin.headers)).json()["items"]
    assert [(e["order"], e["kind"]) for e in told] == [(notified["id"], "paid")]


async def test_the_list_by_source_reads_its_index(services: Services) -> None:
    sql = "SELECT id FROM pay_events WHERE source = ? ORDER BY id DESC LIMIT ?"
    plan = await query_plan(services, sql, ["reconcile", 101])
    assert "pay_events_source" in plan, plan


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
    _to_the_start_of_an_interval(clock, services.settings.scheduler_interval)
    await services.functions.enqueue_due()
    await services.functions.enqueue_due()  # the same interval: the same job
    assert await services.db.fetch_value(count, RECONCILE_JOB) == 1
    await run_jobs(services)
    assert await _state(services, placed["order"]["id"]) == "paid"
    clock.advance(seconds=services.settings.scheduler_interval)
    await services.functions.enqueue_due()  # nothing waits any more
    assert await services.db.fetch_value(count, RECONCILE_JOB) == 1


def _to_the_start_of_an_interval(clock: OffsetClock, interval: float) -> None:
    """Real time runs on under the offset: two ticks straddling an interval's end are two
    intervals (two jobs, rightly). Starting the interval now leaves the whole of it to them."""
    clock.advance(seconds=interval - clock.now().timestamp() % interval + 0.001)


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


async def test_events_from_before_the_source_column_get_theirs_from_the_detail(
    services: Services,
) -> None:
    json = services.db.dialect.json_param()
    async with services.db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO pay_events (id, order_id, kind, detail, created) VALUES"
            f" ('e1', 'o1', 'paid', {json}, '2026-01-01T00:00:00Z'),"
            f" ('e2', NULL, 'rejected', {json}, '2026-01-01T00:00:00Z')",
            '{"source": "reconcile", "trade_no": "42"}',
            '{"reason": "invalid_signature"}',
        )
    backfill = [s for s in v0018_admin_lists.statements(services.db.dialect) if "UPDATE" in s]
    async with services.db.transaction() as conn:
        await conn.execute_script(backfill)
    rows = await services.db.fetch_all("SELECT id, source FROM pay_events ORDER BY id")
    assert [tuple(row) for row in rows] == [("e1", "reconcile"), ("e2", None)]
