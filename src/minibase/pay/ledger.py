"""The order book: every state change of an order or a refund, each one conditional UPDATE in
the caller's transaction. The caller (the feature) owns the transaction; nothing here commits.

A payment that lands enqueues the fulfilment job in the same transaction, keyed by the order:
a paid order is fulfilled exactly once however many notifications and queries report it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.jobs import JobQueue
from minibase.pay.order import (
    ORDER_COLUMNS,
    PAID_STATES,
    REFUND_COLUMNS,
    Order,
    OrderState,
    Refund,
    RefundState,
)
from minibase.store.database import Connection

FULFIL_JOB = "pay.fulfil"


class PaymentMismatch(Exception):
    """A provider reports a payment that does not match the stored order (amount, app,
    merchant): nothing changes, and the report is kept as a `rejected` event for admins."""


@dataclass(frozen=True)
class Payment:
    """What a provider says was paid (from a verified notification or a query)."""

    provider: str
    merchant: str
    appid: str
    out_trade_no: str
    provider_trade_no: str
    amount: int
    paid_at: datetime


@dataclass(frozen=True)
class Outcome:
    order: Order
    changed: bool  # False: it was already recorded (a duplicate, or a late report)


class Ledger:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        jobs: JobQueue,
        fulfil_attempts: Callable[[], int] = lambda: 10,
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._jobs = jobs
        self._fulfil_attempts = fulfil_attempts  # what @paid declared

    # -- reading ------------------------------------------------------------------------------

    async def order(self, conn: Connection, order_id: str, *, lock: bool = False) -> Order | None:
        return await self._one(conn, "id = ?", order_id, lock=lock)

    async def order_by_trade_no(
        self, conn: Connection, out_trade_no: str, *, lock: bool = False
    ) -> Order | None:
        return await self._one(conn, "out_trade_no = ?", out_trade_no, lock=lock)

    async def _one(self, conn: Connection, where: str, value: str, *, lock: bool) -> Order | None:
        suffix = " FOR UPDATE" if lock and conn.dialect.name == "postgres" else ""
        row = await conn.fetch_one(
            f"SELECT {ORDER_COLUMNS} FROM pay_orders WHERE {where}{suffix}", value
        )
        return None if row is None else Order.from_row(row)

    async def refunds(self, conn: Connection, order_id: str) -> list[Refund]:
        rows = await conn.fetch_all(
            f"SELECT {REFUND_COLUMNS} FROM pay_refunds WHERE order_id = ? ORDER BY id", order_id
        )
        return [Refund.from_row(row) for row in rows]

    # -- creating -----------------------------------------------------------------------------

    async def create(
        self,
        conn: Connection,
        *,
        provider: str,
        merchant: str,
        appid: str,
        user_id: str,
        idempotency_key: str,
        product: str,
        description: str,
        amount: int,
        expires_at: datetime,
    ) -> tuple[Order, bool]:
        """A new order, or the caller's earlier one under the same idempotency key (True when
        new). The same key for a different purchase is a conflict, never a second order."""
        order_id = self._ids.new()
        stamp = isoformat(self._clock.now())
        row = await conn.fetch_one(
            f"INSERT INTO pay_orders ({ORDER_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'created', NULL, NULL, ?, NULL, NULL, ?, ?)"
            f" ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING {ORDER_COLUMNS}",
            order_id,
            provider,
            merchant,
            appid,
            user_id,
            order_id,  # out_trade_no: the order's id (26 characters, WeChat's 6-32 rule)
            idempotency_key,
            product,
            description,
            amount,
            isoformat(expires_at),
            stamp,
            stamp,
        )
        if row is not None:
            return Order.from_row(row), True
        earlier = await conn.fetch_one(
            f"SELECT {ORDER_COLUMNS} FROM pay_orders WHERE user_id = ? AND idempotency_key = ?",
            user_id,
            idempotency_key,
        )
        if earlier is None:
            raise RuntimeError("the idempotency key conflicted but no order has it")
        order = Order.from_row(earlier)
        if (order.provider, order.appid, order.product, order.amount) != (
            provider,
            appid,
            product,
            amount,
        ):
            raise ApiError(
                "pay.idempotency_conflict",
                409,
                "this idempotency key was used for another purchase",
                {"order": order.id},
            )
        return order, False

    async def set_prepay(self, conn: Connection, order_id: str, prepay: str) -> None:
        stamp = isoformat(self._clock.now())
        await conn.execute(
            "UPDATE pay_orders SET prepay = ?, updated = ? WHERE id = ?", prepay, stamp, order_id
        )

    # -- paying -------------------------------------------------------------------------------

    def records(self, order: Order, payment: Payment) -> bool:
        """Is this payment the one the order already holds (a duplicate report)?"""
        return (
            order.state in PAID_STATES
            and order.provider_trade_no == payment.provider_trade_no
            and not _mismatches(order, payment)
        )

    async def record_payment(self, conn: Connection, payment: Payment) -> Outcome:
        """The order is paid: once. Later reports of the same payment change nothing; a report
        that does not match the order raises PaymentMismatch (and is kept as an event)."""
        order = await self.order_by_trade_no(conn, payment.out_trade_no, lock=True)
        if order is None:
            raise ApiError("pay.order_not_found", 404, f"no order {payment.out_trade_no!r}")
        problems = _mismatches(order, payment)
        if problems:
            raise PaymentMismatch("; ".join(problems))
        if order.state in PAID_STATES:
            if order.provider_trade_no != payment.provider_trade_no:
                raise PaymentMismatch(
                    f"already paid as {order.provider_trade_no}, reported as"
                    f" {payment.provider_trade_no}"
                )
            return Outcome(order, changed=False)
        stamp = isoformat(self._clock.now())
        row = await conn.fetch_one(
            "UPDATE pay_orders SET state = 'paid', provider_trade_no = ?, paid_at = ?,"
            " updated = ? WHERE id = ? AND state IN ('created', 'closed')"
            f" RETURNING {ORDER_COLUMNS}",
            payment.provider_trade_no,
            isoformat(payment.paid_at),
            stamp,
            order.id,
        )
        if row is None:  # moved meanwhile (only without a row lock): read it again
            current = await self.order(conn, order.id)
            assert current is not None
            return Outcome(current, changed=False)
        paid = Order.from_row(row)
        if order.state is OrderState.CLOSED:
            await self.event(
                conn, order.id, "paid_after_close", {"trade_no": payment.provider_trade_no}
            )
        await self._jobs.enqueue(
            FULFIL_JOB,
            {"order": order.id},
            key=f"{FULFIL_JOB}:{order.id}",
            max_attempts=self._fulfil_attempts(),
            conn=conn,
        )
        return Outcome(paid, changed=True)

    async def close(self, conn: Connection, order_id: str) -> Outcome:
        """created -> closed (expired unpaid, or closed at the provider). A paid order stays."""
        stamp = isoformat(self._clock.now())
        row = await conn.fetch_one(
            "UPDATE pay_orders SET state = 'closed', closed_at = ?, updated = ?"
            f" WHERE id = ? AND state = 'created' RETURNING {ORDER_COLUMNS}",
            stamp,
            stamp,
            order_id,
        )
        if row is not None:
            return Outcome(Order.from_row(row), changed=True)
        current = await self.order(conn, order_id)
        if current is None:
            raise ApiError("pay.order_not_found", 404, f"no order {order_id!r}")
        return Outcome(current, changed=False)

    # -- refunding ----------------------------------------------------------------------------

    async def request_refund(
        self, conn: Connection, order_id: str, amount: int, reason: str | None
    ) -> tuple[Order, Refund]:
        """A refund in flight. What succeeded plus what is in flight never passes the amount
        paid; the order is `refunding` until its refunds are settled."""
        order = await self.order(conn, order_id, lock=True)
        if order is None:
            raise ApiError("pay.order_not_found", 404, f"no order {order_id!r}")
        if order.state not in (OrderState.PAID, OrderState.REFUNDING):
            raise ApiError(
                "pay.not_refundable", 409, f"a {order.state.value} order cannot be refunded"
            )
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise ApiError("pay.invalid_refund", 400, "a refund is a whole number of fen, > 0")
        in_flight = await conn.fetch_value(
            "SELECT COALESCE(SUM(amount), 0) FROM pay_refunds WHERE order_id = ?"
            " AND state = 'requested'",
            order.id,
        )
        left = order.amount - order.refunded - int(in_flight)
        if amount > left:
            raise ApiError(
                "pay.refund_too_large",
                400,
                f"at most {left} fen can still be refunded",
                {"refundable": left},
            )
        stamp = isoformat(self._clock.now())
        refund_id = self._ids.new()
        row = await conn.fetch_one(
            f"INSERT INTO pay_refunds ({REFUND_COLUMNS}) VALUES"
            f" (?, ?, ?, ?, ?, 'requested', NULL, ?, ?, NULL) RETURNING {REFUND_COLUMNS}",
            refund_id,
            order.id,
            refund_id,  # out_refund_no
            amount,
            reason,
            stamp,
            stamp,
        )
        assert row is not None
        moved = await conn.fetch_one(
            f"UPDATE pay_orders SET state = 'refunding', updated = ? WHERE id = ?"
            f" RETURNING {ORDER_COLUMNS}",
            stamp,
            order.id,
        )
        assert moved is not None
        return Order.from_row(moved), Refund.from_row(row)

    async def settle_refund(
        self,
        conn: Connection,
        out_refund_no: str,
        *,
        succeeded: bool,
        provider_refund_id: str | None = None,
    ) -> tuple[Order, Refund, bool]:
        """The provider's word on a refund (notification or query); once. True when it
        changed something. The order becomes `refunded` when all of it is, else `paid`
        again once no refund is in flight."""
        order_id = await conn.fetch_value(
            "SELECT order_id FROM pay_refunds WHERE out_refund_no = ?", out_refund_no
        )
        if order_id is None:
            raise ApiError("pay.refund_not_found", 404, f"no refund {out_refund_no!r}")
        # The order's row lock first: two refunds of one order settling at once then see each
        # other's outcome (PostgreSQL reads a new snapshot per statement once the lock is had).
        await self.order(conn, order_id, lock=True)
        stamp = isoformat(self._clock.now())
        state = RefundState.SUCCEEDED if succeeded else RefundState.FAILED
        row = await conn.fetch_one(
            "UPDATE pay_refunds SET state = ?, provider_refund_id = COALESCE(?,"
            " provider_refund_id), finished_at = ?, updated = ?"
            f" WHERE out_refund_no = ? AND state = 'requested' RETURNING {REFUND_COLUMNS}",
            state.value,
            provider_refund_id,
            stamp,
            stamp,
            out_refund_no,
        )
        if row is None:  # settled before: this is a duplicate
            found = await conn.fetch_one(
                f"SELECT {REFUND_COLUMNS} FROM pay_refunds WHERE out_refund_no = ?", out_refund_no
            )
            assert found is not None
            refund = Refund.from_row(found)
            order = await self.order(conn, refund.order_id)
            assert order is not None
            return order, refund, False
        refund = Refund.from_row(row)
        added = refund.amount if succeeded else 0
        moved = await conn.fetch_one(
            "UPDATE pay_orders SET refunded = refunded + ?, updated = ?, state = CASE"
            " WHEN refunded + ? >= amount THEN 'refunded'"
            " WHEN EXISTS (SELECT 1 FROM pay_refunds WHERE order_id = pay_orders.id"
            " AND state = 'requested') THEN 'refunding' ELSE 'paid' END"
            f" WHERE id = ? RETURNING {ORDER_COLUMNS}",
            added,
            stamp,
            added,
            refund.order_id,
        )
        assert moved is not None
        return Order.from_row(moved), refund, True

    # -- what happened ------------------------------------------------------------------------

    async def event(
        self, conn: Connection, order_id: str | None, kind: str, detail: dict[str, Any]
    ) -> None:
        source = detail.get("source")
        await conn.execute(
            f"INSERT INTO pay_events (id, order_id, kind, detail, created, source) VALUES"
            f" (?, ?, ?, {conn.dialect.json_param()}, ?, ?)",
            self._ids.new(),
            order_id,
            kind,
            orjson.dumps(detail).decode(),
            isoformat(self._clock.now()),
            source if isinstance(source, str) else None,
        )


def _mismatches(order: Order, payment: Payment) -> list[str]:
    problems = []
    for what, stored, reported in (
        ("provider", order.provider, payment.provider),
        ("merchant", order.merchant, payment.merchant),
        ("appid", order.appid, payment.appid),
        ("amount", order.amount, payment.amount),
    ):
        if stored != reported:
            problems.append(f"{what}: the order has {stored!r}, the report {reported!r}")
    return problems
