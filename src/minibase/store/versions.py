"""Change counters in `meta`: a process caches something (collections, revoked users) and
re-reads it when its counter moves. Bumped in the transaction of the change itself."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from minibase.store.database import Connection, Database
from minibase.store.shared_versions import SharedVersions, tell_workers_after_commit


async def bump(conn: Connection, key: str) -> None:
    if conn.dialect.name == "postgres":
        await conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = ?", key)
    else:
        await conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", key)
    tell_workers_after_commit(conn, key)


class Watched:
    """Calls `reload` when the counter `key` has moved, checking at most every `interval` s;
    at once when another worker of this server moved it (store/shared_versions.py)."""

    def __init__(
        self,
        db: Database,
        key: str,
        reload: Callable[[], Awaitable[None]],
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._key = key
        self._reload = reload
        self._interval = interval
        self._monotonic = monotonic
        self._seen: str | None = None
        self._checked = float("-inf")
        self._workers = SharedVersions.of_this_server()
        self._slot = SharedVersions.slot(key)
        self._workers_read = self._workers_seen = 0

    async def current(self) -> str | None:
        if self._workers is not None:  # first: a change told after this read is seen later
            self._workers_read = self._workers.read_slot(self._slot)
        value = await self._db.fetch_value("SELECT value FROM meta WHERE key = ?", self._key)
        return None if value is None else str(value)

    def loaded(self, version: str | None) -> None:
        """The caller (re)loaded its cache at this version."""
        self._seen = version
        self._checked = self._monotonic()
        self._workers_seen = self._workers_read

    def expire(self) -> None:
        """This process changed the data: check the counter on the next use."""
        self._checked = float("-inf")

    async def refresh_if_stale(self) -> None:
        now = self._monotonic()
        workers = self._workers
        if workers is not None and workers.read_slot(self._slot) != self._workers_seen:
            self._checked = now
            await self._reload()
            return
        if now - self._checked < self._interval:
            return
        self._checked = now
        if await self.current() != self._seen:
            await self._reload()
