"""Access tokens that stop before they expire (a per-user token version, revoked sessions) and
the failed sign-in attempts that throttle guessing (see minibase.auth.revocations and
minibase.auth.throttle)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 11
NAME = "token_revocations_and_throttles"


def statements(dialect: Dialect) -> list[str]:
    return [
        # Tokens carry the version they were issued at; a change that voids them moves it on.
        "ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE users ADD COLUMN tokens_voided_at DOUBLE PRECISION",
        "CREATE INDEX users_tokens_voided ON users (tokens_voided_at)",
        """CREATE TABLE revoked_sessions (
            family_id TEXT PRIMARY KEY,
            revoked_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX revoked_sessions_age ON revoked_sessions (revoked_at)",
        """CREATE TABLE auth_attempts (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            window_end DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX auth_attempts_window ON auth_attempts (window_end)",
    ]
