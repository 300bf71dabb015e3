"""The payments feature: orders for signed-in users, the providers' notifications, the
reconciliation of what no notification told, and refunds.

Provider calls never run inside a database transaction; every state change is one ledger
transaction. A notification is acknowledged only once its change is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from minibase.auth.caller import Caller
from minibase.auth.identities import find_identity
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.pay import history
from minibase.pay.ledger import FULFIL_JOB, Ledger, PaymentMismatch
from minibase.pay.merchants import MerchantRegistry
from minibase.pay.order import REFUND_COLUMNS, Order, OrderState, Refund
from minibase.pay.providers import (
    ALIPAY,
    PROVIDER_OF_PLATFORM,
    WECHATPAY,
    Alipay,
    Notice,
    PaymentStatus,
    Provider,
    RefundStatus,
    WeChatPay,
)
from minibase.pay.rate_cap import RateCap
from minibase.pay.requests import OrderRequest, invalid_order
from minibase.platforms.errors import PlatformError
from minibase.store.database import Connection

if TYPE_CHECKING:
    from minibase.services import Services

log = logging.getLogger("minibase.pay")
RECONCILE_JOB = "pay.reconcile"
RECONCILE_BATCH = 100
REFUSALS_KEPT_PER_MINUTE = 60
_TRANSIENT = frozenset({"unavailable", "rate_limited"})
# A refund call that failed like this may still have reached the provider: it stays in flight.
_UNCERTAIN = _TRANSIENT | {"bad_response", "invalid_signature"}
# Waiting longer than pay_reconcile_after, and not asked about for as long (the index on
# (state, created) finds them).
_ORDER_DUE = "state = 'created' AND created <= ? AND (checked_at IS NULL OR checked_at <= ?)"
_REFUND_DUE = "state = 'requested' AND created <= ? AND (checked_at IS NULL OR checked_at <= ?)"


@dataclass(frozen=True)
class Placed:
    order: Order
    created: bool
    payment: dict[str, str] | None  # what the mini program hands the payment call, if payable

    def to_json(self) -> dict[str, Any]:
        return {"order": self.order.to_json(), "payment": self.payment}


@dataclass(frozen=True)
class Acknowledgement:
    """How to answer a notification: `ok` only once what it said is committed."""

    ok: bool
    status: int
    message: str


class Payments:
    def __init__(self, services: Services, merchants: MerchantRegistry) -> None:
        self._services = services
        self.merchants = merchants
        # reports that fail verification come from anyone: admins see them, but a flood of
        # forgeries writes at most this many rows a minute per process (the log counts all)
        self._refusals = RateCap(REFUSALS_KEPT_PER_MINUTE, 60.0)
        self.ledger = Ledger(
            services.clock,
            services.ids,
            services.jobs,
            self._registry_attempts,
        )

    def _registry_attempts(self) -> int:
        functions = self._services.functions
        return 10 if functions is None else int(functions.registry.max_attempts(FULFIL_JOB))

    # -- providers ------------------------------------------------------------------------

    async def provider(self, name: str, merchant: str) -> Provider:
        services = self._services
        if name == WECHATPAY:
            found = await self.merchants.get(merchant)
            return WeChatPay(services.platforms.wechatpay(found.keys, found.updated))
        if name == ALIPAY:
            app = await services.apps.get("alipay", merchant)
            return Alipay(services.platforms.client(app), app.appid)
        raise ApiError("pay.unknown_provider", 404, f"no payment provider {name!r}")

    def notify_url(self, provider: Provider) -> str:
        settings = self._services.settings
        base = settings.public_url
        if not base:
            if not settings.dev:
                raise ApiError(
                    "pay.not_configured",
                    503,
                    "set public_url: the payment providers need it to reach this server",
                )
            base = settings.local_url
        return f"{base.rstrip('/')}/api/pay/{provider.name}/notify/{provider.merchant}"

    async def _provider_for_app(self, caller: Caller, chosen: str | None) -> Provider:
        name = PROVIDER_OF_PLATFORM.get(caller.platform or "")
        if name is None or caller.appid is None:
            raise ApiError(
                "pay.unsupported_platform",
                400,
                "sign in through a WeChat or Alipay mini program to pay",
            )
        if name == ALIPAY:
            return await self.provider(ALIPAY, caller.appid)
        merchants = await self.merchants.for_app(caller.appid)
        if chosen is not None:
            merchants = [merchant for merchant in merchants if merchant.mchid == chosen]
        if not merchants:
            which = f"merchant {chosen}" if chosen else "WeChat Pay merchant"
            raise ApiError(
                "pay.no_merchant", 409, f"no {which} takes payments for app {caller.appid}"
            )
        if len(merchants) > 1:
            raise invalid_order(
                f"app {caller.appid} pays through several merchants: choose one with merchant"
            )
        return await self.provider(WECHATPAY, merchants[0].mchid)

    # -- orders ---------------------------------------------------------------------------

    async def place(
        self, caller: Caller, body: Mapping[str, Any], request_id: str | None = None
    ) -> Placed:
        """Create the caller's order (or find the one its idempotency key made), prepay it
        at the provider, and give what the mini program's payment call takes."""
        if not caller.is_user or caller.id is None:
            raise ApiError("auth.required", 401, "paying needs a user access token")
        wanted = OrderRequest.parse(body)
        provider = await self._provider_for_app(caller, wanted.merchant)
        amount, description = await self._price(caller, wanted, request_id)
        services = self._services
        async with services.db.reader() as reader:
            identity = await find_identity(
                reader, caller.id, caller.platform or "", caller.appid or ""
            )
        if identity is None:
            raise ApiError(
                "pay.no_openid", 409, f"this user has not signed in through {caller.appid}"
            )
        notify_url = self.notify_url(provider)
        expires_at = services.clock.now() + timedelta(seconds=services.settings.pay_order_ttl)
        async with services.db.transaction() as conn:
            order, created = await self.ledger.create(
                conn,
                provider=provider.name,
                merchant=provider.merchant,
                appid=caller.appid or "",
                user_id=caller.id,
                idempotency_key=wanted.idempotency_key,
                product=wanted.product,
                description=description,
                amount=amount,
                expires_at=expires_at,
            )
            if created:
                await self.ledger.event(conn, order.id, "created", {"amount": amount})
        if order.state is not OrderState.CREATED:
            return Placed(order, created, None)
        if services.clock.now() >= order.expires_at:
            raise ApiError(
                "pay.order_expired",
                409,
                "this order expired unpaid: use a new idempotency key for a new order",
                {"order": order.id},
            )
        if order.prepay is None:
            try:
                prepay = await provider.prepay(order, identity.openid, notify_url)
            except PlatformError as exc:
                if exc.errcode in ("ORDERPAID", "ACQ.TRADE_HAS_SUCCESS"):
                    return Placed(await self.sync(order.id, "prepay"), created, None)
                raise platform_failure(exc, client_input=False) from None
            async with services.db.transaction() as conn:
                await self.ledger.set_prepay(conn, order.id, prepay)
            order = replace(order, prepay=prepay)
        return Placed(order, created, provider.payment_params(order))

    async def _price(
        self, caller: Caller, wanted: OrderRequest, request_id: str | None
    ) -> tuple[int, str]:
        functions = self._services.functions
        priced = None if functions is None else await functions.price(caller, wanted, request_id)
        if priced is None:
            if wanted.amount is None:
                raise invalid_order(
                    "amount (fen) is required, or price products with a @price hook"
                )
            return wanted.amount, wanted.description or wanted.product
        amount, description = priced
        if wanted.amount is not None and wanted.amount != amount:
            raise ApiError(
                "pay.price_changed",
                409,
                f"{wanted.product} costs {amount} fen, not {wanted.amount}",
                {"amount": amount},
            )
        return amount, description or wanted.description or wanted.product

    async def order(self, order_id: str, caller: Caller) -> tuple[Order, list[Refund]]:
        """An order and its refunds: the buyer's own, or any for an admin."""
        async with self._services.db.reader() as reader:
            order = await self.ledger.order(reader, order_id)
            if order is None or not (caller.is_admin or order.user_id == caller.id):
                raise ApiError("pay.order_not_found", 404, f"no order {order_id!r}")
            return order, await self.ledger.refunds(reader, order.id)

    async def orders(self, **filters: Any) -> list[Order]:
        async with self._services.db.reader() as reader:
            return await history.orders(reader, **filters)

    async def events(self, **filters: Any) -> list[dict[str, Any]]:
        async with self._services.db.reader() as reader:
            return await history.events(reader, **filters)

    # -- what the providers say -----------------------------------------------------------

    async def notification(
        self, provider_name: str, merchant: str, headers: Mapping[str, str], body: bytes
    ) -> Acknowledgement:
        """Verify a notification and commit what it says; the answer tells the provider
        whether to deliver it again. Database failures propagate: never acknowledged."""
        try:
            provider = await self.provider(provider_name, merchant)
        except ApiError as exc:
            return Acknowledgement(False, 404, exc.message)
        try:
            notice = provider.read(headers, body, self._services.clock.timestamp())
        except PlatformError as exc:
            log.warning(
                "refused a %s notification for %s: %s (%s)",
                provider_name,
                merchant,
                exc.kind,
                exc.message,
            )
            if self._refusals.allow():
                detail = {
                    "provider": provider_name,
                    "merchant": merchant,
                    "reason": exc.kind,
                    "message": exc.message,
                }
                async with self._services.db.transaction() as conn:
                    await self.ledger.event(conn, None, "rejected", detail)
            return Acknowledgement(False, 401, f"refused: {exc.kind}")
        if await self._recorded_already(notice):
            return Acknowledgement(True, 200, "ok")
        try:
            async with self._services.db.transaction() as conn:
                if notice.status is not None:
                    await self._apply(conn, notice.out_trade_no, notice.status, "notification")
                if notice.refund is not None:
                    await self._settle(conn, notice.refund, "notification")
        except PaymentMismatch as exc:
            await self._rejected(notice.out_trade_no, str(exc), notice.event)
            return Acknowledgement(False, 400, "refused: it does not match the order")
        except ApiError as exc:
            if exc.code not in ("pay.order_not_found", "pay.refund_not_found"):
                raise
            await self._rejected(notice.out_trade_no, exc.message, notice.event)
            return Acknowledgement(False, 400, f"refused: {exc.message}")
        return Acknowledgement(True, 200, "ok")

    async def _recorded_already(self, notice: Notice) -> bool:
        """A payment reported again, exactly as recorded: acknowledged from a read, with no
        write transaction (providers repeat notifications until they see the answer)."""
        if notice.refund is not None or notice.status is None or notice.status.payment is None:
            return False
        async with self._services.db.reader() as reader:
            order = await self.ledger.order_by_trade_no(reader, notice.out_trade_no)
        return order is not None and self.ledger.records(order, notice.status.payment)

    async def _rejected(self, out_trade_no: str, reason: str, event: str) -> None:
        log.warning("rejected a payment report for %s: %s", out_trade_no, reason)
        async with self._services.db.transaction() as conn:
            order = await self.ledger.order_by_trade_no(conn, out_trade_no)
            detail = {"out_trade_no": out_trade_no, "reason": reason, "event": event}
            await self.ledger.event(conn, order.id if order else None, "rejected", detail)

    async def _apply(
        self, conn: Connection, out_trade_no: str, status: PaymentStatus, source: str
    ) -> Order:
        if status.state == "paid":
            assert status.payment is not None
            outcome = await self.ledger.record_payment(conn, status.payment)
            if outcome.changed:
                detail = {"source": source, "trade_no": status.payment.provider_trade_no}
                await self.ledger.event(conn, outcome.order.id, "paid", detail)
            return outcome.order
        order = await self.ledger.order_by_trade_no(conn, out_trade_no, lock=True)
        if order is None:
            raise ApiError("pay.order_not_found", 404, f"no order {out_trade_no!r}")
        if status.state == "closed":
            closed = await self.ledger.close(conn, order.id)
            if closed.changed:
                await self.ledger.event(conn, order.id, "closed", {"source": source})
            return closed.order
        return order

    async def _settle(self, conn: Connection, status: RefundStatus, source: str) -> None:
        if status.state == "pending":
            return
        order, refund, changed = await self.ledger.settle_refund(
            conn,
            status.out_refund_no,
            succeeded=status.state == "succeeded",
            provider_refund_id=status.provider_refund_id,
        )
        if changed:
            detail = {"refund": refund.id, "amount": refund.amount, "source": source}
            await self.ledger.event(conn, order.id, f"refund_{status.state}", detail)

    # -- asking the providers ---------------------------------------------------------------

    async def sync(self, order_id: str, source: str = "query") -> Order:
        """Ask the provider about an unpaid order and record what it says; an order past its
        expiry is closed there first, so it can no longer be paid."""
        async with self._services.db.reader() as reader:
            order = await self.ledger.order(reader, order_id)
        if order is None:
            raise ApiError("pay.order_not_found", 404, f"no order {order_id!r}")
        if order.state is not OrderState.CREATED:
            return order
        provider = await self.provider(order.provider, order.merchant)
        status = await provider.query(order)
        if (
            status.state in ("waiting", "unknown")
            and self._services.clock.now() >= order.expires_at
        ):
            try:
                await provider.close(order)
                status = PaymentStatus("closed")
            except PlatformError as exc:  # paid meanwhile (ORDERPAID): ask again
                if exc.kind in _TRANSIENT:
                    raise
                status = await provider.query(order)
        async with self._services.db.transaction() as conn:
            await self._checked("pay_orders", order.id, conn)
            return await self._apply(conn, order.out_trade_no, status, source)

    async def reconcile(self, limit: int = RECONCILE_BATCH) -> dict[str, int]:
        """Orders and refunds that no notification has settled after `pay_reconcile_after`:
        ask the providers. One failure does not stop the others."""
        services = self._services
        cutoff = self._cutoff()
        async with services.db.reader() as reader:
            orders = await reader.fetch_all(
                f"SELECT id FROM pay_orders WHERE {_ORDER_DUE} ORDER BY created LIMIT ?",
                cutoff,
                cutoff,
                limit,
            )
            refunds = await reader.fetch_all(
                f"SELECT {REFUND_COLUMNS} FROM pay_refunds WHERE {_REFUND_DUE}"
                " ORDER BY created LIMIT ?",
                cutoff,
                cutoff,
                limit,
            )
        counts = {"orders": 0, "refunds": 0, "failed": 0}
        asks: list[tuple[str, str, Callable[[], Awaitable[object]]]] = [
            ("orders", row[0], partial(self.sync, row[0], "reconcile")) for row in orders
        ]
        asks += [
            ("refunds", row[0], partial(self.sync_refund, Refund.from_row(row))) for row in refunds
        ]
        for kind, row_id, ask in asks:
            try:
                await ask()
                counts[kind] += 1
            except PlatformError as exc:  # asked again on the next run
                counts["failed"] += 1
                log.warning("reconciling %s %s failed: %s", kind, row_id, exc)
            except (ApiError, PaymentMismatch) as exc:  # asked again after a period
                counts["failed"] += 1
                log.warning("reconciling %s %s failed: %s", kind, row_id, exc)
                await self._checked(f"pay_{kind}", row_id)
        return counts

    def _cutoff(self) -> str:
        """Waiting since before this is waiting long enough to be asked about."""
        settings = self._services.settings
        return isoformat(
            self._services.clock.now() - timedelta(seconds=settings.pay_reconcile_after)
        )

    async def reconcile_due(self) -> bool:
        """Is anything waiting long enough to be asked about? (cheap: an index lookup)"""
        services = self._services
        cutoff = self._cutoff()
        async with services.db.reader() as reader:
            found = await reader.fetch_value(
                f"SELECT 1 WHERE EXISTS (SELECT 1 FROM pay_orders WHERE {_ORDER_DUE})"
                f" OR EXISTS (SELECT 1 FROM pay_refunds WHERE {_REFUND_DUE})",
                cutoff,
                cutoff,
                cutoff,
                cutoff,
            )
        return found is not None

    # -- refunds --------------------------------------------------------------------------

    async def refund(
        self, order_id: str, amount: int, reason: str | None, by: Caller
    ) -> tuple[Order, Refund]:
        """Ask for a refund (full or partial); it is settled now when the provider can tell,
        else by its notification or reconciliation."""
        if reason is not None and (not isinstance(reason, str) or len(reason) > 80):
            raise ApiError("pay.invalid_refund", 400, "reason is at most 80 characters")
        async with self._services.db.transaction() as conn:
            order, refund = await self.ledger.request_refund(conn, order_id, amount, reason)
            who = {"by": "admin" if by.is_admin else by.kind, "id": by.id}
            detail = {"refund": refund.id, "amount": amount, **who}
            await self.ledger.event(conn, order.id, "refund_requested", detail)
        provider = await self.provider(order.provider, order.merchant)
        try:
            status = await provider.refund(order, refund, self.notify_url(provider))
        except PlatformError as exc:
            if exc.kind in _UNCERTAIN:  # it may have reached the provider: ask later
                log.warning("refund %s is in flight: %s", refund.id, exc.message)
                return await self._current(order.id, refund.id)
            async with self._services.db.transaction() as conn:
                await self._settle(conn, RefundStatus(refund.out_refund_no, "failed"), "refused")
            raise platform_failure(exc, client_input=False) from None
        async with self._services.db.transaction() as conn:
            await self._settle(conn, status, "refund call")
        return await self._current(order.id, refund.id)

    async def sync_refund(self, refund: Refund) -> None:
        async with self._services.db.reader() as reader:
            order = await self.ledger.order(reader, refund.order_id)
        assert order is not None
        provider = await self.provider(order.provider, order.merchant)
        status = await provider.query_refund(order, refund)
        async with self._services.db.transaction() as conn:
            await self._checked("pay_refunds", refund.id, conn)
            await self._settle(conn, status, "reconcile")

    async def _checked(self, table: str, row_id: str, conn: Connection | None = None) -> None:
        """Reconciliation asked about this order or refund now (next: after a period)."""
        sql = f"UPDATE {table} SET checked_at = ? WHERE id = ?"
        stamp = isoformat(self._services.clock.now())
        if conn is not None:
            await conn.execute(sql, stamp, row_id)
            return
        async with self._services.db.transaction() as own:
            await own.execute(sql, stamp, row_id)

    async def _current(self, order_id: str, refund_id: str) -> tuple[Order, Refund]:
        async with self._services.db.reader() as reader:
            order = await self.ledger.order(reader, order_id)
            refunds = await self.ledger.refunds(reader, order_id)
        assert order is not None
        return order, next(refund for refund in refunds if refund.id == refund_id)
