"""The processes on one SQLite file take turns at writing through a lock file beside it: the
one that waits sleeps until the other lets go, gives up after its timeout, and a process that
dies lets go with it. (Two WriteTurns in one process conflict as two processes do: the lock
belongs to an open file.)"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from minibase.store.sqlite import SQLiteDatabase
from minibase.store.write_turns import WriteTurns


def turns(tmp_path: Path, timeout: float = 5.0) -> WriteTurns:
    return WriteTurns(tmp_path / "data.db", timeout)


def take_in_background(waiting: WriteTurns) -> tuple[threading.Thread, list[bool]]:
    taken: list[bool] = []
    thread = threading.Thread(target=lambda: taken.append(waiting.take(wait=True)))
    thread.start()
    return thread, taken


def test_one_process_at_a_time_and_the_next_as_soon_as_it_lets_go(tmp_path: Path) -> None:
    first, second = turns(tmp_path), turns(tmp_path)
    try:
        assert first.take(wait=False)
        assert not second.take(wait=False)
        thread, taken = take_in_background(second)
        thread.join(0.2)
        assert thread.is_alive()  # still waiting: the first holds the turn
        first.give_back()
        thread.join(5)
        assert taken == [True]
        assert second.held
        assert not first.take(wait=False)
    finally:
        first.close()
        second.close()


def test_a_wait_given_up_lets_go_of_the_turn_once_it_comes(tmp_path: Path) -> None:
    holder, impatient, later = turns(tmp_path), turns(tmp_path, timeout=0.1), turns(tmp_path)
    try:
        assert holder.take(wait=False)
        assert not impatient.take(wait=True)  # gave up after 0.1 s
        assert not impatient.held
        holder.give_back()
        # the wait given up gets the lock in the background and lets go of it at once
        thread, taken = take_in_background(later)
        thread.join(5)
        assert taken == [True]
    finally:
        for each in (holder, impatient, later):
            each.close()


def test_a_process_that_dies_holding_the_turn_lets_go(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from minibase.store.write_turns import WriteTurns;"
            f"t = WriteTurns(Path({str(tmp_path / 'data.db')!r}), 5); t.take(wait=True);"
            "print('holding', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    waiting = turns(tmp_path)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        assert not waiting.take(wait=False)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert waiting.take(wait=True)
    finally:
        holder.kill()
        waiting.close()


async def test_a_program_writing_without_the_turn_is_still_waited_for(
    notes_db: SQLiteDatabase, tmp_path: Path
) -> None:
    """The sqlite3 shell, or any other program, knows nothing of the lock file: BEGIN
    IMMEDIATE's retries wait for it."""
    other = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO notes (id, text) VALUES (1, 'shell')")
        writing = asyncio.ensure_future(_insert(notes_db, 2))
        await asyncio.sleep(0.2)
        assert not writing.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
    finally:
        other.close()
    assert await notes_db.fetch_all("SELECT id FROM notes ORDER BY id") == [(1,), (2,)]


async def test_two_servers_writing_one_file_at_once_lose_nothing(
    notes_db: SQLiteDatabase, tmp_path: Path
) -> None:
    other = SQLiteDatabase(tmp_path / "data.db")
    await other.open()
    try:
        await asyncio.gather(
            *(_insert(notes_db, i) for i in range(0, 400, 2)),
            *(_insert(other, i) for i in range(1, 400, 2)),
        )
    finally:
        await other.close()
    assert await notes_db.fetch_value("SELECT count(*) FROM notes") == 400
    assert notes_db._writer is not None
    assert notes_db._writer.turns is not None
    assert not notes_db._writer.turns.held  # let go between transactions


async def _insert(db: SQLiteDatabase, note_id: int) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO notes (id, text) VALUES (?, 'x')", note_id)
