"""Alipay payments for mini programs, sans-IO: alipay.trade.create (its trade_no goes to
my.tradePay), .query, .close, .refund, .fastpay.refund.query, and the asynchronous
notification (form parameters, RSA2 over the sorted ones less sign and sign_type; the merchant
answers the text "success" once it has recorded it).

Amounts travel as yuan strings with two decimals ("12.00"); here they are whole fen, as
everywhere in minibase. (opendocs.alipay.com: 小程序支付, 统一收单交易创建/查询/关闭/退款,
统一收单交易退款查询, 异步通知说明.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minibase.platforms.alipay.calls import gateway_call
from minibase.platforms.alipay.crypto import PrivateKey, PublicKey, verify_params
from minibase.platforms.errors import PlatformError
from minibase.platforms.transport import Call

_YUAN = re.compile(r"(\d+)(?:\.(\d{1,2}))?")
NOTIFICATION_REPLY = "success"


def yuan(fen: int) -> str:
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError("an amount is a whole, non-negative number of fen")
    return f"{fen // 100}.{fen % 100:02d}"


def fen(amount: object) -> int:
    """ "12.3" or "12.30" -> 1230; anything else is not an Alipay amount."""
    match = _YUAN.fullmatch(str(amount)) if isinstance(amount, str | int) else None
    if match is None:
        raise PlatformError("alipay", "bad_response", f"not an amount: {amount!r}")
    cents = (match.group(2) or "").ljust(2, "0")
    return int(match.group(1)) * 100 + int(cents)


def _str(node: Mapping[str, Any], key: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value:
        raise PlatformError("alipay", "bad_response", f"the answer has no {key}")
    return value


def _maybe(node: Mapping[str, Any], key: str) -> str | None:
    value = node.get(key)
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Trade:
    """A payment as Alipay reports it (query answer or notification)."""

    out_trade_no: str
    trade_no: str | None
    trade_status: str  # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED
    total: int  # fen
    buyer_open_id: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def paid(self) -> bool:
        return self.trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED")

    @classmethod
    def from_json(cls, node: Mapping[str, Any]) -> Trade:
        return cls(
            out_trade_no=_str(node, "out_trade_no"),
            trade_no=_maybe(node, "trade_no"),
            trade_status=_str(node, "trade_status"),
            total=fen(node.get("total_amount")),
            buyer_open_id=(  # notifications say buyer_id, queries buyer_user_id (2088...)
                _maybe(node, "buyer_open_id")
                or _maybe(node, "buyer_id")
                or _maybe(node, "buyer_user_id")
            ),
            raw=dict(node),
        )


@dataclass(frozen=True, slots=True)
class TradeRefund:
    """A refund's answer. `done`: True when the money moved (fund_change "Y" on the refund
    call, REFUND_SUCCESS on the query), False when the query says it did not, None when the
    answer cannot tell: a repeated refund call answers fund_change "N" even for a refund that
    went through the first time, so ask `query_refund`."""

    out_trade_no: str
    out_request_no: str
    amount: int | None  # fen, this refund's (from the query)
    trade_refunded: int | None  # fen, all of the trade's refunds so far (from the refund call)
    done: bool | None
    raw: Mapping[str, Any] = field(repr=False)


Keys = tuple[PrivateKey, PublicKey]


def _biz(content: Mapping[str, Any]) -> dict[str, str]:
    return {"biz_content": json.dumps(content, ensure_ascii=False, separators=(",", ":"))}


def create_trade(
    gateway: str,
    app_id: str,
    keys: Keys,
    now: float,
    *,
    out_trade_no: str,
    total: int,
    subject: str,
    buyer_open_id: str,
    notify_url: str,
    time_expire: str | None = None,
) -> Call[str]:
    """alipay.trade.create for a mini program (product_code JSAPI_PAY); gives the trade_no."""
    content: dict[str, Any] = {
        "out_trade_no": out_trade_no,
        "total_amount": yuan(total),
        "subject": subject,
        "product_code": "JSAPI_PAY",
        "op_app_id": app_id,
        "buyer_open_id": buyer_open_id,
    }
    if time_expire is not None:
        content["time_expire"] = time_expire
    return gateway_call(
        gateway,
        app_id,
        "alipay.trade.create",
        _biz(content),
        keys,
        now,
        lambda node: _str(node, "trade_no"),
        notify_url=notify_url,
    )


def query_trade(
    gateway: str, app_id: str, keys: Keys, now: float, out_trade_no: str
) -> Call[Trade]:
    """A trade that does not exist answers sub_code ACQ.TRADE_NOT_EXIST (errcode)."""
    business = _biz({"out_trade_no": out_trade_no})
    return gateway_call(gateway, app_id, "alipay.trade.query", business, keys, now, Trade.from_json)


def close_trade(gateway: str, app_id: str, keys: Keys, now: float, out_trade_no: str) -> Call[None]:
    """Close an unpaid trade; a paid one answers ACQ.TRADE_STATUS_ERROR."""
    business = _biz({"out_trade_no": out_trade_no})
    return gateway_call(gateway, app_id, "alipay.trade.close", business, keys, now, lambda _: None)


def refund_trade(
    gateway: str,
    app_id: str,
    keys: Keys,
    now: float,
    *,
    out_trade_no: str,
    out_request_no: str,
    refund: int,
    reason: str | None = None,
) -> Call[TradeRefund]:
    """alipay.trade.refund; the same out_request_no again is the same refund (idempotent)."""
    content: dict[str, Any] = {
        "out_trade_no": out_trade_no,
        "refund_amount": yuan(refund),
        "out_request_no": out_request_no,
    }
    if reason is not None:
        content["refund_reason"] = reason

    def read(node: dict[str, Any]) -> TradeRefund:
        return TradeRefund(
            out_trade_no=_str(node, "out_trade_no"),
            out_request_no=out_request_no,
            amount=None,
            trade_refunded=fen(node.get("refund_fee")),
            done=True if node.get("fund_change") == "Y" else None,
            raw=node,
        )

    return gateway_call(gateway, app_id, "alipay.trade.refund", _biz(content), keys, now, read)


def query_refund(
    gateway: str, app_id: str, keys: Keys, now: float, *, out_trade_no: str, out_request_no: str
) -> Call[TradeRefund]:
    business = _biz({"out_trade_no": out_trade_no, "out_request_no": out_request_no})

    def read(node: dict[str, Any]) -> TradeRefund:
        amount = node.get("refund_amount")  # absent when Alipay knows no such refund
        return TradeRefund(
            out_trade_no=_maybe(node, "out_trade_no") or out_trade_no,
            out_request_no=_maybe(node, "out_request_no") or out_request_no,
            amount=fen(amount) if amount is not None else None,
            trade_refunded=None,
            done=node.get("refund_status") == "REFUND_SUCCESS",
            raw=node,
        )

    method = "alipay.trade.fastpay.refund.query"
    return gateway_call(gateway, app_id, method, business, keys, now, read)


def read_notification(
    params: Mapping[str, str], app_id: str, alipay_public_key: PublicKey
) -> Trade:
    """Check an asynchronous notification's sign and its app; the trade it reports.
    Raises PlatformError: invalid_signature (unsigned, forged, tampered), invalid_appid."""
    sign = params.get("sign")
    if not sign or not verify_params(params, sign, alipay_public_key, notification=True):
        raise PlatformError(
            "alipay", "invalid_signature", "the notification is not signed by Alipay"
        )
    if params.get("app_id") != app_id:
        raise PlatformError("alipay", "invalid_appid", "the notification is for another app")
    return Trade.from_json(params)
