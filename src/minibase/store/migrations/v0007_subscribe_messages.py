"""Subscribe messages waiting, sent or failed, and what each user accepted (see
minibase.messaging.subscribe)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 7
NAME = "subscribe_messages"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE subscribe_messages (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            user_id TEXT NOT NULL,
            template_id TEXT NOT NULL,
            page TEXT,
            miniprogram_state TEXT,
            data {json} NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
            errcode TEXT,
            last_error TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            sent_at TEXT)""",
        "CREATE INDEX subscribe_messages_user ON subscribe_messages (user_id, id)",
        "CREATE INDEX subscribe_messages_state ON subscribe_messages (state, id)",
        """CREATE TABLE subscription_grants (
            user_id TEXT NOT NULL,
            appid TEXT NOT NULL,
            template_id TEXT NOT NULL,
            remaining INTEGER NOT NULL CHECK (remaining >= 0),
            updated TEXT NOT NULL,
            PRIMARY KEY (user_id, appid, template_id))""",
    ]
