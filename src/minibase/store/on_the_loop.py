"""Short SQLite work run on the event loop's own thread, where a hand-off to a thread and back
would cost more than the work itself.

A statement of the embedded database takes tens of microseconds; sending it to a thread and
waking the loop with its answer takes more, twice per statement. So a statement runs here, in
place, when that is safe and short:

- a write statement or COMMIT when nothing is queued for the writer thread (so the writer
  connection is never used by two threads at once, and statements keep their order); work that
  may be long (ANALYZE, checkpoints, $regex) always goes to the thread;
- a read whose statement has been short (under `SHORT_READ`, on average, when last run here),
  with a time slice: past `READ_SLICE` it is interrupted and run again on a reader thread
  (reads change nothing, so running one again is safe), so that a slow list never holds up the
  loop for longer than that. A longer read is better on a thread: SQLite lets go of the GIL
  while it works, so the loop serves other requests meanwhile, on another core;
- at most `STREAK` statements of one task in a row, without another task having had the loop:
  a bulk write or a loop of reads goes through a thread now and then, letting other requests in.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
C = TypeVar("C", bound=sqlite3.Connection)

STREAK = 32  # statements run here in a row, at most, before the loop must have had control
READ_SLICE = 0.001  # seconds of CPU a read may use here before it moves to a reader thread
SHORT_READ = 0.0003  # seconds of CPU: a read that takes longer, on average, runs on a thread
RETRY_EVERY = 64  # a statement found long is tried here again once in so many runs
_KNOWN_STATEMENTS = 2000  # past this many statement texts, what was learned is forgotten
_PROGRESS_STEPS = 500  # SQLite virtual-machine steps between two looks at the clock


class LoopTurns:
    """Counts the statements one task has run on the loop without letting another task in."""

    def __init__(self) -> None:
        self._streak = 0
        self._task: asyncio.Task[object] | None = None
        self._reset_pending = False

    def take(self) -> bool:
        """May one more statement of the current task run here now?"""
        task = asyncio.current_task()
        if task is not self._task:  # another task has had the loop since: a new streak
            self._task, self._streak = task, 0
        if self._streak >= STREAK:
            return False
        if not self._reset_pending:  # runs once the loop has control again
            self._reset_pending = True
            asyncio.get_running_loop().call_soon(self._reset)
        self._streak += 1
        return True

    def _reset(self) -> None:
        self._streak, self._task, self._reset_pending = 0, None, False


class ReadCosts:
    """How long each read statement (by its text) took when it last ran here, smoothed."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def short(self, sql: str) -> bool:
        """Run it here? Yes if short or not yet known; a long one now and then, to look again."""
        if self._seconds.get(sql, 0.0) < SHORT_READ:
            return True
        skipped = self._skipped.get(sql, 0) + 1
        self._skipped[sql] = 0 if skipped >= RETRY_EVERY else skipped
        return skipped >= RETRY_EVERY

    def note(self, sql: str, seconds: float) -> None:
        if len(self._seconds) >= _KNOWN_STATEMENTS and sql not in self._seconds:
            self._seconds.clear()
            self._skipped.clear()
        before = self._seconds.get(sql)
        self._seconds[sql] = seconds if before is None else 0.7 * before + 0.3 * seconds


class ReadTooLong(Exception):
    """A read ran past its slice on the loop and was stopped: run it on a reader thread."""


def read_briefly(conn: C, work: Callable[[C], T]) -> tuple[T, float]:
    """Run a read's work on `conn`: its result and the CPU time it took, or ReadTooLong once
    it has used READ_SLICE of this thread's CPU time. CPU time, not the wall clock: SQLite
    lets go of the GIL while it works, and this handler (Python) may wait for it to come
    back, which is not the read's cost."""
    started = time.thread_time()
    deadline = started + READ_SLICE
    stopped = False

    def past_deadline() -> bool:
        nonlocal stopped
        stopped = time.thread_time() >= deadline
        return stopped

    conn.set_progress_handler(past_deadline, _PROGRESS_STEPS)
    try:
        result = work(conn)
        return result, time.thread_time() - started
    except sqlite3.OperationalError as exc:
        if stopped:
            raise ReadTooLong from exc
        raise
    finally:
        conn.set_progress_handler(None, 0)


def settled(
    work: Callable[[], T], raising: type[Exception] | tuple[type[Exception], ...] = ()
) -> asyncio.Future[T]:
    """Run `work` now, here: a future already holding its result or its error (the errors
    of type `raising` are raised here instead: the work could not be done here)."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    try:
        future.set_result(work())
    except raising:
        raise
    except Exception as exc:  # handed to the awaiting task, as a thread's error would be
        future.set_exception(exc)
    return future
