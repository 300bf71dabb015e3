"""Apps' access tokens shared by every process (see minibase.messaging.token_store)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 6
NAME = "platform_tokens"


def statements(dialect: Dialect) -> list[str]:
    return [
        """CREATE TABLE platform_tokens (
            key TEXT PRIMARY KEY,
            sealed TEXT,
            fingerprint TEXT,
            refused TEXT,
            expires_at DOUBLE PRECISION,
            lock_owner TEXT,
            lock_until DOUBLE PRECISION)""",
    ]
