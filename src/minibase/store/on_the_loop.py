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
from typing import Generic, TypeVar

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


class ReadSlice(Generic[C]):
    """Runs reads on the loop's own connection, each within its slice: its result and what it
    cost, or ReadTooLong once it has used READ_SLICE of this thread's CPU time.

    The progress handler is set once, for the connection's life: setting and clearing it for
    each read, and reading this thread's CPU clock before and after (a system call each, where
    the wall clock is not), cost more than a get by id's statement itself. So the CPU clock is
    read only by the handler, which SQLite calls every `_PROGRESS_STEPS` steps (counted over
    the runs of a statement, so once in a few gets by id). What a read does before that call is
    short by construction: it counts its wall time, but at most half SHORT_READ, so a read that
    ends before the call (a get by id) never sends its statement to the threads. Its wall time
    may hold a wait for the GIL (SQLite lets go of it while it works) or for a core (another
    process ran), which are not the read's cost: counted, under load they sent a few gets by id
    in a hundred to the threads, where a hand-off costs more than the read. Past the first call,
    the read counts the CPU time it used, for the same reason."""

    def __init__(self, conn: C) -> None:
        self._conn = conn
        self._started = 0.0  # the read's start, on the wall clock
        self._cpu_from: float | None = None  # the CPU clock at the handler's first call
        self._wall_before = 0.0  # wall time from the start to that call
        self._stopped = False
        conn.set_progress_handler(self._past_slice, _PROGRESS_STEPS)

    def _past_slice(self) -> bool:
        now = time.thread_time()
        if self._cpu_from is None:
            self._cpu_from = now
            self._wall_before = time.perf_counter() - self._started
            return False
        self._stopped = now - self._cpu_from >= READ_SLICE
        return self._stopped

    def run(self, work: Callable[[C], T]) -> tuple[T, float]:
        self._cpu_from, self._stopped = None, False
        self._started = started = time.perf_counter()
        try:
            result = work(self._conn)
        except sqlite3.OperationalError as exc:
            if self._stopped:
                raise ReadTooLong from exc
            raise
        if self._cpu_from is None:  # done before the handler's first call
            return result, min(time.perf_counter() - started, SHORT_READ / 2)
        return result, min(self._wall_before, SHORT_READ / 2) + time.thread_time() - self._cpu_from


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
