"""A small table every process caches whole (apps, merchants), its secrets sealed per row with
the vault, re-read when its change counter in `meta` moves (see minibase.store.versions)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import orjson

from minibase.config import ConfigError
from minibase.errors import ApiError
from minibase.store.database import Connection, Database
from minibase.store.versions import Watched
from minibase.vault import Vault


class Entry(Protocol):
    def matches(self, values: Mapping[str, Any]) -> bool:
        """Does this entry already hold exactly these values (secrets included)?"""
        ...


K = TypeVar("K", bound=Hashable)
T = TypeVar("T", bound=Entry)


class SealedCatalog(ABC, Generic[K, T]):
    def __init__(
        self,
        db: Database,
        vault: Vault,
        version_key: str,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._vault = vault
        self._items: dict[K, T] = {}
        self._watch = Watched(db, version_key, self.load, check_interval, monotonic)

    @abstractmethod
    async def _read(self) -> dict[K, T]:
        """Every row, secrets opened (with `open_secrets`)."""

    async def load(self) -> None:
        version = await self._watch.current()
        self._items = await self._read()
        self._watch.loaded(version)

    async def lookup(self, key: K) -> T | None:
        await self._watch.refresh_if_stale()
        return self._items.get(key)

    def find(self, key: K) -> T | None:
        """From this process's copy, without checking for changes."""
        return self._items.get(key)

    async def all(self) -> list[T]:
        await self._watch.refresh_if_stale()
        return list(self._items.values())

    async def apply(
        self,
        wanted: list[dict[str, Any]],
        key: Callable[[dict[str, Any]], K],
        label: Callable[[dict[str, Any]], str],
        save: Callable[[Connection, dict[str, Any], T | None], Awaitable[None]],
    ) -> None:
        """Create or update the config file's entries at start, in one transaction; an entry
        that matches what is stored is left alone. A refused one stops the start."""
        if not wanted:
            return
        await self.load()
        async with self._db.transaction() as conn:
            for values in wanted:
                current = self.find(key(values))
                if current is not None and current.matches(values):
                    continue
                try:
                    await save(conn, values, current)
                except ApiError as exc:
                    raise ConfigError(f"{label(values)}: {exc.message}") from None

    def seal_secrets(self, secrets: Mapping[str, str], context: str) -> str:
        return self._vault.seal(orjson.dumps(dict(secrets)).decode(), context)

    def open_secrets(self, sealed: str, context: str) -> dict[str, str]:
        opened: dict[str, str] = orjson.loads(self._vault.open(sealed, context).reveal())
        return opened
