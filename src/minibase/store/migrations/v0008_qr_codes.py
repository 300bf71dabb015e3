"""Mini program codes kept once made: one row per app and set of normalized parameters, the
image in a binary column (BLOB on SQLite, BYTEA on PostgreSQL). A row without an image is a
claim: the process named by `maker` is asking the platform for it until `making_until`.
See minibase.messaging.qrcodes."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 8
NAME = "qr_codes"


def statements(dialect: Dialect) -> list[str]:
    return [
        f"""CREATE TABLE qr_codes (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            params_hash TEXT NOT NULL,
            params {dialect.json_column_type} NOT NULL,
            content_type TEXT,
            etag TEXT,
            size INTEGER,
            image {dialect.bytes_column_type},
            maker TEXT,
            making_until DOUBLE PRECISION,
            created TEXT NOT NULL,
            UNIQUE (platform, appid, params_hash))""",
    ]
