"""Per-test PostgreSQL databases, cloned from a template migrated once per test session."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from minibase.clock import SystemClock
from minibase.store.migrations import migrate
from minibase.store.postgres import PostgresDatabase

T = TypeVar("T")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
# One template per test session, so that sessions running side by side never share one.
TEMPLATE = f"minibase_template_{os.getpid()}"


def admin_url() -> str:
    return os.environ.get("MINIBASE_TEST_POSTGRES_URL", DEFAULT_URL)


def url_for(database: str) -> str:
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path="/" + database))


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare_template() -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    await _execute(f'CREATE DATABASE "{TEMPLATE}"')
    db = PostgresDatabase(url_for(TEMPLATE), pool_size=1)
    await db.open()
    try:
        await migrate(db, SystemClock())
    finally:
        await db.close()


def prepare_template() -> None:
    asyncio.run(_prepare_template())


async def clone_database() -> str:
    name = f"mb_test_{os.getpid()}_{secrets.token_hex(4)}"
    await _execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return name


async def drop_database(name: str) -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_template() -> None:
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))


class SpareDatabases:
    """Per-test databases cloned one ahead and dropped behind, on a thread of their own.

    Cloning the template takes about 0.4 s and dropping a database 0.1 s: done in the
    background, a test waits for neither (the next clone runs while a test does).
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-spares")
        self._thread.daemon = True
        self._thread.start()
        self._lock = asyncio.Lock()  # used on the thread's loop only
        self._spare: concurrent.futures.Future[str] | None = None
        self._drops: list[concurrent.futures.Future[None]] = []

    def _submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _clone(self) -> str:
        async with self._lock:  # one CREATE DATABASE from the template at a time
            return await clone_database()

    async def take(self) -> str:
        """A fresh database of the template (and the next one starts cloning)."""
        ready = self._spare or self._submit(self._clone())
        self._spare = self._submit(self._clone())
        return await asyncio.wrap_future(ready)

    def give_back(self, name: str) -> None:
        """Drop it, in the background."""
        self._drops = [drop for drop in self._drops if not drop.done()]
        self._drops.append(self._submit(drop_database(name)))

    def close(self) -> None:
        """Drop the spare and wait for every drop, then stop the thread."""
        if self._spare is not None:
            self.give_back(self._spare.result())
        for drop in self._drops:
            drop.result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
