"""Payment orders, their refunds, and what happened to them (see minibase.pay)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 4
NAME = "payments"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        """CREATE TABLE pay_orders (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL CHECK (provider IN ('wechatpay', 'alipay')),
            merchant TEXT NOT NULL,
            appid TEXT NOT NULL,
            user_id TEXT NOT NULL,
            out_trade_no TEXT NOT NULL UNIQUE,
            idempotency_key TEXT NOT NULL,
            product TEXT NOT NULL,
            description TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
            state TEXT NOT NULL
                CHECK (state IN ('created', 'paid', 'refunding', 'refunded', 'closed')),
            provider_trade_no TEXT,
            prepay TEXT,
            expires_at TEXT NOT NULL,
            paid_at TEXT,
            closed_at TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (user_id, idempotency_key))""",
        # Reconciliation reads the orders still waiting, oldest first.
        "CREATE INDEX pay_orders_waiting ON pay_orders (state, created)",
        "CREATE INDEX pay_orders_user ON pay_orders (user_id, id)",
        """CREATE TABLE pay_refunds (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES pay_orders(id),
            out_refund_no TEXT NOT NULL UNIQUE,
            amount INTEGER NOT NULL CHECK (amount > 0),
            reason TEXT,
            state TEXT NOT NULL CHECK (state IN ('requested', 'succeeded', 'failed')),
            provider_refund_id TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            finished_at TEXT)""",
        "CREATE INDEX pay_refunds_order ON pay_refunds (order_id, id)",
        f"""CREATE TABLE pay_events (
            id TEXT PRIMARY KEY,
            order_id TEXT,
            kind TEXT NOT NULL,
            detail {json} NOT NULL,
            created TEXT NOT NULL)""",
        "CREATE INDEX pay_events_order ON pay_events (order_id, id)",
        "CREATE INDEX pay_events_kind ON pay_events (kind, id)",
    ]
