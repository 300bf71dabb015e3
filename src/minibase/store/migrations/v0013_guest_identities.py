"""Douyin guests: people who use a mini program without logging in to the Douyin app, known
by the `anonymous_openid` of tt.login's anonymous code (see minibase.auth.guests)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 13
NAME = "guest_identities"


def statements(dialect: Dialect) -> list[str]:
    return [
        """CREATE TABLE guest_identities (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            platform TEXT NOT NULL,
            appid TEXT NOT NULL,
            anonymous_openid TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (platform, appid, anonymous_openid))""",
        "CREATE INDEX guest_identities_user ON guest_identities (user_id)",
    ]
