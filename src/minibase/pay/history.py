"""Reading the order book: orders newest first, and what happened to them (`pay_events`)."""

from __future__ import annotations

from typing import Any

from minibase.pay.order import ORDER_COLUMNS, Order
from minibase.store.database import Connection, json_column
from minibase.store.pages import newest_first


async def orders(
    conn: Connection,
    *,
    user: str | None = None,
    state: str | None = None,
    before: str | None = None,
    limit: int = 20,
) -> list[Order]:
    """Newest first; `before` is the last id of the page before."""
    sql, args = newest_first(
        "pay_orders", ORDER_COLUMNS, before=before, limit=limit, user_id=user, state=state
    )
    rows = await conn.fetch_all(sql, *args)
    return [Order.from_row(row) for row in rows]


async def events(
    conn: Connection,
    *,
    order: str | None = None,
    kind: str | None = None,
    source: str | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first: created, paid, closed, rejected, refund_requested, refund_succeeded ...;
    `source` is where a change came from (notification, reconcile, query, admin); `before` is
    the last id of the page before."""
    sql, args = newest_first(
        "pay_events",
        "id, order_id, kind, detail, created",
        before=before,
        limit=limit,
        order_id=order,
        kind=kind,
        source=source,
    )
    rows = await conn.fetch_all(sql, *args)
    return [
        {
            "id": row[0],
            "order": row[1],
            "kind": row[2],
            "detail": json_column(row[3]),
            "created": row[4],
        }
        for row in rows
    ]
