"""One face over WeChat Pay and Alipay for the payments feature: prepay, ask about a payment,
close, refund, ask about a refund, and read a notification. What each says comes back in the
same few types, so the feature holds one flow for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from minibase.pay.ledger import Payment
from minibase.pay.order import Order, Refund
from minibase.platforms.alipay import AsyncAlipayClient
from minibase.platforms.alipay.trade import Trade
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import AsyncWeChatPayClient, Transaction

CHINA = timezone(timedelta(hours=8))
WECHATPAY, ALIPAY = "wechatpay", "alipay"
PROVIDER_OF_PLATFORM = {"wechat": WECHATPAY, "alipay": ALIPAY}


@dataclass(frozen=True)
class PaymentStatus:
    """What the provider says of an order: paid (with the payment), waiting for the payer,
    closed there, or unknown there (never prepaid, or the prepay answer was lost)."""

    state: Literal["paid", "waiting", "closed", "unknown"]
    payment: Payment | None = None


@dataclass(frozen=True)
class RefundStatus:
    out_refund_no: str
    state: Literal["succeeded", "failed", "pending"]
    provider_refund_id: str | None = None


@dataclass(frozen=True)
class Notice:
    """A verified notification: about a payment (`status`) or a refund (`refund`)."""

    event: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, TRADE_SUCCESS ...
    out_trade_no: str
    status: PaymentStatus | None = None
    refund: RefundStatus | None = None


class Provider(Protocol):
    name: str
    merchant: str  # the mchid, or the Alipay app id

    async def prepay(self, order: Order, openid: str, notify_url: str) -> str: ...

    def payment_params(self, order: Order) -> dict[str, str]: ...

    async def query(self, order: Order) -> PaymentStatus: ...

    async def close(self, order: Order) -> None: ...

    async def refund(self, order: Order, refund: Refund, notify_url: str) -> RefundStatus: ...

    async def query_refund(self, order: Order, refund: Refund) -> RefundStatus: ...

    def read(self, headers: Mapping[str, str], body: bytes, now: float) -> Notice: ...


def _china(moment: datetime) -> datetime:
    return moment.astimezone(CHINA)


class WeChatPay:
    name = WECHATPAY

    def __init__(self, client: AsyncWeChatPayClient) -> None:
        self._client = client
        self.merchant = client.merchant.mchid

    async def prepay(self, order: Order, openid: str, notify_url: str) -> str:
        return await self._client.jsapi_prepay(
            appid=order.appid,
            description=order.description,
            out_trade_no=order.out_trade_no,
            total=order.amount,
            openid=openid,
            notify_url=notify_url,
            time_expire=_china(order.expires_at).isoformat(timespec="seconds"),
        )

    def payment_params(self, order: Order) -> dict[str, str]:
        """wx.requestPayment's timeStamp, nonceStr, package, signType and paySign."""
        assert order.prepay is not None
        return self._client.request_payment(order.appid, order.prepay)

    async def query(self, order: Order) -> PaymentStatus:
        try:
            found = await self._client.query_order(order.out_trade_no)
        except PlatformError as exc:
            if exc.errcode == "ORDER_NOT_EXIST":
                return PaymentStatus("unknown")
            raise
        return self._status(found)

    def _status(self, found: Transaction) -> PaymentStatus:
        if found.paid and found.transaction_id:
            paid_at = datetime.fromisoformat(found.success_time) if found.success_time else None
            return PaymentStatus(
                "paid",
                Payment(
                    provider=WECHATPAY,
                    merchant=found.mchid,
                    appid=found.appid,
                    out_trade_no=found.out_trade_no,
                    provider_trade_no=found.transaction_id,
                    amount=found.total,
                    paid_at=paid_at or datetime.now(CHINA),
                ),
            )
        if found.trade_state in ("CLOSED", "REVOKED", "PAYERROR"):
            return PaymentStatus("closed")
        return PaymentStatus("waiting")

    async def close(self, order: Order) -> None:
        try:
            await self._client.close_order(order.out_trade_no)
        except PlatformError as exc:
            if exc.errcode not in ("ORDER_NOT_EXIST", "ORDER_CLOSED"):
                raise

    async def refund(self, order: Order, refund: Refund, notify_url: str) -> RefundStatus:
        answer = await self._client.create_refund(
            out_trade_no=order.out_trade_no,
            out_refund_no=refund.out_refund_no,
            refund=refund.amount,
            total=order.amount,
            reason=refund.reason,
            notify_url=notify_url,
        )
        return _wechat_refund(answer.out_refund_no, answer.status, answer.refund_id)

    async def query_refund(self, order: Order, refund: Refund) -> RefundStatus:
        try:
            answer = await self._client.query_refund(refund.out_refund_no)
        except PlatformError as exc:
            if exc.errcode == "RESOURCE_NOT_EXISTS":  # the refund call never reached WeChat Pay
                return RefundStatus(refund.out_refund_no, "failed")
            raise
        return _wechat_refund(answer.out_refund_no, answer.status, answer.refund_id)

    def read(self, headers: Mapping[str, str], body: bytes, now: float) -> Notice:
        notification = self._client.read_notification(headers, body, now=now)
        if notification.original_type == "refund":
            found = notification.refund()
            return Notice(
                notification.event_type,
                found.out_trade_no,
                refund=_wechat_refund(found.out_refund_no, found.status, found.refund_id),
            )
        transaction = notification.transaction()
        return Notice(
            notification.event_type, transaction.out_trade_no, status=self._status(transaction)
        )


def _wechat_refund(out_refund_no: str, status: str, refund_id: str | None) -> RefundStatus:
    # ABNORMAL: the money could not reach the buyer; it stays in flight until an admin sends
    # it another way at WeChat Pay and the refund succeeds, or it is closed.
    state: Literal["succeeded", "failed", "pending"] = (
        "succeeded" if status == "SUCCESS" else "failed" if status == "CLOSED" else "pending"
    )
    return RefundStatus(out_refund_no, state, refund_id)


class Alipay:
    name = ALIPAY

    def __init__(self, client: AsyncAlipayClient, appid: str) -> None:
        self._client = client
        self.merchant = appid

    async def prepay(self, order: Order, openid: str, notify_url: str) -> str:
        return await self._client.create_trade(
            out_trade_no=order.out_trade_no,
            total=order.amount,
            subject=order.description,
            buyer_open_id=openid,
            notify_url=notify_url,
            time_expire=_china(order.expires_at).strftime("%Y-%m-%d %H:%M:%S"),
        )

    def payment_params(self, order: Order) -> dict[str, str]:
        """What my.tradePay takes: the trade number."""
        assert order.prepay is not None
        return {"tradeNO": order.prepay}

    async def query(self, order: Order) -> PaymentStatus:
        try:
            found = await self._client.query_trade(order.out_trade_no)
        except PlatformError as exc:
            if exc.errcode == "ACQ.TRADE_NOT_EXIST":
                return PaymentStatus("unknown")
            raise
        return self._status(found)

    def _status(self, found: Trade) -> PaymentStatus:
        if found.paid and found.trade_no:
            stamp = found.raw.get("gmt_payment") or found.raw.get("send_pay_date")
            paid_at = (
                datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
                if isinstance(stamp, str)
                else datetime.now(CHINA)
            )
            return PaymentStatus(
                "paid",
                Payment(
                    provider=ALIPAY,
                    merchant=self.merchant,
                    appid=str(found.raw.get("app_id") or self.merchant),
                    out_trade_no=found.out_trade_no,
                    provider_trade_no=found.trade_no,
                    amount=found.total,
                    paid_at=paid_at,
                ),
            )
        if found.trade_status == "TRADE_CLOSED":
            return PaymentStatus("closed")
        return PaymentStatus("waiting")

    async def close(self, order: Order) -> None:
        try:
            await self._client.close_trade(order.out_trade_no)
        except PlatformError as exc:
            if exc.errcode != "ACQ.TRADE_NOT_EXIST":
                raise

    async def refund(self, order: Order, refund: Refund, notify_url: str) -> RefundStatus:
        answer = await self._client.refund_trade(
            out_trade_no=order.out_trade_no,
            out_request_no=refund.out_refund_no,
            refund=refund.amount,
            reason=refund.reason,
        )
        if answer.done:
            return RefundStatus(refund.out_refund_no, "succeeded")
        return await self.query_refund(order, refund)

    async def query_refund(self, order: Order, refund: Refund) -> RefundStatus:
        answer = await self._client.query_refund(
            out_trade_no=order.out_trade_no, out_request_no=refund.out_refund_no
        )
        if answer.done:
            return RefundStatus(refund.out_refund_no, "succeeded")
        if answer.amount is None:  # Alipay knows no such refund: the call never reached it
            return RefundStatus(refund.out_refund_no, "failed")
        return RefundStatus(refund.out_refund_no, "pending")

    def read(self, headers: Mapping[str, str], body: bytes, now: float) -> Notice:
        from urllib.parse import parse_qsl

        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise PlatformError(ALIPAY, "bad_response", "the notification is not UTF-8") from None
        found = self._client.read_notification(params)
        return Notice(str(params.get("trade_status")), found.out_trade_no, self._status(found))
