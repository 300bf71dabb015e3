"""Write transactions of the embedded database that end in the same turn of the event loop
commit together, with one COMMIT (a COMMIT costs more than a record's INSERT). Each is still
all or nothing on its own, and none is told it is done before its writes are committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from minibase.store.database import DatabaseUnavailable
from minibase.store.sqlite import SQLiteDatabase


@pytest.fixture
def db(notes_db: SQLiteDatabase) -> SQLiteDatabase:
    return notes_db


@contextmanager
def statements_run(db: SQLiteDatabase) -> Iterator[list[str]]:
    """Every statement the writer connection runs meanwhile."""
    seen: list[str] = []
    writer = db._writer
    assert writer is not None
    writer.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        writer.set_trace_callback(None)


def committed_rows(path: Path) -> list[tuple[int, str]]:
    """What another program reading the file sees: committed rows only."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT id, text FROM notes ORDER BY id"))
    finally:
        conn.close()


async def insert(db: SQLiteDatabase, note_id: int, text: str | None = "x") -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO notes (id, text) VALUES (?, ?)", note_id, text)


async def test_transactions_that_end_together_commit_together(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    with statements_run(db) as statements:
        await asyncio.gather(*(insert(db, i) for i in range(20)))
    assert statements.count("COMMIT") == 1
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert len(committed_rows(tmp_path / "data.db")) == 20


async def test_one_transaction_alone_commits_at_once(db: SQLiteDatabase, tmp_path: Path) -> None:
    with statements_run(db) as statements:
        await insert(db, 1)
        # told it is done: another connection sees the row
        assert committed_rows(tmp_path / "data.db") == [(1, "x")]
        await insert(db, 2)
    assert statements.count("COMMIT") == 2


async def test_a_failing_transaction_undoes_only_its_own_writes(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    async def insert_two_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (100, 'a')")
            await tx.execute("INSERT INTO notes (id, text) VALUES (101, 'b')")
            raise ValueError("the hook said no")

    outcomes = await asyncio.gather(
        insert(db, 1),
        insert_two_then_fail(),
        insert(db, 2),
        insert(db, 1, "duplicate"),  # the same primary key as the first: IntegrityViolation
        insert(db, 3, None),  # NOT NULL
        insert(db, 4),
        return_exceptions=True,
    )
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType",
        "ValueError",
        "NoneType",
        "IntegrityViolation",
        "IntegrityViolation",
        "NoneType",
    ]
    assert committed_rows(tmp_path / "data.db") == [(1, "x"), (2, "x"), (4, "x")]


async def test_the_first_transaction_failing_leaves_the_others_theirs(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    async def fail_after_writing() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (7, 'gone')")
            raise ValueError("no")

    first = asyncio.ensure_future(fail_after_writing())
    others = [asyncio.ensure_future(insert(db, i)) for i in (1, 2)]
    with pytest.raises(ValueError, match="no"):
        await first
    await asyncio.gather(*others)
    assert committed_rows(tmp_path / "data.db") == [(1, "x"), (2, "x")]


async def test_if_the_commit_fails_every_transaction_in_it_fails(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    """A transaction that throws away the group's work (here its own ROLLBACK) fails them all:
    none of them is told its writes were kept."""

    async def roll_everything_back() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (50, 'y')")
            await tx.execute("ROLLBACK")

    outcomes = await asyncio.gather(
        insert(db, 1), roll_everything_back(), insert(db, 2), return_exceptions=True
    )
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert isinstance(outcomes[0], DatabaseUnavailable)
    assert committed_rows(tmp_path / "data.db") == []
    await insert(db, 3)  # the next ones are not affected
    assert committed_rows(tmp_path / "data.db") == [(3, "x")]


async def test_a_transaction_cancelled_while_it_waits_for_the_commit_is_committed_all_the_same(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    writes = [asyncio.ensure_future(insert(db, i)) for i in range(5)]
    for _ in range(3):  # each has written and waits for the group's COMMIT
        await asyncio.sleep(0)
    writes[2].cancel()
    await asyncio.gather(*writes, return_exceptions=True)
    assert writes[2].cancelled()
    # it had written and its COMMIT was due: the row is there (as if the client had gone)
    assert [row[0] for row in committed_rows(tmp_path / "data.db")] == [0, 1, 2, 3, 4]


async def test_what_a_transaction_wrote_is_seen_by_the_next_one_in_its_group(
    db: SQLiteDatabase,
) -> None:
    async def count_then_insert(note_id: int) -> int:
        async with db.transaction() as tx:
            seen = int(await tx.fetch_value("SELECT count(*) FROM notes"))
            await tx.execute("INSERT INTO notes (id, text) VALUES (?, 'x')", note_id)
            return seen

    seen = await asyncio.gather(*(count_then_insert(i) for i in range(10)))
    assert seen == list(range(10))  # in order, each after the one before


async def test_statistics_are_refreshed_outside_any_group(db: SQLiteDatabase) -> None:
    writing = [asyncio.ensure_future(insert(db, i)) for i in range(5)]
    await asyncio.sleep(0)
    rows = await db._analyze("notes")
    await asyncio.gather(*writing)
    assert rows in (0, 5)  # before or after the group; never inside it, never blocked
    assert await db.fetch_value("SELECT count(*) FROM notes") == 5


async def test_another_process_holding_the_file_never_stops_the_event_loop(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    """Two servers on one file: while one writes, the other's writes wait on its writer thread
    (a few retries apart), never in SQLite's busy wait on the loop's thread."""
    other = SQLiteDatabase(tmp_path / "data.db")
    await other.open()
    try:
        holding = asyncio.Event()

        async def hold_the_file() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO notes (id, text) VALUES (1, 'first')")
                holding.set()
                await asyncio.sleep(0.2)  # e.g. a hook that calls a platform

        first = asyncio.ensure_future(hold_the_file())
        await holding.wait()
        second = asyncio.ensure_future(insert(other, 2))
        turns = await _turns_of_others_while(second)
        await first
        assert turns > 20  # the loop kept serving meanwhile
        assert committed_rows(tmp_path / "data.db") == [(1, "first"), (2, "x")]
    finally:
        await other.close()


async def _turns_of_others_while(work: asyncio.Future[None]) -> int:
    turns = 0
    while not work.done():
        await asyncio.sleep(0.001)
        turns += 1
    work.result()
    return turns


LOG = "INSERT INTO log (note_id, kind)"


async def insert_and_log(db: SQLiteDatabase, note_id: int, *, fail: bool = False) -> None:
    """A note, and a row for the log written at commit (as the change log is)."""
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO notes (id, text) VALUES (?, 'x')", note_id)
        tx.add_at_commit(LOG, (note_id, "insert"))
        if fail:
            raise ValueError("the hook said no")


def logged(path: Path) -> list[tuple[int, int, str]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT seq, note_id, kind FROM log ORDER BY seq"))
    finally:
        conn.close()


async def test_rows_written_at_commit_go_in_one_statement_for_the_group_in_its_order(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "CREATE TABLE log (seq INTEGER PRIMARY KEY, note_id INTEGER NOT NULL, kind TEXT)"
        )
    outcomes = []
    with statements_run(db) as statements:
        writes = [insert_and_log(db, i, fail=i == 3) for i in range(10)]
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert [isinstance(outcome, ValueError) for outcome in outcomes] == [i == 3 for i in range(10)]
    # written once, outside the members' savepoints, just before the one COMMIT
    inserts = [s for s in statements if s.startswith(LOG)]
    assert len(inserts) == 1, inserts
    assert statements.index(inserts[0]) == statements.index("COMMIT") - 1
    assert statements.count("COMMIT") == 1
    # numbered in the order the transactions ended; none for the one that failed
    kept = [i for i in range(10) if i != 3]
    assert [row[1] for row in logged(tmp_path / "data.db")] == kept
    assert [row[0] for row in committed_rows(tmp_path / "data.db")] == kept


async def test_rows_written_at_commit_are_lost_with_a_commit_that_fails(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, note_id INTEGER NOT NULL)")

    async def log_a_kind_the_table_lacks() -> None:  # its row makes the group's INSERT fail
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, text) VALUES (9, 'x')")
            tx.add_at_commit("INSERT INTO log (note_id, missing)", (9, "x"))

    outcomes = await asyncio.gather(
        insert(db, 1), log_a_kind_the_table_lacks(), insert(db, 2), return_exceptions=True
    )
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert committed_rows(tmp_path / "data.db") == []
    assert logged_count(tmp_path / "data.db") == 0
    await insert(db, 3)  # the next group is not affected
    assert committed_rows(tmp_path / "data.db") == [(3, "x")]


def logged_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM log").fetchone()[0])
    finally:
        conn.close()


async def test_a_transaction_with_only_rows_to_write_at_commit_writes_them(
    db: SQLiteDatabase, tmp_path: Path
) -> None:
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, note_id INTEGER NOT NULL)")
    async with db.transaction() as tx:
        tx.add_at_commit("INSERT INTO log (note_id)", (5,))
    assert logged_count(tmp_path / "data.db") == 1
