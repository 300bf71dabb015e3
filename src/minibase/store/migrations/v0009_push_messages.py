"""What WeChat's message push delivered (one row per message or event, whatever the retries),
and the nonces seen inside the replay window (see minibase.messaging.push)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 9
NAME = "push_messages"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE push_messages (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            msg_type TEXT NOT NULL,
            event TEXT,
            from_user TEXT,
            fields {json} NOT NULL,
            format TEXT NOT NULL CHECK (format IN ('xml', 'json')),
            encrypted INTEGER NOT NULL,
            received TEXT NOT NULL,
            UNIQUE (platform, appid, dedupe_key))""",
        "CREATE INDEX push_messages_app ON push_messages (platform, appid, id)",
        """CREATE TABLE push_nonces (
            key TEXT PRIMARY KEY,
            expires_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX push_nonces_expiry ON push_nonces (expires_at)",
    ]
