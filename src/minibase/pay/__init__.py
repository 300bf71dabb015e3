"""Payments: orders with an explicit state machine, their refunds, and the fulfilment job
enqueued with the payment. The provider calls live in minibase.platforms (wechatpay, alipay).
"""

from minibase.pay.ledger import FULFIL_JOB, Ledger, Outcome, Payment, PaymentMismatch
from minibase.pay.order import Order, OrderState, Refund, RefundState

__all__ = [
    "FULFIL_JOB",
    "Ledger",
    "Order",
    "OrderState",
    "Outcome",
    "Payment",
    "PaymentMismatch",
    "Refund",
    "RefundState",
]
