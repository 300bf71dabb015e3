"""Media content checks: asked of the platform, then pending until its verdict is pushed
(see minibase.messaging.content)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 10
NAME = "content_checks"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE content_media_checks (
            trace_id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            user_id TEXT NOT NULL,
            media_url TEXT NOT NULL,
            media_type TEXT NOT NULL CHECK (media_type IN ('audio', 'image')),
            scene TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'pass', 'review', 'risky')),
            label INTEGER,
            detail {json},
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            checked_at TEXT)""",
        "CREATE INDEX content_media_checks_user ON content_media_checks (user_id, created)",
    ]
