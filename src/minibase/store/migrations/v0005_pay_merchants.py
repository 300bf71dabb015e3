"""WeChat Pay merchants (see minibase.pay.merchants), their keys sealed with the vault; and
when reconciliation last asked about a waiting order or refund."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 5
NAME = "pay_merchants_and_checks"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE pay_merchants (
            id TEXT PRIMARY KEY,
            mchid TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            appids {json} NOT NULL,
            serial_no TEXT NOT NULL,
            platform_keys {json} NOT NULL,
            credentials TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        "INSERT INTO meta (key, value) VALUES ('pay_merchants_version', '0')",
        # When reconciliation last asked the provider about an order or refund still waiting.
        "ALTER TABLE pay_orders ADD COLUMN checked_at TEXT",
        "ALTER TABLE pay_refunds ADD COLUMN checked_at TEXT",
        "CREATE INDEX pay_refunds_waiting ON pay_refunds (state, created)",
    ]
