"""The Alipay side of the control API: a fake person pays a trade in my.tradePay, and its
trade_status_sync notification goes to the trade's notify_url (again, in a burst, or broken
on purpose) as a signed form, which the merchant acknowledges with the text "success".

A notification is made once per payment (its notify_id stays the same); each delivery stamps
its notify_time and signs it afresh, as Alipay's retries do.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from minibase.platforms import rsa
from minibase.platforms.alipay import crypto
from minibase.platforms.alipay.trade import NOTIFICATION_REPLY, yuan
from minibase.platforms.transport import tls_context
from minibase.sandbox import alipay
from minibase.sandbox.alipay_trade import china_time
from minibase.sandbox.deliveries import delivery_from_json
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.state import AlipayNotification, AlipayTrade, SandboxState

DELIVERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class AlipayDelivery:
    """How to deliver a notification: `times` rounds one after the other, `concurrent` copies
    at once in each round; `tamper`, `forge` and `unknown_app` break every copy in a way the
    merchant must refuse."""

    times: int = 1
    concurrent: int = 1
    tamper: bool = False  # total_amount is changed after signing
    forge: bool = False  # signed by a key that is not the platform's
    unknown_app: bool = False  # validly signed, for an app_id that is not the merchant's

    @classmethod
    def from_json(cls, options: Mapping[str, Any] | None) -> AlipayDelivery:
        """The options found in `options` (other keys are ignored); bad ones are a 400."""
        return delivery_from_json(cls, options)


class AlipayPayControl:
    """Control operations over one sandbox's Alipay trades."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    async def pay(
        self, appid: str, out_trade_no: str, *, notify: AlipayDelivery | None = None
    ) -> dict[str, Any]:
        """The person pays in my.tradePay: the trade reads TRADE_SUCCESS and its notification
        goes to its notify_url (if it named one)."""
        with self._state.lock:
            trade = self._trade(appid, out_trade_no)
            self._check_payable(trade)
            paid_at = self._state.clock.now()
            trade.status, trade.gmt_payment = "TRADE_SUCCESS", paid_at
            if trade.notify_url is not None:
                trade.notification = _notification(trade, trade.notify_url, paid_at)
            notification = trade.notification
        deliveries: list[dict[str, Any]] = []
        if notification is not None:
            deliveries = await deliver(self._state, notification, notify or AlipayDelivery())
        return {
            "trade_no": trade.trade_no,
            "notify_id": notification.id if notification else None,
            "deliveries": deliveries,
        }

    async def notify(
        self, appid: str, out_trade_no: str, delivery: AlipayDelivery | None = None
    ) -> dict[str, Any]:
        """Deliver the trade's latest notification again, as it was made: for duplicates and
        late deliveries. Changes no state."""
        with self._state.lock:
            notification = self._trade(appid, out_trade_no).notification
        if notification is None:
            raise SandboxError(
                "sandbox.nothing_to_notify",
                409,
                f"trade {out_trade_no!r} has no notification yet (not paid, or no notify_url)",
            )
        deliveries = await deliver(self._state, notification, delivery or AlipayDelivery())
        return {"notify_id": notification.id, "deliveries": deliveries}

    # lookups, under the lock

    def _trade(self, appid: str, out_trade_no: str) -> AlipayTrade:
        if self._state.app("alipay", appid) is None:
            raise SandboxError(
                "sandbox.unknown_app", 404, f"no alipay app {appid!r}: register it first"
            )
        trade = self._state.alipay_trades.trades.get((appid, out_trade_no))
        if trade is None:
            raise SandboxError(
                "sandbox.unknown_trade", 404, f"app {appid!r} has no trade {out_trade_no!r}"
            )
        return trade

    def _check_payable(self, trade: AlipayTrade) -> None:
        problem = None
        if trade.gmt_payment is not None:
            problem = "is paid already"
        elif trade.status == "TRADE_CLOSED":
            problem = "is closed"
        elif trade.time_expire is not None and self._state.clock.now() >= trade.time_expire:
            problem = f"expired at {china_time(trade.time_expire)}"
        if problem is not None:
            raise SandboxError(
                "sandbox.not_payable", 409, f"trade {trade.out_trade_no!r} {problem}"
            )


def _notification(trade: AlipayTrade, url: str, paid_at: datetime) -> AlipayNotification:
    """The TRADE_SUCCESS a paid trade is reported with."""
    amount = yuan(trade.total)
    params = {
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(17),
        "app_id": trade.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "gmt_create": china_time(trade.gmt_create),
        "gmt_payment": china_time(paid_at),
        "subject": trade.subject,
    }
    if trade.buyer_open_id is not None:
        params["buyer_open_id"] = trade.buyer_open_id
    elif trade.buyer_id is not None:
        params["buyer_id"] = trade.buyer_id
    if trade.passback_params is not None:
        params["passback_params"] = trade.passback_params
    return AlipayNotification(params["notify_id"], url, params)


# -- delivery -------------------------------------------------------------------------------


async def deliver(
    state: SandboxState, notification: AlipayNotification, delivery: AlipayDelivery
) -> list[dict[str, Any]]:
    """POST the notification as asked; each copy's HTTP status (None: unreachable), body, and
    whether the body was the "success" Alipay waits for."""
    outcomes: list[dict[str, Any]] = []
    if delivery.times == 0:
        return outcomes
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, verify=tls_context()) as http:
        for _ in range(delivery.times):
            copies = [
                _signed_copy(state, notification, delivery) for _ in range(delivery.concurrent)
            ]
            sent = await asyncio.gather(*(_post(http, notification.url, form) for form in copies))
            outcomes.extend(sent)
    return outcomes


def _signed_copy(
    state: SandboxState, notification: AlipayNotification, delivery: AlipayDelivery
) -> dict[str, str]:
    form = {**notification.params, "notify_time": china_time(state.clock.now())}
    if delivery.unknown_app:
        form["app_id"] = _other_app_id(form["app_id"])
    signer = _forger_key(state) if delivery.forge else alipay.platform_keys(state)[0]
    form["sign"] = crypto.sign_params(form, signer, notification=True)
    if delivery.tamper:
        form["total_amount"] = "0.01" if form["total_amount"] != "0.01" else "0.02"
    return form


def _other_app_id(app_id: str) -> str:
    other = app_id
    while other == app_id:
        other = f"2021{secrets.randbelow(10**12):012d}"
    return other


def _forger_key(state: SandboxState) -> RSAPrivateKey:
    with state.lock:
        book = state.alipay_trades
        if book.forger_key is None:
            book.forger_key = rsa.load_private_key(rsa.generate_keypair()[0], platform="alipay")
        return book.forger_key


async def _post(http: httpx.AsyncClient, url: str, form: Mapping[str, str]) -> dict[str, Any]:
    try:
        response = await http.post(url, data=dict(form))
    except httpx.HTTPError as error:
        return {"status": None, "body": f"{type(error).__name__}: {error}", "acknowledged": False}
    acknowledged = response.status_code == 200 and response.text.strip() == NOTIFICATION_REPLY
    return {"status": response.status_code, "body": response.text, "acknowledged": acknowledged}
