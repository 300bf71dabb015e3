"""The WeChat Pay side of the control API: register merchants, have a fake person pay, give a
refund the bank's answer, and deliver the signed notifications (again, late, in a burst, or
broken on purpose) to the merchant's notify_url.

A notification is made once per event (its id and encrypted body stay the same); each
delivery signs it afresh, as WeChat Pay's retries do.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.transport import tls_context
from minibase.platforms.wechatpay import crypto
from minibase.sandbox import wechatpay
from minibase.sandbox.deliveries import delivery_from_json
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.state import (
    Merchant,
    Notification,
    PayOrder,
    PayRefund,
    SandboxState,
)

DELIVERY_TIMEOUT = 5.0
STALE_BY = 600  # seconds: older than any receiver's replay window
REFUND_RESULTS = ("SUCCESS", "CLOSED", "ABNORMAL")
_REFUND_EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
}


def _invalid(message: str) -> SandboxError:
    return SandboxError("sandbox.invalid_request", 400, message)


@dataclass(frozen=True)
class Delivery:
    """How to deliver a notification: `times` rounds one after the other, `concurrent` copies
    at once in each round; `tamper`, `forge`, `stale` and `unknown_serial` break every copy
    in a way a receiver must refuse."""

    times: int = 1
    concurrent: int = 1
    tamper: bool = False  # the body is changed after signing
    forge: bool = False  # signed by another key, under the platform key's serial
    stale: bool = False  # Wechatpay-Timestamp ten minutes old
    unknown_serial: bool = False  # a Wechatpay-Serial the merchant was never given

    @classmethod
    def from_json(cls, options: Mapping[str, Any] | None) -> Delivery:
        """The options found in `options` (other keys are ignored); bad ones are a 400."""
        return delivery_from_json(cls, options)


class WeChatPayControl:
    """Control operations over one sandbox's WeChat Pay state."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def register_merchant(
        self, mchid: str, merchant_public_key: str, merchant_serial: str, api_v3_key: str
    ) -> dict[str, str]:
        """Register (or replace) a merchant; the platform key its answers will be signed with."""
        if not mchid or not merchant_serial:
            raise _invalid("mchid and merchant_serial must not be empty")
        try:
            rsa.load_public_key(merchant_public_key, platform=crypto.PLATFORM)
        except PlatformError as exc:
            raise _invalid("merchant_public_key is not an RSA public key") from exc
        if len(api_v3_key.encode()) != 32:
            raise _invalid("api_v3_key must be 32 characters")
        key = wechatpay.platform_key(self._state)
        merchant = Merchant(mchid, merchant_public_key, merchant_serial, api_v3_key)
        with self._state.lock:
            self._state.wechatpay.merchants[mchid] = merchant
        return {
            "mchid": mchid,
            "platform_serial": key.serial,
            "platform_public_key": key.public_key,
            "platform_certificate": key.certificate,
        }

    async def pay(
        self,
        mchid: str,
        out_trade_no: str,
        *,
        payment: Mapping[str, str] | None = None,
        notify: Delivery | None = None,
    ) -> dict[str, Any]:
        """The person pays: `payment` (what the mini program handed wx.requestPayment, with
        its appid) is checked when given; TRANSACTION.SUCCESS goes to the order's notify_url."""
        with self._state.lock:
            merchant = self._merchant(mchid)
            order = self._order(mchid, out_trade_no)
            if payment is not None:
                _check_payment(order, merchant, payment)
            self._check_payable(order)
            order.status = "SUCCESS"
            order.success_time = self._state.clock.now()
            order.transaction_id = _transaction_id(order.success_time)
            plaintext = wechatpay.transaction_json(self._state.wechatpay, order)
            notification = self._notification(
                merchant, order.notify_url, "TRANSACTION.SUCCESS", "支付成功", plaintext
            )
            order.notification = notification
        deliveries = await deliver(self._state, notification, notify or Delivery())
        return {
            "transaction_id": order.transaction_id,
            "notification_id": notification.id,
            "deliveries": deliveries,
        }

    async def notify(
        self,
        mchid: str,
        out_trade_no: str,
        out_refund_no: str | None = None,
        delivery: Delivery | None = None,
    ) -> dict[str, Any]:
        """Deliver the latest notification of the order (or of its refund) again, as it was
        made: for duplicates, late and out-of-order deliveries. Changes no state."""
        with self._state.lock:
            self._merchant(mchid)
            order = self._order(mchid, out_trade_no)
            notification = order.notification
            if out_refund_no is not None:
                refund = self._refund(mchid, out_refund_no)
                if refund.out_trade_no != order.out_trade_no:
                    raise SandboxError(
                        "sandbox.unknown_refund",
                        404,
                        f"refund {out_refund_no!r} is not of order {out_trade_no!r}",
                    )
                notification = refund.notification
        if notification is None:
            what = f"refund {out_refund_no!r}" if out_refund_no else f"order {out_trade_no!r}"
            raise SandboxError(
                "sandbox.nothing_to_notify",
                409,
                f"{what} has no notification yet (not paid, no refund result, or no notify_url)",
            )
        deliveries = await deliver(self._state, notification, delivery or Delivery())
        return {"notification_id": notification.id, "deliveries": deliveries}

    async def refund_result(
        self, mchid: str, out_refund_no: str, status: str, notify: Delivery | None = None
    ) -> dict[str, Any]:
        """The bank's answer to a refund; REFUND.<status> goes to its notify_url, if any."""
        if status not in REFUND_RESULTS:
            raise _invalid(f"status must be one of {', '.join(REFUND_RESULTS)}")
        with self._state.lock:
            merchant = self._merchant(mchid)
            refund = self._refund(mchid, out_refund_no)
            if refund.status not in ("PROCESSING", "ABNORMAL") or refund.status == status:
                raise SandboxError(
                    "sandbox.refund_settled",
                    409,
                    f"refund {out_refund_no!r} is {refund.status}: it cannot become {status}",
                )
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = self._state.clock.now()
            if refund.notify_url is not None:
                event_type, summary = _REFUND_EVENTS[status]
                refund.notification = self._notification(
                    merchant, refund.notify_url, event_type, summary, _refund_notice(refund)
                )
            notification = refund.notification if refund.notify_url is not None else None
        deliveries = []
        if notification is not None:
            deliveries = await deliver(self._state, notification, notify or Delivery())
        return {
            "out_refund_no": out_refund_no,
            "status": status,
            "notification_id": notification.id if notification else None,
            "deliveries": deliveries,
        }

    # lookups (under the lock) and the notification itself

    def _merchant(self, mchid: str) -> Merchant:
        merchant = self._state.wechatpay.merchants.get(mchid)
        if merchant is None:
            raise SandboxError(
                "sandbox.unknown_merchant", 404, f"no merchant {mchid!r}: register it first"
            )
        return merchant

    def _order(self, mchid: str, out_trade_no: str) -> PayOrder:
        order = self._state.wechatpay.orders.get((mchid, out_trade_no))
        if order is None:
            raise SandboxError(
                "sandbox.unknown_order", 404, f"merchant {mchid!r} has no order {out_trade_no!r}"
            )
        return order

    def _refund(self, mchid: str, out_refund_no: str) -> PayRefund:
        refund = self._state.wechatpay.refunds.get((mchid, out_refund_no))
        if refund is None:
            raise SandboxError(
                "sandbox.unknown_refund", 404, f"merchant {mchid!r} has no refund {out_refund_no!r}"
            )
        return refund

    def _check_payable(self, order: PayOrder) -> None:
        problem = None
        if order.status == "CLOSED":
            problem = "is closed"
        elif order.status != "NOTPAY":
            problem = "is paid already"
        elif order.time_expire is not None and self._state.clock.now() >= order.time_expire:
            problem = f"expired at {wechatpay.rfc3339(order.time_expire)}"
        if problem is not None:
            raise SandboxError(
                "sandbox.not_payable", 409, f"order {order.out_trade_no!r} {problem}"
            )

    def _notification(
        self,
        merchant: Merchant,
        url: str,
        event_type: str,
        summary: str,
        plaintext: dict[str, Any],
    ) -> Notification:
        original_type = event_type.split(".")[0].lower()  # "transaction" or "refund"
        resource = crypto.encrypt_resource(
            orjson.dumps(plaintext),
            merchant.api_v3_key,
            associated_data=original_type,
            original_type=original_type,
        )
        event_id = f"EV-{secrets.token_hex(12).upper()}"
        body = {
            "id": event_id,
            "create_time": wechatpay.rfc3339(self._state.clock.now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": resource,
        }
        return Notification(event_id, url, orjson.dumps(body).decode())


def _check_payment(order: PayOrder, merchant: Merchant, payment: Mapping[str, str]) -> None:
    appid = payment.get("appid", order.appid)
    if appid != order.appid:
        raise SandboxError(
            "sandbox.invalid_payment", 400, f"the order is for app {order.appid!r}, not {appid!r}"
        )
    if payment.get("package") != f"prepay_id={order.prepay_id}":
        raise SandboxError(
            "sandbox.invalid_payment", 400, f"package is not prepay_id={order.prepay_id}"
        )
    if not crypto.verify_payment_params(order.appid, payment, merchant.public_key):
        raise SandboxError(
            "sandbox.invalid_payment",
            400,
            "paySign does not verify with the merchant's key over appid, timeStamp, "
            "nonceStr and package",
        )


def _transaction_id(paid_at: datetime) -> str:
    """28 digits with the China date inside, like 4200001234202601011234567890."""
    day = paid_at.astimezone(wechatpay.CHINA).strftime("%Y%m%d")
    return f"4200{secrets.randbelow(10**6):06d}{day}{secrets.randbelow(10**10):010d}"


def _refund_notice(refund: PayRefund) -> dict[str, Any]:
    """What a REFUND.* notification's resource decrypts to."""
    notice: dict[str, Any] = {
        "mchid": refund.mchid,
        "out_trade_no": refund.out_trade_no,
        "transaction_id": refund.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "payer_total": refund.total,
            "payer_refund": refund.refund,
        },
    }
    if refund.success_time is not None:
        notice["success_time"] = wechatpay.rfc3339(refund.success_time)
    return notice


# -- delivery -------------------------------------------------------------------------------


async def deliver(
    state: SandboxState, notification: Notification, delivery: Delivery
) -> list[dict[str, Any]]:
    """POST the notification as asked; each copy's HTTP status (None: unreachable) and body."""
    outcomes: list[dict[str, Any]] = []
    if delivery.times == 0:
        return outcomes
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, verify=tls_context()) as http:
        for _ in range(delivery.times):
            copies = [
                _signed_copy(state, notification.body, delivery) for _ in range(delivery.concurrent)
            ]
            sent = await asyncio.gather(
                *(_post(http, notification.url, body, headers) for headers, body in copies)
            )
            outcomes.extend(sent)
    return outcomes


def _signed_copy(state: SandboxState, body: str, delivery: Delivery) -> tuple[dict[str, str], str]:
    key = wechatpay.platform_key(state)
    signer = _forger_key(state) if delivery.forge else key.private_key
    serial = key.serial
    while delivery.unknown_serial and serial == key.serial:
        serial = wechatpay.public_key_id()
    timestamp = int(state.now()) - (STALE_BY if delivery.stale else 0)
    headers = crypto.sign_response(body, signer, serial, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    return headers, _tampered(body) if delivery.tamper else body


def _forger_key(state: SandboxState) -> RSAPrivateKey:
    with state.lock:
        if state.wechatpay.forger_key is None:
            private_pem = rsa.generate_keypair()[0]
            key = rsa.load_private_key(private_pem, platform=crypto.PLATFORM)
            state.wechatpay.forger_key = key
        return state.wechatpay.forger_key


def _tampered(body: str) -> str:
    changed = orjson.loads(body)
    changed["summary"] += " [tampered]"
    return orjson.dumps(changed).decode()


async def _post(
    http: httpx.AsyncClient, url: str, body: str, headers: Mapping[str, str]
) -> dict[str, Any]:
    try:
        response = await http.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as error:
        return {"status": None, "body": f"{type(error).__name__}: {error}"}
    return {"status": response.status_code, "body": response.text}
