"""Across processes: on PostgreSQL a committed enqueue wakes the workers of every other
process at once (LISTEN/NOTIFY); a rolled-back one wakes nobody; a dropped listening
connection comes back. SQLite has no channel, and its relay is a no-op (processes poll)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from minibase.clock import FrozenClock
from minibase.ids import IdGenerator
from minibase.jobs import JobQueue
from minibase.jobs.notifications import relay_notifications
from minibase.store import notifications
from minibase.store.database import Database
from minibase.store.postgres import PostgresDatabase
from minibase.store.sqlite import SQLiteDatabase
from minibase.testing import postgres


@pytest.fixture
async def two_processes(
    _postgres_template: None, clock: FrozenClock
) -> AsyncIterator[tuple[JobQueue, JobQueue]]:
    """Two queues on one PostgreSQL database, each on its own pool, as two processes have."""
    if "postgres" not in os.environ.get("MINIBASE_TEST_BACKENDS", "postgres"):
        pytest.skip("PostgreSQL is not among MINIBASE_TEST_BACKENDS")
    name = await postgres.clone_database()
    opened: list[PostgresDatabase] = []
    try:
        for _ in range(2):
            db = PostgresDatabase(postgres.url_for(name), pool_size=2)
            await db.open()
            opened.append(db)
        queues = [JobQueue(db, clock, IdGenerator(clock)) for db in opened]
        yield queues[0], queues[1]
    finally:
        for db in opened:
            await db.close()
        await postgres.drop_database(name)


@pytest.fixture
def queue(two_processes: tuple[JobQueue, JobQueue]) -> JobQueue:
    return two_processes[0]


@pytest.fixture
def other_process(two_processes: tuple[JobQueue, JobQueue]) -> JobQueue:
    return two_processes[1]


async def _listening(queue: JobQueue, stop: asyncio.Event) -> asyncio.Task[None]:
    """The relay, once it listens (it wakes the workers when it starts, for what it missed)."""
    with queue.wakeups() as wakeup:
        task = asyncio.create_task(relay_notifications(queue.db, queue, stop))
        await asyncio.wait_for(wakeup.wait(), 10)
    return task


@pytest.fixture
async def relaying(other_process: JobQueue) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = await _listening(other_process, stop)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _woken(queue: JobQueue, action: Awaitable[object], seconds: float) -> bool:
    with queue.wakeups() as wakeup:
        await action
        try:
            await asyncio.wait_for(wakeup.wait(), seconds)
        except TimeoutError:
            return False
        return True


@pytest.mark.usefixtures("relaying")
async def test_a_committed_enqueue_wakes_the_workers_of_another_process(
    queue: JobQueue, other_process: JobQueue
) -> None:
    assert await _woken(other_process, queue.enqueue("mail.send"), seconds=2)


@pytest.mark.usefixtures("relaying")
async def test_a_rolled_back_enqueue_wakes_nobody(queue: JobQueue, other_process: JobQueue) -> None:
    db: Database = queue.db

    async def enqueue_then_fail() -> None:
        try:
            async with db.transaction() as conn:
                await queue.enqueue("mail.send", conn=conn)
                raise RuntimeError("the caller's write failed")
        except RuntimeError:
            pass

    assert not await _woken(other_process, enqueue_then_fail(), seconds=0.5)


async def test_the_relay_reconnects_when_its_connection_drops(
    queue: JobQueue, other_process: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "RECONNECT_AFTER", 0.1)
    stop = asyncio.Event()
    task = await _listening(other_process, stop)
    try:
        with other_process.wakeups() as back:
            killed = await other_process.db.fetch_value(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                " AND pid <> pg_backend_pid()"
            )
            assert killed == 1
            await asyncio.wait_for(back.wait(), 10)  # noticed, paused, listening again
        assert await _woken(other_process, queue.enqueue("mail.send"), seconds=2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_sqlite_has_no_channel_and_relays_nothing(tmp_path: Path, clock: FrozenClock) -> None:
    db = SQLiteDatabase(tmp_path / "data.db")
    await db.open()
    try:
        stop = asyncio.Event()  # never set: the relay must return by itself
        queue = JobQueue(db, clock, IdGenerator(clock))
        await asyncio.wait_for(relay_notifications(db, queue, stop), 1)
    finally:
        await db.close()
