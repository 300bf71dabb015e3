"""Reading the order book: orders newest first, and what happened to them (`pay_events`)."""

from __future__ import annotations

from typing import Any

import orjson

from minibase.pay.order import ORDER_COLUMNS, Order
from minibase.store.database import Connection


def _where(**equal: str | None) -> tuple[str, list[Any]]:
    """` WHERE a = ? AND b = ?` for the filters given (None: not filtered)."""
    given = {column: value for column, value in equal.items() if value is not None}
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{column} = ?" for column in given), list(given.values())


async def orders(
    conn: Connection,
    *,
    user: str | None = None,
    state: str | None = None,
    before: str | None = None,
    limit: int = 20,
) -> list[Order]:
    """Newest first; `before` is the last id of the page before."""
    clause, args = _where(user_id=user, state=state)
    if before is not None:
        clause += (" AND" if clause else " WHERE") + " id < ?"
        args.append(before)
    rows = await conn.fetch_all(
        f"SELECT {ORDER_COLUMNS} FROM pay_orders{clause} ORDER BY id DESC LIMIT ?", *args, limit
    )
    return [Order.from_row(row) for row in rows]


async def events(
    conn: Connection, *, order: str | None = None, kind: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first: created, paid, closed, rejected, refund_requested, refund_succeeded ..."""
    clause, args = _where(order_id=order, kind=kind)
    rows = await conn.fetch_all(
        f"SELECT id, order_id, kind, detail, created FROM pay_events{clause}"
        " ORDER BY id DESC LIMIT ?",
        *args,
        limit,
    )
    return [
        {
            "id": row[0],
            "order": row[1],
            "kind": row[2],
            "detail": orjson.loads(row[3]) if isinstance(row[3], str | bytes) else row[3],
            "created": row[4],
        }
        for row in rows
    ]
