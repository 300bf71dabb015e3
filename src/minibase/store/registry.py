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
from minibase.store.versions import Watched, bump

VERSION_KEY = "collections_version"


class CollectionRegistry:
    def __init__(
        self,
        db: Database,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._by_key: dict[str, Collection] = {}
        self._watch = Watched(db, VERSION_KEY, self.load, check_interval, monotonic)

    async def load(self) -> None:
        version = await self._watch.current()
        rows = await self._db.fetch_all(
            "SELECT id, definition, created, updated FROM collections ORDER BY created, id"
        )
        loaded: dict[str, Collection] = {}
        for row in rows:
            definition = row[1] if isinstance(row[1], dict) else orjson.loads(row[1])
            collection = parse_definition(
                definition, collection_id=row[0], created=row[2], updated=row[3]
            )
            loaded[collection.name.lower()] = collection
        self._by_key = loaded
        self._watch.loaded(version)

    async def get(self, name: str) -> Collection:
        await self._watch.refresh_if_stale()
        collection = self._by_key.get(name.lower())
        if collection is None:
            raise ApiError("collections.not_found", 404, f"no collection named {name!r}")
        return collection

    def find(self, name: str) -> Collection | None:
        return self._by_key.get(name.lower())

    def by_id(self, collection_id: str) -> Collection | None:
        """The loaded collection with this id (None: dropped, or not loaded yet)."""
        for collection in self._by_key.values():
            if collection.id == collection_id:
                return collection
        return None

    async def all(self) -> list[Collection]:
        await self._watch.refresh_if_stale()
        return list(self._by_key.values())


async def bump_version(conn: Connection) -> None:
    """Called in the transaction of every definition change."""
    await bump(conn, VERSION_KEY)
