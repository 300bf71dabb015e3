"""The system tables: metadata, collections, admins, users and refresh tokens."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 1
NAME = "system_tables"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    boolean = dialect.bool_type
    false = "FALSE" if dialect.name == "postgres" else "0"
    return [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE collections (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            definition {json} NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        """CREATE TABLE admins (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        f"""CREATE TABLE users (
            id TEXT PRIMARY KEY,
            roles {json} NOT NULL,
            profile {json} NOT NULL,
            disabled {boolean} NOT NULL DEFAULT {false},
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        """CREATE TABLE refresh_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            family_id TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created TEXT NOT NULL,
            expires TEXT NOT NULL,
            platform TEXT,
            appid TEXT,
            parent_id TEXT,
            used_at TEXT,
            revoked_at TEXT)""",
        "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
        "CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id)",
        "INSERT INTO meta (key, value) VALUES ('collections_version', '0')",
    ]
