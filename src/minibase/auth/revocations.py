"""Users whose access tokens must stop working before they expire: disabled or deleted ones.

Access tokens are checked without a database read, so every process keeps the (small) set of
revoked user ids in memory and re-reads it within a second of any change, through the
`revocations_version` counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from minibase.clock import Clock, isoformat
from minibase.store.database import Connection, Database
from minibase.store.versions import Watched, bump

VERSION_KEY = "revocations_version"


class RevokedUsers:
    def __init__(
        self,
        db: Database,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ids: frozenset[str] = frozenset()
        self._watch = Watched(db, VERSION_KEY, self.load, check_interval, monotonic)

    async def load(self) -> None:
        version = await self._watch.current()
        rows = await self._db.fetch_all("SELECT user_id FROM revoked_users")
        self._ids = frozenset(row[0] for row in rows)
        self._watch.loaded(version)

    def changed(self) -> None:
        """Call after committing a revocation here, so this process sees it at once."""
        self._watch.expire()

    async def is_revoked(self, user_id: str) -> bool:
        await self._watch.refresh_if_stale()
        return user_id in self._ids


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
