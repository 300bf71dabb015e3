"""What the WeChat Pay client takes and gives back. Keys stay out of reprs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minibase.platforms.errors import PlatformError

PLATFORM = "wechatpay"


@dataclass(frozen=True, slots=True)
class Merchant:
    """A WeChat Pay merchant: its id, its API certificate's serial and private key, its APIv3
    key, and WeChat Pay's platform keys by serial (certificates, or the WeChat Pay public key
    under its "PUB_KEY_ID_..." id)."""

    mchid: str
    serial_no: str
    private_key: str = field(repr=False)
    api_v3_key: str = field(repr=False)
    platform_keys: Mapping[str, str] = field(default_factory=dict, repr=False)


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlatformError(PLATFORM, "bad_response", f"the answer has no whole-number {key}")
    return value


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise PlatformError(PLATFORM, "bad_response", f"the answer has no {key}")
    return value


def _maybe(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Transaction:
    """A payment as WeChat Pay reports it (query answer or TRANSACTION.* notification)."""

    mchid: str
    appid: str
    out_trade_no: str
    trade_state: str  # SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR
    total: int  # fen
    transaction_id: str | None
    payer_total: int | None
    openid: str | None
    success_time: str | None
    attach: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def paid(self) -> bool:
        """The money arrived (a refunded order was paid too)."""
        return self.trade_state in ("SUCCESS", "REFUND")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Transaction:
        amount = _object(body, "amount")
        payer_total = amount.get("payer_total")
        return cls(
            mchid=_str(body, "mchid"),
            appid=_str(body, "appid"),
            out_trade_no=_str(body, "out_trade_no"),
            trade_state=_str(body, "trade_state"),
            total=_int(amount, "total"),
            transaction_id=_maybe(body, "transaction_id"),
            payer_total=payer_total if isinstance(payer_total, int) else None,
            openid=_maybe(_object(body, "payer"), "openid"),
            success_time=_maybe(body, "success_time"),
            attach=_maybe(body, "attach"),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund (create or query answer, or REFUND.* notification)."""

    out_refund_no: str
    out_trade_no: str
    refund_id: str | None
    transaction_id: str | None
    status: str  # PROCESSING, SUCCESS, CLOSED, ABNORMAL
    refund: int  # fen
    total: int  # fen, the order's
    success_time: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Refund:
        amount = _object(body, "amount")
        status = _maybe(body, "status") or _maybe(body, "refund_status")  # notifications
        if status is None:
            raise PlatformError(PLATFORM, "bad_response", "the refund has no status")
        return cls(
            out_refund_no=_str(body, "out_refund_no"),
            out_trade_no=_str(body, "out_trade_no"),
            refund_id=_maybe(body, "refund_id"),
            transaction_id=_maybe(body, "transaction_id"),
            status=status,
            refund=_int(amount, "refund"),
            total=_int(amount, "total"),
            success_time=_maybe(body, "success_time"),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted notification: `event_type` such as TRANSACTION.SUCCESS or
    REFUND.SUCCESS, and its resource's plaintext object."""

    id: str
    event_type: str
    original_type: str  # "transaction" or "refund"
    create_time: str | None
    summary: str | None
    resource: Mapping[str, Any] = field(repr=False)

    def transaction(self) -> Transaction:
        if self.original_type != "transaction":
            raise PlatformError(PLATFORM, "bad_response", f"a {self.original_type} notification")
        return Transaction.from_json(self.resource)

    def refund(self) -> Refund:
        if self.original_type != "refund":
            raise PlatformError(PLATFORM, "bad_response", f"a {self.original_type} notification")
        return Refund.from_json(self.resource)
