"""When an app's access token was fetched and by which process: admins read it beside the
token's expiry and its refresh lease (the token itself never leaves the store)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 17
NAME = "token_refreshes"


def statements(dialect: Dialect) -> list[str]:
    return [
        "ALTER TABLE platform_tokens ADD COLUMN refreshed_at DOUBLE PRECISION",
        "ALTER TABLE platform_tokens ADD COLUMN refreshed_by TEXT",
    ]
