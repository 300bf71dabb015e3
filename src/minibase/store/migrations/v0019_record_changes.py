"""Every committed record change, in commit order, for realtime subscribers on every instance
and for clients that resume after a disconnect (kept for `realtime_retention` seconds)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 19
NAME = "record_changes"


def statements(dialect: Dialect) -> list[str]:
    seq = (
        "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    )
    return [
        f"""CREATE TABLE record_changes (
            seq {seq},
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            action TEXT NOT NULL,
            doc TEXT NOT NULL,
            previous TEXT,
            created DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX record_changes_created ON record_changes (created)",
    ]
