"""Whose turn it is to write, among the processes on one SQLite file.

SQLite lets one connection write at a time; another that finds the file locked is told BUSY
and must try again later: SQLite's own busy handler sleeps (1 ms at first, then more), ours
retried on the writer thread 0.1-5 ms apart. Between the workers of one server, which write
all the time, that polling is where turns were lost. So each process's writer first takes an
advisory lock on a file beside the database (`<name>-writer`, flock) and holds it from BEGIN
to the end of the transaction: a writer that waits for it sleeps in the kernel, which wakes
it the moment the other lets go. A process that dies lets go with it.

Anything that writes without this lock (the sqlite3 shell, another program) is still waited
for by BEGIN IMMEDIATE's retries.
"""

from __future__ import annotations

import fcntl
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


class WriteTurns:
    """One process's hold on the writers' lock file of one database.

    Each turn takes the lock on a new open file (a lock belongs to the open file, not to the
    process), so that a wait given up after `timeout` can finish on its own in the background
    and let go at once, without ever touching the lock of a later turn."""

    def __init__(self, database: Path, timeout: float) -> None:
        self.path = database.with_name(database.name + "-writer")
        self.timeout = timeout
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        self._held: int | None = None  # the open file that holds the lock
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="sqlite-turns")

    @property
    def held(self) -> bool:
        return self._held is not None

    def take(self, *, wait: bool) -> bool:
        """The lock, waiting up to `timeout` for it (on a thread that may sleep) or not at all:
        False if another process holds it (still, after `timeout`)."""
        if self._held is not None:
            return True
        opened = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(opened, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait or not self._waited(opened):
                return False
        except BaseException:
            os.close(opened)
            raise
        self._held = opened
        return True

    def _waited(self, opened: int) -> bool:
        waiting = self._waiter.submit(fcntl.flock, opened, fcntl.LOCK_EX)
        try:
            waiting.result(self.timeout)
        except TimeoutError:
            waiting.add_done_callback(lambda _: os.close(opened))  # let go once it is ours
            return False
        except BaseException:
            os.close(opened)
            raise
        return True

    def give_back(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            os.close(held)  # closing the open file lets go of its lock

    def close(self) -> None:
        self.give_back()
        self._waiter.shutdown(wait=False, cancel_futures=True)
