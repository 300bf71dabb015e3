"""The order book on both engines: an order is created once per idempotency key, paid once
however many reports race, fulfilled once (one job, enqueued with the payment), never refunded
past what was paid; reports that do not match the order change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.errors import ApiError
from minibase.pay import FULFIL_JOB, Ledger, Order, OrderState, Payment, PaymentMismatch
from minibase.services import Services, open_services


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ledger(services: Services) -> Ledger:
    return Ledger(services.clock, services.ids, services.jobs)


async def _order(services: Services, ledger: Ledger, key: str = "k1", amount: int = 1000) -> Order:
    async with services.db.transaction() as conn:
        order, _ = await ledger.create(
            conn,
            provider="wechatpay",
            merchant="1900000001",
            appid="wx1",
            user_id="u1",
            idempotency_key=key,
            product="sku-1",
            description="一杯咖啡",
            amount=amount,
            expires_at=services.clock.now() + timedelta(minutes=30),
        )
    return order


def _payment(services: Services, order: Order, **changes: object) -> Payment:
    fields: dict[str, object] = {
        "provider": "wechatpay",
        "merchant": "1900000001",
        "appid": "wx1",
        "out_trade_no": order.out_trade_no,
        "provider_trade_no": "4200000001",
        "amount": order.amount,
        "paid_at": services.clock.now(),
    }
    fields.update(changes)
    return Payment(**fields)  # type: ignore[arg-type]


async def _pay(services: Services, ledger: Ledger, payment: Payment) -> bool:
    async with services.db.transaction() as conn:
        return (await ledger.record_payment(conn, payment)).changed


async def _fulfilments(services: Services) -> int:
    count: int = await services.db.fetch_value(
        "SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB
    )
    return count


async def test_an_idempotency_key_gives_one_order_and_refuses_another_purchase(
    services: Services, ledger: Ledger
) -> None:
    first = await _order(services, ledger)
    again = await _order(services, ledger)
    assert again.id == first.id
    assert (first.state, first.amount, first.out_trade_no) == (OrderState.CREATED, 1000, first.id)
    with pytest.raises(ApiError) as conflict:
        await _order(services, ledger, amount=1)
    assert (conflict.value.code, conflict.value.status) == ("pay.idempotency_conflict", 409)
    assert await services.db.fetch_value("SELECT COUNT(*) FROM pay_orders") == 1


async def test_a_payment_is_recorded_once_and_enqueues_one_fulfilment(
    services: Services, ledger: Ledger
) -> None:
    order = await _order(services, ledger)
    assert await _pay(services, ledger, _payment(services, order)) is True
    assert await _pay(services, ledger, _payment(services, order)) is False  # a duplicate
    async with services.db.reader() as conn:
        paid = await ledger.order(conn, order.id)
    assert paid is not None
    assert (paid.state, paid.provider_trade_no, paid.paid) == (
        OrderState.PAID,
        "4200000001",
        True,
    )
    assert await _fulfilments(services) == 1


async def test_twenty_reports_at_once_move_the_order_once(
    services: Services, ledger: Ledger
) -> None:
    order = await _order(services, ledger)
    changed = await asyncio.gather(
        *(_pay(services, ledger, _payment(services, order)) for _ in range(20))
    )
    assert sorted(changed) == [False] * 19 + [True]
    assert await _fulfilments(services) == 1


@pytest.mark.parametrize(
    "change",
    [{"amount": 1}, {"appid": "wx-other"}, {"merchant": "1900000002"}, {"provider": "alipay"}],
    ids=["amount", "appid", "merchant", "provider"],
)
async def test_a_report_that_does_not_match_the_order_changes_nothing(
    services: Services, ledger: Ledger, change: dict[str, object]
) -> None:
    order = await _order(services, ledger)
    with pytest.raises(PaymentMismatch):
        await _pay(services, ledger, _payment(services, order, **change))
    async with services.db.reader() as conn:
        unchanged = await ledger.order(conn, order.id)
    assert unchanged is not None
    assert unchanged.state is OrderState.CREATED
    assert await _fulfilments(services) == 0


async def test_a_paid_order_reported_under_another_trade_number_is_a_mismatch(
    services: Services, ledger: Ledger
) -> None:
    order = await _order(services, ledger)
    await _pay(services, ledger, _payment(services, order))
    with pytest.raises(PaymentMismatch, match="already paid as 4200000001"):
        await _pay(services, ledger, _payment(services, order, provider_trade_no="4200000002"))


async def test_an_unknown_order_is_not_found(services: Services, ledger: Ledger) -> None:
    order = await _order(services, ledger)
    with pytest.raises(ApiError) as missing:
        await _pay(services, ledger, _payment(services, order, out_trade_no="nope"))
    assert missing.value.code == "pay.order_not_found"


async def test_closing_moves_only_an_unpaid_order_and_money_after_close_still_counts(
    services: Services, ledger: Ledger
) -> None:
    unpaid, paid = await _order(services, ledger, "a"), await _order(services, ledger, "b")
    await _pay(services, ledger, _payment(services, paid, provider_trade_no="4200000009"))
    async with services.db.transaction() as conn:
        closed = await ledger.close(conn, unpaid.id)
        kept = await ledger.close(conn, paid.id)
    assert (closed.changed, closed.order.state) == (True, OrderState.CLOSED)
    assert (kept.changed, kept.order.state) == (False, OrderState.PAID)
    assert await _pay(services, ledger, _payment(services, unpaid)) is True  # paid anyway
    kinds = await services.db.fetch_all("SELECT kind, order_id FROM pay_events")
    assert [tuple(row) for row in kinds] == [("paid_after_close", unpaid.id)]
    assert await _fulfilments(services) == 2


async def test_refunds_never_pass_what_was_paid_and_settle_once(
    services: Services, ledger: Ledger
) -> None:
    order = await _order(services, ledger)
    async with services.db.transaction() as conn:
        with pytest.raises(ApiError) as unpaid:
            await ledger.request_refund(conn, order.id, 100, None)
    assert unpaid.value.code == "pay.not_refundable"
    await _pay(services, ledger, _payment(services, order))

    async with services.db.transaction() as conn:
        refunding, first = await ledger.request_refund(conn, order.id, 300, "缺货")
    assert refunding.state is OrderState.REFUNDING
    async with services.db.transaction() as conn:
        with pytest.raises(ApiError) as too_much:
            await ledger.request_refund(conn, order.id, 800, None)
    assert (too_much.value.code, too_much.value.details) == (
        "pay.refund_too_large",
        {"refundable": 700},
    )
    async with services.db.transaction() as conn:
        _, second = await ledger.request_refund(conn, order.id, 700, None)

    async with services.db.transaction() as conn:
        after_first, _, changed = await ledger.settle_refund(
            conn, first.out_refund_no, succeeded=True, provider_refund_id="50300001"
        )
    assert (after_first.state, after_first.refunded, changed) == (OrderState.REFUNDING, 300, True)
    async with services.db.transaction() as conn:
        again = await ledger.settle_refund(conn, first.out_refund_no, succeeded=True)
    assert again[2] is False  # a duplicate notification
    async with services.db.transaction() as conn:
        failed, refund, _ = await ledger.settle_refund(conn, second.out_refund_no, succeeded=False)
    assert (failed.state, failed.refunded, refund.state.value) == (
        OrderState.PAID,
        300,
        "failed",
    )
    async with services.db.transaction() as conn:
        _, last = await ledger.request_refund(conn, order.id, 700, None)  # freed by the failure
        done, _, _ = await ledger.settle_refund(conn, last.out_refund_no, succeeded=True)
    assert (done.state, done.refunded) == (OrderState.REFUNDED, 1000)
    async with services.db.transaction() as conn:
        with pytest.raises(ApiError) as nothing_left:
            await ledger.request_refund(conn, order.id, 1, None)
    assert nothing_left.value.code == "pay.not_refundable"


async def test_two_refunds_of_one_order_settling_at_once_leave_no_refund_in_flight(
    services: Services, ledger: Ledger
) -> None:
    order = await _order(services, ledger)
    await _pay(services, ledger, _payment(services, order))
    refunds = []
    for amount in (100, 200):
        async with services.db.transaction() as conn:
            refunds.append((await ledger.request_refund(conn, order.id, amount, None))[1])

    async def settle(out_refund_no: str) -> None:
        async with services.db.transaction() as conn:
            await ledger.settle_refund(conn, out_refund_no, succeeded=True)

    async with services.db.transaction() as first:
        await ledger.settle_refund(first, refunds[0].out_refund_no, succeeded=True)
        second = asyncio.create_task(settle(refunds[1].out_refund_no))
        await asyncio.sleep(0.3)  # the second one runs into the first's uncommitted change
    await asyncio.wait_for(second, 10)
    async with services.db.reader() as conn:
        settled = await ledger.order(conn, order.id)
    assert settled is not None
    assert (settled.state, settled.refunded) == (OrderState.PAID, 300)


async def test_settling_an_unknown_refund_is_not_found(services: Services, ledger: Ledger) -> None:
    async with services.db.transaction() as conn:
        with pytest.raises(ApiError) as missing:
            await ledger.settle_refund(conn, "nope", succeeded=True)
    assert missing.value.code == "pay.refund_not_found"
