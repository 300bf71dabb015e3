"""What a mini program sends to create an order, checked field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.errors import ApiError

MAX_AMOUNT = 2**31 - 1  # fen: the largest the orders table holds (21 million yuan)
_ORDER_FIELDS = frozenset({"product", "amount", "description", "idempotency_key", "merchant"})


def invalid_order(message: str) -> ApiError:
    return ApiError("pay.invalid_order", 400, message)


@dataclass(frozen=True)
class OrderRequest:
    product: str
    idempotency_key: str
    amount: int | None
    description: str | None
    merchant: str | None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> OrderRequest:
        unknown = sorted(set(body) - _ORDER_FIELDS)
        if unknown:
            raise invalid_order(f"unknown fields {unknown}; an order has {sorted(_ORDER_FIELDS)}")
        product, key = body.get("product"), body.get("idempotency_key")
        if not isinstance(product, str) or not 1 <= len(product) <= 128:
            raise invalid_order("product is the reference of what is bought (1-128 characters)")
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise invalid_order(
                "idempotency_key (1-64 characters) makes a retried request the same order"
            )
        amount = body.get("amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise invalid_order("amount is a whole number of fen")
        if amount is not None and not 1 <= amount <= MAX_AMOUNT:
            raise invalid_order("amount is a whole number of fen above zero")
        description = body.get("description")
        if description is not None and (
            not isinstance(description, str) or not 1 <= len(description) <= 127
        ):
            raise invalid_order("description is what the payer sees (1-127 characters)")
        merchant = body.get("merchant")
        if merchant is not None and not isinstance(merchant, str):
            raise invalid_order("merchant is a WeChat Pay mchid")
        return cls(product, key, amount, description, merchant)
