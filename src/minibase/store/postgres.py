"""The scale-out engine: PostgreSQL through an asyncpg pool.

SQL arrives with `?` placeholders (shared with SQLite) and is rewritten to `$n` once per
distinct statement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, TypeAlias, TypeVar

import asyncpg

from minibase.client_json import nul_character
from minibase.store.database import (
    REGEX_BUDGET,
    CommitCallbacks,
    DatabaseUnavailable,
    IntegrityViolation,
    NumberOutOfRange,
    PoolStats,
    Row,
    TimeBudgetSpent,
    regex_budget_spent,
)
from minibase.store.dialect import POSTGRES, Dialect
from minibase.store.postgres_pool import ConnectionPool, PoolClosed
from minibase.store.statistics import TableStatistics

T = TypeVar("T")
log = logging.getLogger("minibase.store")

_UNAVAILABLE = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    TimeoutError,
)
# PostgreSQL's refusals of the NUL character in text (a parameter) and in jsonb (\u0000)
_NUL = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """`?` placeholders to `$1, $2, ...`, leaving quoted text alone."""
    out: list[str] = []
    count = 0
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


AnyConnection: TypeAlias = "asyncpg.Connection[Any]"


def _statement(
    conn: AnyConnection,
    regex_budget: float,
    method: Callable[..., Awaitable[T]],
    sql: str,
    params: Sequence[Any],
) -> Awaitable[T]:
    """`method` (conn.fetch, conn.execute ...) on the statement, held to the regex budget if
    it does $regex work."""
    if POSTGRES.has_regex(sql):
        return _within_budget(conn, regex_budget, method, numbered(sql), params)
    return method(numbered(sql), *params)


async def _within_budget(
    conn: AnyConnection,
    regex_budget: float,
    method: Callable[..., Awaitable[T]],
    sql: str,
    params: Sequence[Any],
    spent: Callable[[float], Exception] = regex_budget_spent,
) -> T:
    """PostgreSQL's regex engine does not backtrack like Python's, but some patterns (nested
    counted repeats) still take it seconds: the server stops the statement at the budget.
    Inside a caller's transaction this is a savepoint, which keeps that transaction usable."""
    nested = conn.is_in_transaction()
    try:
        async with conn.transaction():
            await conn.execute(
                f"SET LOCAL statement_timeout = {max(1, round(regex_budget * 1000))}"
            )
            result = await method(sql, *params)
            if nested:  # SET LOCAL outlives a savepoint: restore the session value
                await conn.execute("SET LOCAL statement_timeout = DEFAULT")
            return result
    except asyncpg.exceptions.QueryCanceledError as exc:
        raise spent(regex_budget) from exc


_TRANSLATED = (asyncpg.exceptions.UniqueViolationError, *_NUL, *_UNAVAILABLE)


def _translate(exc: BaseException) -> Exception:
    """The driver's error as the store's (one of _TRANSLATED)."""
    if isinstance(exc, asyncpg.exceptions.UniqueViolationError):
        return IntegrityViolation(str(exc), exc.constraint_name)
    if isinstance(exc, _NUL):  # what the edge lets through, e.g. a function's own string
        return nul_character("")
    return DatabaseUnavailable(str(exc))


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except _TRANSLATED as exc:
        raise _translate(exc) from exc


class PostgresConnection(CommitCallbacks):
    dialect: Dialect = POSTGRES

    def __init__(self, conn: AnyConnection, regex_budget: float = REGEX_BUDGET) -> None:
        self._conn = conn
        self._regex_budget = regex_budget

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        row: Row | None = await _guard(
            _statement(self._conn, self._regex_budget, self._conn.fetchrow, sql, params)
        )
        return row

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        rows: list[Row] = await _guard(
            _statement(self._conn, self._regex_budget, self._conn.fetch, sql, params)
        )
        return rows

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        return await _guard(
            _statement(self._conn, self._regex_budget, self._conn.fetchval, sql, params)
        )

    async def execute(self, sql: str, *params: Any) -> int:
        status: str = await _guard(
            _statement(self._conn, self._regex_budget, self._conn.execute, sql, params)
        )
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def execute_script(self, statements: Sequence[str]) -> None:
        for statement in statements:
            await _guard(self._conn.execute(statement))


class PostgresDatabase:
    dialect: Dialect = POSTGRES

    def __init__(self, url: str, pool_size: int = 10, regex_budget: float = REGEX_BUDGET) -> None:
        self.url = url
        self._pool_size = pool_size
        self._regex_budget = regex_budget
        self._pool: ConnectionPool | None = None
        self._statistics = TableStatistics(self._analyze)

    async def open(self) -> None:
        pool = ConnectionPool(self._connect, self._pool_size)
        try:
            await pool.open()
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        self._pool = pool

    def _connect(self) -> Awaitable[asyncpg.Connection[Any]]:
        return asyncpg.connect(self.url, command_timeout=30)

    async def close(self) -> None:
        await self._statistics.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise DatabaseUnavailable("database is closed")
        return self._pool

    async def _acquire(self) -> asyncpg.Connection[Any]:
        """A pooled connection; any failure to get one (the server down, refusing connections,
        the database gone) is the database being unavailable, not a query error."""
        try:
            return await self.pool.acquire()
        except (*_UNAVAILABLE, PoolClosed, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        pool = self.pool
        conn = await self._acquire()
        connection = PostgresConnection(conn, self._regex_budget)
        try:
            async with conn.transaction():
                yield connection
                await _guard(connection.committing())
        finally:
            pool.release(conn)
        connection.committed()

    @asynccontextmanager
    async def listening(
        self, channel: str, callback: Callable[[], None]
    ) -> AsyncIterator[asyncio.Event]:
        """LISTEN on a connection of its own (not the pool's): `callback` runs for every
        NOTIFY on `channel`. Yields an event set if the connection is lost."""
        try:
            conn = await asyncpg.connect(self.url, timeout=10)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await _guard(conn.add_listener(channel, lambda *_: callback()))
            yield lost
        finally:
            if not conn.is_closed():
                await conn.close(timeout=5)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[PostgresConnection]:
        pool = self.pool
        conn = await self._acquire()
        try:
            yield PostgresConnection(conn, self._regex_budget)
        finally:
            pool.release(conn)

    async def _pooled(self, method: str, sql: str, params: Sequence[Any]) -> Any:
        """One statement through `method` ("fetchrow" ...) of a pooled connection."""
        pool = self.pool
        conn = await self._acquire()
        try:
            return await _statement(conn, self._regex_budget, getattr(conn, method), sql, params)
        except _TRANSLATED as exc:  # _guard's, without a coroutine more a read
            raise _translate(exc) from exc
        finally:
            pool.release(conn)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        row: Row | None = await self._pooled("fetchrow", sql, params)
        return row

    async def fetch_all_within(self, seconds: float, sql: str, *params: Any) -> list[Row]:
        pool = self.pool
        conn = await self._acquire()
        try:
            rows: list[Row] = await _within_budget(
                conn, seconds, conn.fetch, numbered(sql), params, TimeBudgetSpent
            )
            return rows
        except asyncpg.exceptions.NumericValueOutOfRangeError as exc:
            raise NumberOutOfRange(str(exc)) from exc
        except _TRANSLATED as exc:
            raise _translate(exc) from exc
        finally:
            pool.release(conn)

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        rows: list[Row] = await self._pooled("fetch", sql, params)
        return rows

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        return await self._pooled("fetchval", sql, params)

    async def ping(self) -> None:
        await self.fetch_value("SELECT 1")

    def pool_stats(self) -> PoolStats:
        pool = self._pool
        if pool is None:
            return PoolStats(self._pool_size, 0, 0, {})
        return PoolStats(self._pool_size, pool.opened, pool.in_use, {"connection": pool.waiting})

    def note_writes(self, table: str, rows: int) -> None:
        self._statistics.note(table, rows)

    def refresh_statistics(self, table: str) -> None:
        """Statistics of a new expression index come only from ANALYZE (not CREATE INDEX)."""
        self._statistics.refresh_soon(table)

    async def _analyze(self, table: str) -> int:
        """Refresh the planner's statistics of one table; returns its estimated row count."""
        async with self.reader() as conn:
            await conn.execute(f"ANALYZE {table}")
            rows = await conn.fetch_value(
                "SELECT reltuples FROM pg_class WHERE oid = ?::regclass", table
            )
        return max(0, int(rows or 0))
