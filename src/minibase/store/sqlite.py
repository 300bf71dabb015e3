"""The embedded engine: one SQLite file in WAL mode, one writer thread, a pool of reader threads.

sqlite3 blocks, so every statement runs on a thread (never on the event loop). Writes are
serialised through the single writer connection (BEGIN IMMEDIATE), which is what SQLite does
anyway and keeps busy-waiting out of the request path.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from minibase.rules.conditions import compiled_regex
from minibase.store.database import DatabaseUnavailable, IntegrityViolation, Row
from minibase.store.dialect import SQLITE, Dialect

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
    "PRAGMA mmap_size=268435456",
)
_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '([^']+)'|(\S+))")


def _regexp(pattern: str, value: object, flags: int) -> bool | None:
    if not isinstance(value, str):
        return None
    return compiled_regex(pattern, bool(flags)).search(value) is not None


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    # Each connection is used by one thread at a time; closing happens after its pool stops.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    if read_only:
        conn.execute("PRAGMA query_only=ON")
    conn.create_function("minibase_regexp", 3, _regexp, deterministic=True)
    return conn


def _translate(error: sqlite3.Error) -> Exception:
    if isinstance(error, sqlite3.IntegrityError):
        match = _UNIQUE.search(str(error))
        name = (match.group(1) or match.group(2)) if match else None
        return IntegrityViolation(str(error), name)
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return DatabaseUnavailable(str(error))
    return error


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteConnection:
    """Statements on one thread: the writer's, or any reader's (each has its own connection)."""

    dialect: Dialect = SQLITE

    def __init__(self, run: Callable[[Callable[[sqlite3.Connection], Any]], Any]) -> None:
        self._run = run

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        result: Row | None = await self._run(lambda c: c.execute(sql, params).fetchone())
        return result

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        result: list[Row] = await self._run(lambda c: c.execute(sql, params).fetchall())
        return result

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return None if row is None else row[0]

    async def execute(self, sql: str, *params: Any) -> int:
        result: int = await self._run(lambda c: c.execute(sql, params).rowcount)
        return result

    async def execute_script(self, statements: Sequence[str]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        await self._run(run)


class SQLiteDatabase:
    dialect: Dialect = SQLITE

    def __init__(self, path: Path, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self._writer_pool: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(
            self._writer_pool, lambda: _connect(self.path, read_only=False)
        )
        self._write_lock = asyncio.Lock()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer_pool is not None and self._writer is not None:
            writer = self._writer
            await loop.run_in_executor(self._writer_pool, writer.close)
            self._writer_pool.shutdown(wait=True)
        if self._reader_pool is not None:
            self._reader_pool.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()  # the reader threads are gone; closing from here is safe then
        self._reader_conns.clear()
        self._writer = self._writer_pool = self._reader_pool = None

    # -- running work on the threads ------------------------------------------------------

    async def _on_writer(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer_pool is None or self._writer is None:
            raise DatabaseUnavailable("database is closed")
        writer = self._writer

        def call() -> T:
            try:
                return work(writer)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, call)

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, read_only=True)
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    async def _on_reader(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader_pool is None:
            raise DatabaseUnavailable("database is closed")

        def call() -> T:
            try:
                return work(self._reader_conn())
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, call)

    # -- the Database protocol ------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteConnection]:
        async with self._write_lock:
            await self._on_writer(lambda c: c.execute("BEGIN IMMEDIATE"))
            try:
                yield SQLiteConnection(self._on_writer)
            except BaseException:
                await asyncio.shield(self._on_writer(_rollback_if_open))
                raise
            else:
                try:
                    await self._on_writer(lambda c: c.execute("COMMIT"))
                except BaseException:
                    await asyncio.shield(self._on_writer(_rollback_if_open))
                    raise

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[SQLiteConnection]:
        yield SQLiteConnection(self._on_reader)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        result: Row | None = await self._on_reader(lambda c: c.execute(sql, params).fetchone())
        return result

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        result: list[Row] = await self._on_reader(lambda c: c.execute(sql, params).fetchall())
        return result

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return None if row is None else row[0]

    async def ping(self) -> None:
        await self.fetch_value("SELECT 1")
