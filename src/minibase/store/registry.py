"""The collections every request looks up, cached in memory and reloaded when they change.

A counter in `meta` moves with every definition change (in the same transaction), so other
processes and instances notice within `check_interval` seconds without reading definitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from minibase.errors import ApiError
from minibase.store.collections import Collection, parse_definition
from minibase.store.database import Connection, Database

VERSION_KEY = "collections_version"


class CollectionRegistry:
    def __init__(
        self,
        db: Database,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._interval = check_interval
        self._monotonic = monotonic
        self._by_key: dict[str, Collection] = {}
        self._version: str | None = None
        self._checked = float("-inf")

    async def load(self) -> None:
        async with self._db.reader() as conn:
            version = await conn.fetch_value("SELECT value FROM meta WHERE key = ?", VERSION_KEY)
            rows = await conn.fetch_all(
                "SELECT id, definition, created, updated FROM collections ORDER BY created, id"
            )
        loaded: dict[str, Collection] = {}
        for row in rows:
            definition = row[1] if isinstance(row[1], dict) else orjson.loads(row[1])
            collection = parse_definition(
                definition, collection_id=row[0], created=row[2], updated=row[3]
            )
            loaded[collection.name.lower()] = collection
        self._by_key, self._version = loaded, version
        self._checked = self._monotonic()

    async def _refresh_if_stale(self) -> None:
        now = self._monotonic()
        if now - self._checked < self._interval:
            return
        self._checked = now
        version = await self._db.fetch_value("SELECT value FROM meta WHERE key = ?", VERSION_KEY)
        if version != self._version:
            await self.load()

    async def get(self, name: str) -> Collection:
        await self._refresh_if_stale()
        collection = self._by_key.get(name.lower())
        if collection is None:
            raise ApiError("collections.not_found", 404, f"no collection named {name!r}")
        return collection

    def find(self, name: str) -> Collection | None:
        return self._by_key.get(name.lower())

    async def all(self) -> list[Collection]:
        await self._refresh_if_stale()
        return list(self._by_key.values())


async def bump_version(conn: Connection) -> None:
    """Called in the transaction of every definition change."""
    if conn.dialect.name == "postgres":
        await conn.execute(
            "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = ?", VERSION_KEY
        )
    else:
        await conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", VERSION_KEY
        )
