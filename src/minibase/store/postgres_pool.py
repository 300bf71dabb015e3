"""PostgreSQL connections, at most `size` open, lent to one task at a time.

asyncpg's own pool spends ~20 µs of Python on each loan (a queue, a timeout context, a
proxy object, and a task a return through `asyncio.shield`): a quarter of a get by id's time
in the process. Here a loan and a return are list operations while a connection is idle, and
the return is not awaited at all: a connection that comes back busy (its statement was
cancelled, or a transaction left open) is settled by a task of the pool's, off the caller's
path, and lent again only once it is clean.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg

log = logging.getLogger("minibase.store")

Connect = Callable[[], Awaitable["asyncpg.Connection[Any]"]]

_CLOSE_WAIT = 10.0  # seconds close() waits for lent connections to come back


def _cancelling(conn: asyncpg.Connection[Any]) -> bool:
    """Its statement was cancelled and the server has not yet confirmed (asyncpg's own pool
    asks the protocol the same; there is no public call)."""
    return bool(cast(Any, conn)._protocol._is_cancelling())


class PoolClosed(Exception):
    """The pool was closed: no connection is lent any more."""


class ConnectionPool:
    def __init__(self, connect: Connect, size: int) -> None:
        self._connect = connect
        self.size = size
        self._idle: list[asyncpg.Connection[Any]] = []
        self._lent: set[asyncpg.Connection[Any]] = set()
        self._opening = 0
        # waiters for a connection; woken with one, or with None to try again (a place freed)
        self._waiters: deque[asyncio.Future[asyncpg.Connection[Any] | None]] = deque()
        self._settling: set[asyncio.Task[None]] = set()
        self._returned = asyncio.Event()
        self._closed = False

    @property
    def opened(self) -> int:
        return len(self._idle) + len(self._lent) + self._opening

    @property
    def in_use(self) -> int:
        return len(self._lent)

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def open(self) -> None:
        """Opens the first connection, so that a server that cannot be reached is known now."""
        self.release(await self.acquire())

    async def acquire(self) -> asyncpg.Connection[Any]:
        while True:
            if self._closed:
                raise PoolClosed("the PostgreSQL pool is closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    self._lent.add(conn)
                    return conn
            if self.opened < self.size:
                return await self._open_one()
            waiter: asyncio.Future[asyncpg.Connection[Any] | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # woken as the caller went away
                    late = waiter.result()
                    if late is None:
                        self._wake()  # the place freed is the next waiter's
                    else:
                        self._lent.discard(late)
                        self._give(late)
                raise
            if handed is not None:
                return handed

    async def _open_one(self) -> asyncpg.Connection[Any]:
        self._opening += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._opening -= 1
            self._wake()  # a waiter may try in our place
            raise
        self._opening -= 1
        if self._closed:
            conn.terminate()
            raise PoolClosed("the PostgreSQL pool is closed")
        self._lent.add(conn)
        return conn

    def release(self, conn: asyncpg.Connection[Any]) -> None:
        """Takes back a lent connection. Not awaited: it never blocks the caller."""
        if conn not in self._lent:
            return  # returned twice, or lent before a close
        if conn.is_closed() or self._closed:
            self._lent.discard(conn)
            self._drop(conn)
            return
        if _cancelling(conn) or conn.is_in_transaction():
            task = asyncio.get_running_loop().create_task(self._settle(conn))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
            return
        self._lent.discard(conn)
        self._give(conn)

    async def _settle(self, conn: asyncpg.Connection[Any]) -> None:
        """A connection returned mid-statement (its caller was cancelled) or mid-transaction:
        wait out the server's cancellation, roll back, then lend it again; closed on failure."""
        try:
            if _cancelling(conn):
                await cast(Any, conn)._protocol._wait_for_cancellation(None)
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except (Exception, asyncio.CancelledError) as exc:
            log.warning("a PostgreSQL connection could not be reset, closed: %s", exc)
            self._lent.discard(conn)
            self._drop(conn)
            return
        self._lent.discard(conn)
        if self._closed:
            self._drop(conn)
        else:
            self._give(conn)

    def _give(self, conn: asyncpg.Connection[Any]) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._lent.add(conn)
                waiter.set_result(conn)
                return
        self._idle.append(conn)
        self._returned.set()

    def _drop(self, conn: asyncpg.Connection[Any]) -> None:
        conn.terminate()
        self._returned.set()
        self._wake()

    def _wake(self) -> None:
        """A place in the pool freed: the first waiter opens a connection of its own."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """No more loans; idle connections closed now, lent ones when they come back (after
        `_CLOSE_WAIT` seconds they are cut)."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # wakes to find the pool closed
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.close(timeout=5)
            except (Exception, asyncio.CancelledError):
                conn.terminate()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_WAIT
        while (self._lent or self._settling) and loop.time() < deadline:
            self._returned.clear()
            try:
                await asyncio.wait_for(self._returned.wait(), deadline - loop.time())
            except TimeoutError:
                break
        for conn in list(self._lent):
            conn.terminate()
        self._lent.clear()
