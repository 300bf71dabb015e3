"""A payment order and its refunds, as rows of `pay_orders` and `pay_refunds`.

How an order moves (every move is one conditional UPDATE, so concurrent notifications,
reconciliation and admins cannot move it twice):

    created --paid--> paid --refund asked--> refunding --refunds settled--> paid | refunded
    created --closed (expired, or closed by the provider)--> closed
    closed --paid--> paid   (the money arrived anyway: money is the truth; logged)

Amounts are whole fen. `refunded` counts refunds that succeeded; refunds still in flight are
counted against what may be refunded, so the total can never pass the amount paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from minibase.clock import isoformat, parse_iso
from minibase.store.database import Row


class OrderState(StrEnum):
    CREATED = "created"
    PAID = "paid"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    CLOSED = "closed"


PAID_STATES = frozenset({OrderState.PAID, OrderState.REFUNDING, OrderState.REFUNDED})


class RefundState(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ORDER_COLUMNS = (
    "id, provider, merchant, appid, user_id, out_trade_no, idempotency_key, product,"
    " description, amount, refunded, state, provider_trade_no, prepay, expires_at, paid_at,"
    " closed_at, created, updated"
)
REFUND_COLUMNS = (
    "id, order_id, out_refund_no, amount, reason, state, provider_refund_id, created, updated,"
    " finished_at"
)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else isoformat(moment)


@dataclass(frozen=True)
class Order:
    id: str
    provider: str  # "wechatpay" or "alipay"
    merchant: str  # WeChat Pay mchid, or the Alipay app id
    appid: str
    user_id: str
    out_trade_no: str
    idempotency_key: str
    product: str
    description: str
    amount: int
    refunded: int
    state: OrderState
    provider_trade_no: str | None
    prepay: str | None  # WeChat's prepay_id, or Alipay's trade_no for my.tradePay
    expires_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    created: datetime
    updated: datetime

    @property
    def paid(self) -> bool:
        return self.state in PAID_STATES

    @classmethod
    def from_row(cls, row: Row) -> Order:
        return cls(
            id=row[0],
            provider=row[1],
            merchant=row[2],
            appid=row[3],
            user_id=row[4],
            out_trade_no=row[5],
            idempotency_key=row[6],
            product=row[7],
            description=row[8],
            amount=int(row[9]),
            refunded=int(row[10]),
            state=OrderState(row[11]),
            provider_trade_no=row[12],
            prepay=row[13],
            expires_at=parse_iso(row[14]),
            paid_at=_moment(row[15]),
            closed_at=_moment(row[16]),
            created=parse_iso(row[17]),
            updated=parse_iso(row[18]),
        )

    def to_json(self) -> dict[str, Any]:
        """What the buyer and admins see (never a prepay id: it is only for the payer)."""
        return {
            "id": self.id,
            "provider": self.provider,
            "appid": self.appid,
            "user": self.user_id,
            "out_trade_no": self.out_trade_no,
            "product": self.product,
            "description": self.description,
            "amount": self.amount,
            "refunded": self.refunded,
            "state": self.state.value,
            "provider_trade_no": self.provider_trade_no,
            "expires_at": isoformat(self.expires_at),
            "paid_at": _text(self.paid_at),
            "closed_at": _text(self.closed_at),
            "created": isoformat(self.created),
            "updated": isoformat(self.updated),
        }


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str
    out_refund_no: str
    amount: int
    reason: str | None
    state: RefundState
    provider_refund_id: str | None
    created: datetime
    updated: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Refund:
        return cls(
            id=row[0],
            order_id=row[1],
            out_refund_no=row[2],
            amount=int(row[3]),
            reason=row[4],
            state=RefundState(row[5]),
            provider_refund_id=row[6],
            created=parse_iso(row[7]),
            updated=parse_iso(row[8]),
            finished_at=_moment(row[9]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order": self.order_id,
            "out_refund_no": self.out_refund_no,
            "amount": self.amount,
            "reason": self.reason,
            "state": self.state.value,
            "provider_refund_id": self.provider_refund_id,
            "created": isoformat(self.created),
            "updated": isoformat(self.updated),
            "finished_at": _text(self.finished_at),
        }
