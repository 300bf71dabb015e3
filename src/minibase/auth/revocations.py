"""Access tokens that must stop working before they expire, on every process within a second.

Access tokens are checked without a database read, so every process keeps one small
revocation list in memory and re-reads it within a second of any change, through the
`revocations_version` counter (at once in the process that made the change). It holds:

- users who are disabled or deleted: their tokens answer `auth.user_revoked`;
- per user, the lowest token version still good: a change that voids a user's tokens (roles
  changed, signed out everywhere) moves the user's `token_version` on in its own transaction,
  and tokens carry the version they were issued at (`ver`). Counting, not comparing issue
  times, so a token issued in the same second just after the change works and one issued just
  before does not, whatever the clocks of the instances say;
- revoked sessions (refresh families, the tokens' `sid`): reuse of a refresh token, logout;
  and the sessions of admins who signed out (an admin token's `sid`).

Both answer `auth.token_revoked`. Entries of the last two matter only while a token issued
before them can live, so they are read back for `access_token_ttl` (+ a margin) only — and
revoked sessions for the longer of `access_token_ttl` and `admin_token_ttl` (+ the margin),
since an admin token lives `admin_token_ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from minibase.auth.tokens import TokenClaims
from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.store.database import Connection, Database
from minibase.store.versions import Watched, bump

VERSION_KEY = "revocations_version"
CLOCK_MARGIN = 60.0  # seconds of clock difference between instances that revocations survive


class Revocations:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        access_ttl: float,
        admin_ttl: float = 0.0,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._clock = clock
        self._versions_horizon = access_ttl + CLOCK_MARGIN
        self._horizon = max(access_ttl, admin_ttl) + CLOCK_MARGIN
        self._users: frozenset[str] = frozenset()
        self._versions: dict[str, int] = {}  # user id -> the lowest token version still good
        self._sessions: frozenset[str] = frozenset()
        self._watch = Watched(db, VERSION_KEY, self.load, check_interval, monotonic)

    @property
    def horizon(self) -> float:
        """Seconds after which a revoked session (a user's or an admin's) stops nothing: the
        longest an access token lives, + CLOCK_MARGIN. A voided version stops nothing after
        `access_ttl` + CLOCK_MARGIN already."""
        return self._horizon

    async def load(self) -> None:
        version = await self._watch.current()
        now = self._clock.now()
        oldest = now - timedelta(seconds=self._versions_horizon)
        cutoff = oldest.timestamp()
        # a deleted user cannot refresh: once their last token has expired, they stop nothing
        users = await self._db.fetch_all(
            "SELECT user_id FROM revoked_users WHERE reason <> 'deleted' OR revoked_at > ?",
            isoformat(oldest),
        )
        voided = await self._db.fetch_all(
            "SELECT id, token_version FROM users WHERE tokens_voided_at > ?", cutoff
        )
        sessions = await self._db.fetch_all(
            "SELECT family_id FROM revoked_sessions WHERE revoked_at > ?",
            now.timestamp() - self._horizon,
        )
        self._users = frozenset(row[0] for row in users)
        self._versions = {row[0]: int(row[1]) for row in voided}
        self._sessions = frozenset(row[0] for row in sessions)
        self._watch.loaded(version)

    def changed(self) -> None:
        """Call after committing a revocation here, so this process sees it at once."""
        self._watch.expire()

    @property
    def size(self) -> int:
        """How many entries this process holds."""
        return len(self._users) + len(self._versions) + len(self._sessions)

    async def check(self, claims: TokenClaims) -> None:
        """ApiError 401 when the token was revoked; O(1), no query between checks."""
        caller = claims.caller
        if caller.is_admin and claims.session is not None:
            await self._watch.refresh_if_stale()
            if claims.session in self._sessions:
                raise ApiError(
                    "auth.token_revoked", 401, "this admin token was signed out; sign in again"
                )
            return
        if not caller.is_user or caller.id is None:
            return
        await self._watch.refresh_if_stale()
        if caller.id in self._users:
            raise ApiError("auth.user_revoked", 401, "this user was disabled or deleted")
        if claims.version < self._versions.get(caller.id, 0) or claims.session in self._sessions:
            raise ApiError(
                "auth.token_revoked",
                401,
                "this access token was revoked; refresh to get a token with your current roles",
            )


async def revoke_user(conn: Connection, clock: Clock, user_id: str, reason: str) -> None:
    """In the transaction that disables or deletes the user."""
    await conn.execute("DELETE FROM revoked_users WHERE user_id = ?", user_id)
    await conn.execute(
        "INSERT INTO revoked_users (user_id, reason, revoked_at) VALUES (?, ?, ?)",
        user_id,
        reason,
        isoformat(clock.now()),
    )
    await bump(conn, VERSION_KEY)


async def restore_user(conn: Connection, user_id: str) -> None:
    if await conn.execute("DELETE FROM revoked_users WHERE user_id = ?", user_id):
        await bump(conn, VERSION_KEY)


async def void_tokens(conn: Connection, clock: Clock, user_id: str) -> int:
    """In the transaction of the change: every token of the user issued so far stops working.
    Returns the user's new token version, which tokens issued from now on carry."""
    version = await conn.fetch_value(
        "UPDATE users SET token_version = token_version + 1, tokens_voided_at = ?"
        " WHERE id = ? RETURNING token_version",
        clock.timestamp(),
        user_id,
    )
    await bump(conn, VERSION_KEY)
    return int(version or 0)


async def revoke_sessions(
    conn: Connection, clock: Clock, family_ids: Iterable[str], horizon: float
) -> None:
    """In the transaction that revokes these refresh families: their access tokens stop too.
    Sessions revoked longer ago than `horizon` seconds are forgotten here."""
    now = clock.timestamp()
    await conn.execute("DELETE FROM revoked_sessions WHERE revoked_at < ?", now - horizon)
    for family_id in family_ids:
        await conn.execute(
            "INSERT INTO revoked_sessions (family_id, revoked_at) VALUES (?, ?)"
            " ON CONFLICT (family_id) DO UPDATE SET revoked_at = excluded.revoked_at",
            family_id,
            now,
        )
    await bump(conn, VERSION_KEY)
