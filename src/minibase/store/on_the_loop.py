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
- at most `STREAK` statements of one task in a row: a bulk write or a loop of reads goes
  through a thread now and then, letting other requests in.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from minibase.memo import remember

T = TypeVar("T")
C = TypeVar("C", bound=sqlite3.Connection)

STREAK = 32  # statements run here in a row, at most, before the loop must have had control
READ_SLICE = 0.001  # seconds of CPU a read may use here before it moves to a reader thread
SHORT_READ = 0.0003  # seconds of CPU: a read that takes longer, on average, runs on a thread
RETRY_EVERY = 64  # a statement found long is tried here again once in so many runs
_KNOWN_STATEMENTS = 2000  # past this many statement texts, what was learned is forgotten
_WATCH_FROM = 4  # statements of one task in a row before LoopTurns looks for the loop's turns
_PROGRESS_STEPS = 500  # SQLite virtual-machine steps between two looks at the clock


class LoopTurns:
    """Counts the statements one task has run on the loop without letting another task in.

    A new streak starts when another task runs a statement here, when this one's statement
    goes to a thread, or once the loop has had control. Looking for the last costs a callback
    on the loop's next turn: it is asked for only once a streak reaches `_WATCH_FROM`, which a
    request's few statements never do (a callback a request cost a microsecond).
    """

    def __init__(self) -> None:
        self._streak = 0
        self._task: asyncio.Task[object] | None = None
        # the loop the statements run on: current_task() without it looks the loop up, which
        # costs a system call on Python 3.11 (getpid); a statement always runs in a task, so
        # finding none means the database moved to another loop (tests): look again
        self._loop: asyncio.AbstractEventLoop | None = None

    def take(self) -> bool:
        """May one more statement of the current task run here now? No: it goes to a thread,
        and the task's next statement starts a new streak."""
        loop = self._loop
        task = None if loop is None else asyncio.current_task(loop)
        if loop is None or task is None:
            loop = self._loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
        if task is not self._task:
            self._task, self._streak = task, 1
            return True
        streak = self._streak
        if streak >= STREAK:
            self._streak = 0
            return False
        if streak == _WATCH_FROM:  # the loop may have had control since: see on its next turn
            loop.call_soon(self._reset)
        self._streak = streak + 1
        return True

    def _reset(self) -> None:
        self._streak, self._task = 0, None


class ReadStatement:
    """What the loop knows of one read statement: whether it does $regex work (never run here)
    and how long it took when it last ran here, smoothed."""

    __slots__ = ("regex", "seconds", "skipped")

    def __init__(self, regex: bool) -> None:
        self.regex = regex
        self.seconds = -1.0  # not run here yet
        self.skipped = 0

    def here(self) -> bool:
        """Run it here? Yes if short or not yet known; a long one now and then, to look again."""
        if self.regex:
            return False
        if self.seconds < SHORT_READ:
            return True
        self.skipped += 1
        if self.skipped < RETRY_EVERY:
            return False
        self.skipped = 0
        return True

    def note(self, seconds: float) -> None:
        before = self.seconds
        self.seconds = seconds if before < 0 else 0.7 * before + 0.3 * seconds


class ReadCosts:
    """The read statements run lately, by their text (one dictionary lookup a read)."""

    def __init__(self, has_regex: Callable[[str], bool]) -> None:
        self._has_regex = has_regex
        self._statements: dict[str, ReadStatement] = {}

    def of(self, sql: str) -> ReadStatement:
        statement = self._statements.get(sql)
        if statement is None:
            statement = ReadStatement(self._has_regex(sql))
            remember(self._statements, sql, statement, _KNOWN_STATEMENTS)
        return statement


class ReadTooLong(Exception):
    """A read ran past its slice on the loop and was stopped: run it on a reader thread."""


class ReadSlice(Generic[C]):
    """Runs reads on the loop's own connection, each within its slice: its result and what it
    cost, or ReadTooLong once it has used READ_SLICE of this thread's CPU time.

    The progress handler is set once, for the connection's life: setting and clearing it for
    each read, and reading this thread's CPU clock before and after (a system call each), cost
    more than a get by id's statement itself. So the CPU clock is read only by the handler,
    which SQLite calls every `_PROGRESS_STEPS` steps (counted over the runs of a statement, so
    once in a few gets by id), and once more at the end of a read it was called in. A read's
    cost is the CPU time it used from the handler's first call; one that ends before that call
    is short by construction (fewer than `_PROGRESS_STEPS` steps) and costs nothing. So its
    waits, for the GIL (SQLite lets go of it while it works) or for a core (another process
    ran), never count: counted, under load they sent a few gets by id in a hundred to the
    threads, where a hand-off costs more than the read."""

    def __init__(self, conn: C) -> None:
        self._conn = conn
        self._cpu_from: float | None = None  # the CPU clock at the handler's first call
        self._stopped = False
        conn.set_progress_handler(self._past_slice, _PROGRESS_STEPS)

    def _past_slice(self) -> bool:
        now = time.thread_time()
        if self._cpu_from is None:
            self._cpu_from = now
            return False
        self._stopped = now - self._cpu_from >= READ_SLICE
        return self._stopped

    def run(self, work: Callable[[C], T]) -> tuple[T, float]:
        self._cpu_from, self._stopped = None, False
        try:
            result = work(self._conn)
        except sqlite3.OperationalError as exc:
            if self._stopped:
                raise ReadTooLong from exc
            raise
        cpu_from = self._cpu_from
        return result, 0.0 if cpu_from is None else time.thread_time() - cpu_from


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
