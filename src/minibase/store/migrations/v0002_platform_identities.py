"""Platform apps, the identities users sign in with, phone numbers, and revoked users."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 2
NAME = "platform_identities"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE platform_apps (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            name TEXT NOT NULL,
            account TEXT,
            credentials TEXT NOT NULL,
            options {json} NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (platform, appid))""",
        """CREATE TABLE user_identities (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            openid TEXT NOT NULL,
            unionid TEXT,
            session_key TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (platform, appid, openid))""",
        "CREATE INDEX user_identities_union ON user_identities (platform, unionid)",
        "CREATE INDEX user_identities_user ON user_identities (user_id)",
        "ALTER TABLE users ADD COLUMN phone TEXT",
        "ALTER TABLE users ADD COLUMN phone_hash TEXT",
        "ALTER TABLE users ADD COLUMN phone_hint TEXT",
        "CREATE UNIQUE INDEX users_phone_hash ON users (phone_hash)",
        """CREATE TABLE revoked_users (
            user_id TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            revoked_at TEXT NOT NULL)""",
        "INSERT INTO meta (key, value) VALUES ('revocations_version', '0')",
        "INSERT INTO meta (key, value) VALUES ('apps_version', '0')",
    ]
