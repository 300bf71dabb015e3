"""The embedded engine: one SQLite file in WAL mode, one writer thread, a pool of reader threads.

sqlite3 blocks, so every statement runs on a thread (never on the event loop). Writes are
serialised through the single writer connection (BEGIN IMMEDIATE), which is what SQLite does
anyway and keeps busy-waiting out of the request path.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import regex

from minibase.errors import ApiError
from minibase.private_files import make_private_dir, make_private_file, tighten_existing
from minibase.store.database import (
    CommitCallbacks,
    DatabaseUnavailable,
    IntegrityViolation,
    Row,
)
from minibase.store.dialect import SQLITE, Dialect
from minibase.store.threads import WorkerThreads

T = TypeVar("T")
log = logging.getLogger("minibase.store")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
    "PRAGMA mmap_size=268435456",
    "PRAGMA analysis_limit=20000",
)
_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '([^']+)'|(\S+))")


# One $regex match may take this long; a pattern that backtracks past it fails the query
# (400) instead of holding a reader thread for minutes.
REGEX_TIMEOUT = 0.05
_regex_state = threading.local()


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, ignore_case: int) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)


def _regexp(pattern: str, value: object, flags: int) -> bool | None:
    if not isinstance(value, str):
        return None
    try:
        return _compiled(pattern, flags).search(value, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        _regex_state.timed_out = True
        raise


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
    if getattr(_regex_state, "timed_out", False):
        _regex_state.timed_out = False
        return ApiError(
            "records.invalid_filter",
            400,
            "the $regex takes too long on this data; anchor it or simplify its repetitions",
        )
    if isinstance(error, sqlite3.IntegrityError):
        match = _UNIQUE.search(str(error))
        name = (match.group(1) or match.group(2)) if match else None
        return IntegrityViolation(str(error), name)
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return DatabaseUnavailable(str(error))
    return error


def _commit_or_rollback(conn: sqlite3.Connection) -> None:
    """In one job, so that a failed COMMIT never leaves the next transaction inside this one."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _quietly(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("ROLLBACK failed", exc_info=future.exception())


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteConnection(CommitCallbacks):
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


class TableStatistics:
    """Keeps SQLite's planner statistics fresh as tables grow.

    Without them SQLite guesses, and guesses wrong for lists that filter on one index and sort
    on another (e.g. an owner rule plus a sort on score): statistics let it pick the index that
    stops after one page. A table is analyzed again after its rows change by a quarter (at
    least 100), in the background and bounded by `analysis_limit` (20,000 rows sampled per index).
    """

    def __init__(self, analyze: Callable[[str], Awaitable[int]]) -> None:
        self._analyze = analyze
        self._changed: dict[str, int] = {}
        self._rows: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    def note(self, table: str, rows: int) -> None:
        changed = self._changed.get(table, 0) + rows
        self._changed[table] = changed
        if changed >= max(100, self._rows.get(table, 0) // 4):
            self.refresh_soon(table)

    def refresh_soon(self, table: str) -> None:
        if table not in self._running:
            self._running[table] = asyncio.get_running_loop().create_task(self._refresh(table))

    async def _refresh(self, table: str) -> None:
        try:
            self._changed[table] = 0
            self._rows[table] = await self._analyze(table)
        except Exception:  # a dropped table, a closing database: statistics can wait
            log.debug("ANALYZE %s failed", table, exc_info=True)
        finally:
            self._running.pop(table, None)

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


class SQLiteDatabase:
    dialect: Dialect = SQLITE

    def __init__(self, path: Path, readers: int = 4) -> None:
        self.path = path
        self._readers = readers
        self._writer_pool: WorkerThreads | None = None
        self._reader_pool: WorkerThreads | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._statistics = TableStatistics(self._analyze)
        self._statistics_version = 0

    async def open(self) -> None:
        if not self.path.parent.exists():
            make_private_dir(self.path.parent)
        # SQLite gives the -wal and -shm files the database file's mode.
        make_private_file(self.path)
        for suffix in ("-wal", "-shm"):
            tighten_existing(self.path.with_name(self.path.name + suffix))
        self._writer_pool = WorkerThreads(1, "sqlite-writer")
        self._reader_pool = WorkerThreads(self._readers, "sqlite-reader")
        self._writer = await self._writer_pool.run(lambda: _connect(self.path, read_only=False))
        self._write_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._statistics.stop()
        if self._writer_pool is not None and self._writer is not None:
            await self._writer_pool.run(self._writer.close)
            await self._writer_pool.stop()
        if self._reader_pool is not None:
            await self._reader_pool.stop()
        for conn in self._reader_conns:
            conn.close()  # the reader threads are gone; closing from here is safe then
        self._reader_conns.clear()
        self._writer = self._writer_pool = self._reader_pool = None

    # -- running work on the threads ------------------------------------------------------

    def _submit_to_writer(self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        if self._writer_pool is None or self._writer is None:
            raise DatabaseUnavailable("database is closed")
        writer = self._writer

        def call() -> T:
            try:
                return work(writer)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

        return self._writer_pool.submit(call)

    async def _on_writer(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit_to_writer(work)

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.statistics != self._statistics_version:
            # A connection plans with the statistics it loaded when it opened: reopen it.
            with self._conns_lock:
                self._reader_conns.remove(conn)
            conn.close()
            conn = None
        if conn is None:
            conn = _connect(self.path, read_only=True)
            self._local.conn = conn
            self._local.statistics = self._statistics_version
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

        return await self._reader_pool.run(call)

    # -- the Database protocol ------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteConnection]:
        """One write transaction on the writer thread.

        BEGIN IMMEDIATE travels with the first statement, and the lock is let go as soon as
        COMMIT is queued: the writer thread runs jobs in order, so the next transaction starts
        after it, while this one waits for its commit outside the lock.
        """
        committing: asyncio.Future[None] | None = None
        async with self._write_lock:
            started = False

            async def in_transaction(work: Callable[[sqlite3.Connection], T]) -> T:
                nonlocal started
                started = True

                def begin_then(conn: sqlite3.Connection) -> T:
                    if not conn.in_transaction:
                        conn.execute("BEGIN IMMEDIATE")
                    return work(conn)

                return await self._on_writer(begin_then)

            conn = SQLiteConnection(in_transaction)
            try:
                yield conn
            except BaseException:
                if started:  # queued before the lock is let go; nobody needs to wait for it
                    self._submit_to_writer(_rollback_if_open).add_done_callback(_quietly)
                raise
            if started:
                committing = self._submit_to_writer(_commit_or_rollback)
        if committing is not None:
            await committing
            conn.committed()

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

    def note_writes(self, table: str, rows: int) -> None:
        self._statistics.note(table, rows)

    def refresh_statistics(self, table: str) -> None:
        self._statistics.refresh_soon(table)

    async def _analyze(self, table: str) -> int:
        """Refresh the planner's statistics of one table; returns its estimated row count."""

        def run(conn: sqlite3.Connection) -> int:
            conn.execute(f"ANALYZE {table}")
            row = conn.execute(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table.strip('"'),)
            ).fetchone()
            return int(row[0].split()[0]) if row and row[0] else 0

        async with self._write_lock:
            rows = await self._on_writer(run)
        self._statistics_version += 1
        return rows
