"""The embedded database runs short statements on the event loop's own thread (a hand-off to a
thread costs more than they do), but never lets one task hold the loop: a long read moves to a
reader thread, a long run of writes lets other tasks in every few statements, and the
write-ahead log is still checkpointed, off the loop, as commits pile up."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minibase.store import sqlite
from minibase.store.on_the_loop import (
    READ_SLICE,
    RETRY_EVERY,
    SHORT_READ,
    STREAK,
    ReadCosts,
    ReadSlice,
    ReadTooLong,
)
from minibase.store.sqlite import CHECKPOINT_EVERY, CHECKPOINT_ROWS, SQLiteDatabase

# ~0.1-0.3 s of SQLite work on this machine: far past a read's slice on the loop
LONG_READ = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
    " SELECT count(*) FROM n"
)


@pytest.fixture
def db(notes_db: SQLiteDatabase) -> SQLiteDatabase:
    return notes_db


def hold_the_first_copy(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The first checkpoint copies until the test sets `may_finish`; `copying` once it runs."""
    copying, may_finish = threading.Event(), threading.Event()
    checkpoint = sqlite._checkpoint

    def slow_checkpoint(conn: sqlite3.Connection) -> int:
        if not copying.is_set():
            copying.set()
            may_finish.wait(timeout=10)
        return checkpoint(conn)

    monkeypatch.setattr(sqlite, "_checkpoint", slow_checkpoint)
    return copying, may_finish


async def _turns_of_others_while(work: asyncio.Future[object]) -> int:
    """How often another task got the loop while `work` ran."""
    turns = 0
    while not work.done():
        await asyncio.sleep(0)
        turns += 1
    return turns


async def test_a_long_read_moves_off_the_loop_and_still_answers(db: SQLiteDatabase) -> None:
    reading = asyncio.ensure_future(db.fetch_value(LONG_READ))
    await asyncio.sleep(0)  # the read starts on the loop, runs past its slice, moves
    turns = await _turns_of_others_while(reading)
    assert reading.result() == 1_000_000
    assert turns > 10  # held on the loop, the read would have let nobody in until it was done


async def test_a_short_read_answers_on_the_loop_at_once(db: SQLiteDatabase) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO notes (id, text) VALUES (1, 'hi')")
    reading = asyncio.ensure_future(db.fetch_one("SELECT text FROM notes WHERE id = 1"))
    await asyncio.sleep(0)  # one turn of the loop: the read has run, on it
    assert reading.done()
    assert tuple(reading.result() or ()) == ("hi",)


async def test_a_long_run_of_writes_lets_other_tasks_in_every_few_statements(
    db: SQLiteDatabase,
) -> None:
    statements = 10 * STREAK

    async def write() -> None:
        async with db.transaction() as tx:
            for i in range(statements):
                await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", i, "x")

    writing = asyncio.ensure_future(write())
    turns = await _turns_of_others_while(writing)
    writing.result()
    assert await db.fetch_value("SELECT count(*) FROM notes") == statements
    assert turns >= statements // STREAK - 1  # at least once per streak of statements


async def test_a_long_run_of_reads_lets_other_tasks_in_every_few_statements(
    db: SQLiteDatabase,
) -> None:
    async def read() -> None:
        for _ in range(10 * STREAK):
            assert await db.fetch_value("SELECT 1") == 1

    reading = asyncio.ensure_future(read())
    turns = await _turns_of_others_while(reading)
    reading.result()
    assert turns >= 10 - 1  # at least once per streak of statements


async def test_a_task_that_lets_others_in_between_its_reads_keeps_them_on_the_loop(
    db: SQLiteDatabase,
) -> None:
    """A streak ends once the loop has had control: a long-lived task (a socket's, a job's)
    reading now and then never sends a short read to a thread, where it would wait."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.ensure_future(tick())
    try:
        for _ in range(4 * STREAK):
            before = ticks
            assert await db.fetch_value("SELECT 1") == 1
            assert ticks == before  # answered in place: no turn of the loop went by
            await asyncio.sleep(0)  # others have the loop
    finally:
        ticking.cancel()


async def test_the_write_ahead_log_starts_over_as_commits_pile_up(
    db: SQLiteDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "LOG_PAGES", 200)  # 32 MB in production: a quicker test
    wal = tmp_path / "data.db-wal"
    for i in range(6 * CHECKPOINT_EVERY):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", i, "y" * 3000)
    await asyncio.sleep(0.2)  # the last checkpoint
    # each commit adds two pages to the log; checkpointed, it starts again from the top
    # instead of growing by every commit (SQLite's own automatic checkpoint is off here):
    # at most the pages of a few checkpoints' worth of commits, not all six
    pages = wal.stat().st_size // 4096
    assert pages < 3 * CHECKPOINT_EVERY * 2, pages
    assert await db.fetch_value("SELECT count(*) FROM notes") == 6 * CHECKPOINT_EVERY


async def test_writes_go_on_while_a_checkpoint_copies_the_log(
    db: SQLiteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint copies the pages of the log into the database file and syncs it: tens of
    milliseconds under load. It runs on its own connection: no write waits for it."""
    copying, may_finish = hold_the_first_copy(monkeypatch)
    try:
        for i in range(3 * CHECKPOINT_EVERY):  # a checkpoint is due after the first 250
            async with asyncio.timeout(2):
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", i, "w")
        assert copying.is_set()  # every commit but the first 250 came in while it copied
    finally:
        may_finish.set()
    assert await db.fetch_value("SELECT count(*) FROM notes") == 3 * CHECKPOINT_EVERY


def test_a_read_found_long_runs_on_a_thread_and_is_looked_at_again_now_and_then() -> None:
    costs = ReadCosts(has_regex=lambda sql: "regexp(" in sql)
    statement = costs.of("SELECT data FROM t WHERE owner = ? ORDER BY score")
    assert statement.here()  # not known yet: tried on the loop, within its slice
    statement.note(20 * SHORT_READ)
    tries = [statement.here() for _ in range(3 * RETRY_EVERY)]
    assert tries.count(True) == 3  # once in every RETRY_EVERY runs, to see if it got shorter
    for _ in range(20):
        statement.note(SHORT_READ / 10)  # it did (an index, fewer rows)
    assert statement.here()
    assert costs.of("SELECT data FROM t WHERE _id = ?").here()  # others are not affected
    assert costs.of("SELECT data FROM t WHERE owner = ? ORDER BY score") is statement
    assert not costs.of("SELECT data FROM t WHERE regexp(?, title)").here()  # never here


def _counted_to(n: int) -> str:
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})"
        " SELECT count(*) FROM n WHERE pause(i)"
    )


@pytest.fixture
def pauses() -> dict[int, float]:
    """Seconds `pause(i)` sleeps (without using the CPU) at the row i, in `loop_conn`'s SQL."""
    return {}


@pytest.fixture
def loop_conn(pauses: dict[int, float]) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")

    def pause(i: int) -> bool:
        if i in pauses:
            time.sleep(pauses[i])
        return True

    conn.create_function("pause", 1, pause)
    yield conn
    conn.close()


def test_a_read_on_the_loop_is_stopped_once_it_has_used_its_slice(
    loop_conn: sqlite3.Connection,
) -> None:
    reads = ReadSlice(loop_conn)
    started = time.thread_time()
    with pytest.raises(ReadTooLong):
        reads.run(lambda conn: conn.execute(LONG_READ).fetchone())
    assert time.thread_time() - started < 40 * READ_SLICE  # the whole read takes 100-300x
    # the connection serves the next read, stopped again only if it runs as long
    assert reads.run(lambda conn: conn.execute(_counted_to(10)).fetchone())[0] == (10,)


def test_a_read_costs_its_cpu_time_not_its_waits(
    loop_conn: sqlite3.Connection, pauses: dict[int, float]
) -> None:
    """Past the handler's first call a read counts the CPU it used: a wait (here a sleep; on
    the loop, a wait for the GIL) neither stops it nor makes it look long."""
    reads = ReadSlice(loop_conn)
    pauses[190] = 5 * READ_SLICE  # past the handler's first call (500 steps)
    began = time.perf_counter()
    (row,), cost = reads.run(lambda conn: conn.execute(_counted_to(200)).fetchone())
    assert row == 200
    assert time.perf_counter() - began >= 5 * READ_SLICE
    assert cost < 2 * READ_SLICE


def test_a_short_read_that_waits_stays_on_the_loop(
    loop_conn: sqlite3.Connection, pauses: dict[int, float]
) -> None:
    """A read too short for the handler to be called is short by construction: what it waited
    for (here a sleep; on the loop, the GIL or a core) never sends its statement to the
    threads, however often it waits."""
    reads, costs = ReadSlice(loop_conn), ReadCosts(has_regex=lambda sql: False)
    sql = _counted_to(3)
    pauses[2] = 10 * SHORT_READ
    for _ in range(20):
        began = time.perf_counter()
        (row,), cost = reads.run(lambda conn: conn.execute(sql).fetchone())
        assert row == 3
        assert time.perf_counter() - began >= 10 * SHORT_READ
        assert cost < SHORT_READ / 2  # SQLite's handler may come once: the CPU past it
        costs.of(sql).note(cost)
    assert costs.of(sql).here()


async def test_bulk_writes_are_checkpointed_too(
    db: SQLiteDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few big transactions (a bulk load) must not leave the whole table in the log."""
    monkeypatch.setattr(sqlite, "LOG_PAGES", CHECKPOINT_ROWS // 2)
    wal = tmp_path / "data.db-wal"
    for batch in range(6):
        async with db.transaction() as tx:
            for i in range(CHECKPOINT_ROWS):
                row = batch * CHECKPOINT_ROWS + i
                await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", row, "z" * 3000)
    await asyncio.sleep(0.2)  # the last checkpoint
    pages = wal.stat().st_size // 4096
    # the batches written while a copy runs are in the log too, but not all six
    assert pages < 5 * CHECKPOINT_ROWS, pages


async def test_closing_waits_for_a_copy_and_starts_nothing_after_it(
    db: SQLiteDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite, "LOG_PAGES", 1)  # every copy is followed by the writer's step
    copying, may_finish = hold_the_first_copy(monkeypatch)
    for i in range(CHECKPOINT_EVERY):  # the last commit starts a copy
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", i, "c")
    assert await asyncio.to_thread(copying.wait, 10)
    closing = asyncio.ensure_future(db.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # the copy is still running: its connection waits for it
    may_finish.set()
    await closing
    await asyncio.sleep(0.05)
    left = [task for task in asyncio.all_tasks() if "_copy_the_rest" in repr(task)]
    assert left == []
    assert not [r for r in caplog.records if r.name.startswith("minibase.store")]
