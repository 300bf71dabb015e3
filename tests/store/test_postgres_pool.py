"""PostgreSQL's connections are lent one task at a time, at most `postgres_pool_size` open; a
connection comes back clean whatever its borrower did with it (cancelled mid-statement, left a
transaction open, lost it to the server), and a closed pool lends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from minibase.config import Settings
from minibase.store.database import DatabaseUnavailable
from minibase.store.postgres import PostgresDatabase
from minibase.store.postgres_pool import ConnectionPool, PoolClosed

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

SIZE = 3


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[PostgresDatabase]:
    assert settings.database_url is not None
    opened = PostgresDatabase(settings.database_url, pool_size=SIZE)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[ConnectionPool]:
    url = settings.database_url
    assert url is not None
    opened = ConnectionPool(lambda: asyncpg.connect(url), SIZE)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _backend(db: PostgresDatabase) -> int:
    pid: int = await db.fetch_value("SELECT pg_backend_pid()")
    return pid


async def test_many_readers_share_at_most_the_pool_size_of_connections(
    db: PostgresDatabase,
) -> None:
    async def read(i: int) -> int:
        value: int = await db.fetch_value("SELECT ?::int FROM pg_sleep(0.01)", i)
        return value

    assert await asyncio.gather(*(read(i) for i in range(40))) == list(range(40))
    stats = db.pool_stats()
    assert (stats.open, stats.in_use, stats.waiting) == (SIZE, 0, {"connection": 0})
    backends = await db.fetch_value(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    )
    assert backends == SIZE


async def test_a_reader_cancelled_mid_statement_leaves_a_clean_connection(
    db: PostgresDatabase,
) -> None:
    sleeping = asyncio.create_task(db.fetch_value("SELECT pg_sleep(30)"))
    await asyncio.sleep(0.2)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    # every connection answers at once: none is still busy with the cancelled sleep
    answers = await asyncio.wait_for(
        asyncio.gather(*(db.fetch_value("SELECT 1") for _ in range(SIZE * 4))), timeout=5
    )
    assert answers == [1] * (SIZE * 4)
    assert db.pool_stats().open <= SIZE
    sleepers = await db.fetch_value(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
        " AND state = 'active'"
    )
    assert sleepers == 0


async def test_a_transaction_left_open_is_rolled_back_before_the_connection_is_lent_again(
    pool: ConnectionPool,
) -> None:
    conn = await pool.acquire()
    await conn.execute("CREATE TEMP TABLE IF NOT EXISTS kept (n int)")
    await conn.execute("BEGIN")
    await conn.execute("INSERT INTO kept VALUES (1)")
    pool.release(conn)
    again = [await pool.acquire() for _ in range(SIZE)]
    assert conn in again, "the same connection, once settled"
    assert not conn.is_in_transaction()
    assert await conn.fetchval("SELECT count(*) FROM kept") == 0
    for each in again:
        pool.release(each)


async def test_a_connection_the_server_ended_is_not_lent_again(db: PostgresDatabase) -> None:
    async with db.reader() as other:  # holds one connection: the read below takes another
        ended = await _backend(db)
        await other.fetch_value("SELECT pg_terminate_backend(?)", ended)
    await asyncio.sleep(0.2)  # the server's goodbye arrives on the idle connection
    seen = {await _backend(db) for _ in range(SIZE * 3)}
    assert ended not in seen
    assert db.pool_stats().open <= SIZE


async def test_a_full_pool_makes_the_next_borrower_wait_for_a_return(
    pool: ConnectionPool,
) -> None:
    lent = [await pool.acquire() for _ in range(SIZE)]
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    pool.release(lent[0])
    assert await asyncio.wait_for(waiting, timeout=1) is lent[0]
    assert (pool.opened, pool.in_use) == (SIZE, SIZE)
    for conn in lent:
        pool.release(conn)
    assert pool.in_use == 0


async def test_a_borrower_that_goes_away_as_it_is_handed_a_connection_gives_it_back(
    pool: ConnectionPool,
) -> None:
    lent = [await pool.acquire() for _ in range(SIZE)]
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    pool.release(lent[0])  # handed to the waiter, which has not run yet
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.in_use == SIZE - 1
    assert await asyncio.wait_for(pool.acquire(), timeout=1) is lent[0]
    for conn in lent:
        pool.release(conn)


async def test_a_place_freed_for_a_borrower_that_went_away_is_the_next_ones(
    pool: ConnectionPool,
) -> None:
    lent = [await pool.acquire() for _ in range(SIZE)]
    first = asyncio.create_task(pool.acquire())
    second = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    lent[0].terminate()  # lost: its place is freed, and the first waiter told to open one
    pool.release(lent[0])
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    conn = await asyncio.wait_for(second, timeout=5)
    assert await conn.fetchval("SELECT 1") == 1
    for each in (conn, *lent[1:]):
        pool.release(each)


async def test_a_failed_connect_lets_a_waiter_try_in_its_place(settings: Settings) -> None:
    url = settings.database_url
    assert url is not None
    failures = 1

    async def connect() -> asyncpg.Connection:
        nonlocal failures
        if failures:
            failures -= 1
            await asyncio.sleep(0.05)
            raise OSError("connection refused")
        return await asyncpg.connect(url)

    pool = ConnectionPool(connect, 1)
    try:
        first = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        second = asyncio.create_task(pool.acquire())
        with pytest.raises(OSError, match="refused"):
            await first
        conn = await asyncio.wait_for(second, timeout=5)
        assert await conn.fetchval("SELECT 1") == 1
        pool.release(conn)
    finally:
        await pool.close()


async def test_a_closed_pool_lends_nothing_and_closes_what_comes_back(
    pool: ConnectionPool,
) -> None:
    lent = [await pool.acquire() for _ in range(SIZE)]
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(pool.close())
    with pytest.raises(PoolClosed):
        await waiting
    for conn in lent:
        pool.release(conn)
    await asyncio.wait_for(closing, timeout=5)
    assert all(conn.is_closed() for conn in lent)
    with pytest.raises(PoolClosed):
        await pool.acquire()


async def test_a_closed_database_is_unavailable(db: PostgresDatabase) -> None:
    await db.close()
    with pytest.raises(DatabaseUnavailable):
        await db.fetch_value("SELECT 1")
