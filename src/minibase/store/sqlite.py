"""The embedded engine: one SQLite file in WAL mode, one writer connection and its thread, a
pool of reader threads.

Short statements run on the event loop's own thread, longer ones on the threads
(on_the_loop.py). Writes are serialised through the single writer connection, which is what
SQLite does anyway, and the transactions that end about the same time commit together
(transaction()). Waits for another process's write lock happen on the writer thread, never on
the loop (_begin).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import regex

from minibase.private_files import make_private_dir, make_private_file, tighten_existing
from minibase.store.database import (
    REGEX_BUDGET,
    CommitCallbacks,
    DatabaseUnavailable,
    IntegrityViolation,
    NumberOutOfRange,
    PoolStats,
    Row,
    TimeBudgetSpent,
    regex_budget_spent,
    rows_statements,
)
from minibase.store.dialect import SQLITE, Dialect
from minibase.store.on_the_loop import (
    READ_SLICE,
    LoopTurns,
    ReadCosts,
    ReadSlice,
    ReadTooLong,
    settled,
)
from minibase.store.statistics import TableStatistics
from minibase.store.threads import WorkerThreads
from minibase.store.time_zones import utc_offset_minutes
from minibase.store.write_turns import WriteTurns

T = TypeVar("T")
log = logging.getLogger("minibase.store")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
    "PRAGMA mmap_size=268435456",
    "PRAGMA analysis_limit=20000",
)
_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '([^']+)'|(\S+))")


# Commits, or rows written, between two checkpoints of the write-ahead log, whichever comes
# first (SQLite's own default: 1,000 pages, about 250 commits of a record and its change).
CHECKPOINT_EVERY = 250
CHECKPOINT_ROWS = 1000
# The log starts over from its top only once a checkpoint has copied all of it while no
# write came in. Checkpoints run beside the writes, so under steady writes some always come
# in: once the log holds this many pages (32 MB of 4 KB pages), the writer copies the rest
# itself, between two transactions, and the next write starts the log over.
LOG_PAGES = 8192
_CHECKPOINT_FAILED = "checkpoint failed; the next one will retry"
# Virtual-machine steps between two looks at the deadline of a statement with $regex work.
_PROGRESS_STEPS = 1000


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, ignore_case: int) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)


class _Connection(sqlite3.Connection):
    """sqlite3's connection, with the budget of its statements that do $regex work."""

    regex_budget: RegexBudget
    on_the_loop = False  # the writer's: running work on the event loop's thread now
    turns: WriteTurns | None = None  # the writer's: its process's turn among the writers
    read_slice: ReadSlice[_Connection] | None = None  # the loop's reader: its reads' slices
    statistics = 0  # a reader's: the version of the planner's statistics it opened with


class _Elsewhere(enum.Enum):
    ELSEWHERE = "elsewhere"  # a read that may not run on the loop's thread now


ELSEWHERE = _Elsewhere.ELSEWHERE


class _WouldWait(Exception):
    """BEGIN IMMEDIATE on the loop's thread found the file locked by another connection (of
    another process): the work goes to the writer thread, to wait there."""


# How long BEGIN IMMEDIATE waits for another process's write lock (busy_timeout of the others).
BUSY_TIMEOUT = 5.0
_FIRST_WAIT, _LONGEST_WAIT = 0.0001, 0.005


def _begin(conn: _Connection) -> None:
    """BEGIN IMMEDIATE on the writer connection, which has no busy timeout: SQLite's own waits
    sleep 1 ms at least, and on the loop's thread they would stop every request. So on the loop
    a locked file means _WouldWait; on the writer thread, retries a little apart."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    if conn.turns is not None and not conn.turns.take(wait=not conn.on_the_loop):
        if conn.on_the_loop:
            raise _WouldWait
        raise sqlite3.OperationalError("database is locked (another process's turn to write)")
    wait = _FIRST_WAIT
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            if conn.on_the_loop:
                raise _WouldWait from exc
            if time.monotonic() >= deadline:
                raise
        time.sleep(wait)
        wait = min(2 * wait, _LONGEST_WAIT)


class RegexBudget:
    """The time one statement with $regex work may take on a connection (so on one thread).

    Armed for that statement only: each match gets what is left of it as the `regex` module's
    timeout (and runs without the GIL), and a progress handler stops the statement once it is
    spent, so the work between matches (a COUNT over many rows) is bounded too.
    """

    def __init__(self, conn: _Connection, seconds: float) -> None:
        self._conn = conn
        self.seconds = seconds
        self._deadline: float | None = None
        self._spent = False

    def regexp(self, pattern: str, value: object, flags: int) -> bool | None:
        """`minibase_regexp(pattern, value, ignore_case)` in SQL."""
        if not isinstance(value, str):
            return None
        left = self.seconds if self._deadline is None else self._deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            found = _compiled(pattern, flags).search(value, timeout=left, concurrent=True)
        except TimeoutError:
            self._spent = True
            raise
        return found is not None

    def _past_deadline(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._spent = True
        return self._spent

    def run(self, work: Callable[[_Connection], T], seconds: float | None = None) -> T:
        """Run one statement's work within the budget: ApiError 400 once it is spent; with
        `seconds` (a long read's own budget, its $regex work included) TimeBudgetSpent."""
        self._deadline = time.monotonic() + (self.seconds if seconds is None else seconds)
        self._spent = False
        self._conn.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)
        try:
            return work(self._conn)
        except sqlite3.Error as exc:
            if self._spent and seconds is not None:
                raise TimeBudgetSpent(seconds) from exc
            if self._spent:
                raise regex_budget_spent(self.seconds) from exc
            raise
        finally:
            # Nothing of this statement's budget reaches the next one on this connection.
            self._conn.set_progress_handler(None, 0)
            self._deadline = None
            self._spent = False


def _connect(path: Path, *, read_only: bool, regex_budget: float) -> _Connection:
    # Each connection is used by one thread at a time; closing happens after its pool stops.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=_Connection)
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    if read_only:
        conn.execute("PRAGMA query_only=ON")
    conn.regex_budget = RegexBudget(conn, regex_budget)
    conn.create_function("minibase_regexp", 3, conn.regex_budget.regexp, deterministic=True)
    conn.create_function("minibase_utc_offset", 2, utc_offset_minutes, deterministic=True)
    return conn


def _translate(error: sqlite3.Error) -> Exception:
    if isinstance(error, sqlite3.IntegrityError):
        match = _UNIQUE.search(str(error))
        name = (match.group(1) or match.group(2)) if match else None
        return IntegrityViolation(str(error), name)
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return DatabaseUnavailable(str(error))
    if isinstance(error, sqlite3.OperationalError) and str(error) == "integer overflow":
        return NumberOutOfRange(str(error))
    return error


def _commit(conn: sqlite3.Connection, group: _Group) -> None:
    """COMMIT a group's transaction; if it fails (or the transaction is gone, or a member could
    not be undone), ROLLBACK: in one job, so the next transaction never starts inside this one."""
    try:
        if group.spoiled or not conn.in_transaction:
            raise DatabaseUnavailable("the transaction was lost before it committed; try again")
        for insert, rows in group.rows.items():  # the members' rows written at commit
            for sql, params in rows_statements(insert, rows):
                conn.execute(sql, params)
        conn.execute("COMMIT")
    except (sqlite3.Error, DatabaseUnavailable):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _checkpoint(conn: sqlite3.Connection) -> int:
    """Copy what the log holds into the database file, as far as no reader still needs the
    log: the pages the log holds."""
    _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(log_pages)


def _log_failure(level: int, message: str, future: asyncio.Future[Any]) -> None:
    """For work nobody awaits (a ROLLBACK, a checkpoint): its error goes to the log."""
    if not future.cancelled() and future.exception() is not None:
        log.log(level, message, exc_info=future.exception())


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _rollback_member(conn: sqlite3.Connection) -> None:
    """Undo one member of a group, and only it."""
    conn.execute("ROLLBACK TO member")
    conn.execute("RELEASE member")


def _fail(group: _Group, error: Exception) -> None:
    if not group.committed.done():
        group.committed.set_exception(error)
        group.committed.exception()  # retrieved: a group whose members all left is fine


def _release_member(conn: sqlite3.Connection) -> None:
    conn.execute("RELEASE member")


class _Group:
    """Write transactions that commit together: one SQLite transaction, begun by the first
    member (BEGIN IMMEDIATE), each later member in it under a SAVEPOINT (so that a member that
    fails undoes its own writes only), one COMMIT for all. A member is done, and told so, only
    once that COMMIT has succeeded; if it fails, every member fails with it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.committed: asyncio.Future[None] = loop.create_future()
        self.spoiled = False  # a member's writes could not be undone: commit none
        # the members' rows written at commit (add_at_commit), in the order the members
        # joined: one statement for all of them, outside their savepoints (a row written in
        # a savepoint copies the pages it touches first: the change log's cost a record)
        self.rows: dict[str, list[Sequence[Any]]] = {}

    def add_rows(self, rows: Mapping[str, list[Sequence[Any]]]) -> None:
        for insert, more in rows.items():
            self.rows.setdefault(insert, []).extend(more)

    def spoil(self, undoing: asyncio.Future[None]) -> None:
        if undoing.cancelled() or undoing.exception() is not None:
            self.spoiled = True
            _log_failure(logging.ERROR, "undoing a failed transaction failed", undoing)


class SQLiteConnection(CommitCallbacks):
    """Statements on one thread: the writer's, or any reader's (each has its own connection)."""

    dialect: Dialect = SQLITE

    def __init__(self, run: Callable[[str, Callable[[_Connection], Any]], Awaitable[Any]]) -> None:
        self._run = run  # (the statement, its work on the connection)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        result: Row | None = await self._run(sql, lambda c: c.execute(sql, params).fetchone())
        return result

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        result: list[Row] = await self._run(sql, lambda c: c.execute(sql, params).fetchall())
        return result

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return None if row is None else row[0]

    async def execute(self, sql: str, *params: Any) -> int:
        result: int = await self._run(sql, lambda c: c.execute(sql, params).rowcount)
        return result

    async def execute_script(self, statements: Sequence[str]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        await self._run("\n".join(statements), run)


class SQLiteDatabase:
    dialect: Dialect = SQLITE

    def __init__(self, path: Path, readers: int = 4, regex_budget: float = REGEX_BUDGET) -> None:
        self.path = path
        self._readers = readers
        self._regex_budget = regex_budget
        self._writer_pool: WorkerThreads | None = None
        self._reader_pool: WorkerThreads | None = None
        self._writer: _Connection | None = None
        # checkpoints, on their own connection and thread: the writes go on meanwhile
        self._checkpointer_pool: WorkerThreads | None = None
        self._checkpointer: _Connection | None = None
        self._copying = False  # a checkpoint is running on the checkpointer's thread
        self._write_lock = asyncio.Lock()
        self._waiting_writers = 0  # transactions waiting for the write lock
        self._regex_readers = asyncio.Semaphore(max(1, readers - 1))
        self._local = threading.local()
        self._reader_conns: list[_Connection] = []
        self._conns_lock = threading.Lock()
        self._statistics = TableStatistics(self._analyze)
        self._statistics_version = 0
        self._turns = LoopTurns()  # short statements run on the loop's thread (on_the_loop.py)
        self._reads = ReadCosts(SQLITE.has_regex)
        self._commits = 0  # since the last checkpoint
        self._group: _Group | None = None  # members written, COMMIT to come (transaction())
        self._committers: set[asyncio.Task[None]] = set()
        self._rows_at_checkpoint = 0  # the writer's total_changes then

    async def open(self) -> None:
        if not self.path.parent.exists():
            make_private_dir(self.path.parent)
        # SQLite gives the -wal and -shm files the database file's mode.
        make_private_file(self.path)
        for suffix in ("-wal", "-shm"):
            tighten_existing(self.path.with_name(self.path.name + suffix))
        self._writer_pool = WorkerThreads(1, "sqlite-writer")
        self._reader_pool = WorkerThreads(self._readers, "sqlite-reader")
        self._writer = await self._writer_pool.run(self._connect_writer)
        self._writer.turns = WriteTurns(self.path, BUSY_TIMEOUT)
        self._checkpointer_pool = WorkerThreads(1, "sqlite-checkpointer")
        self._checkpointer = await self._checkpointer_pool.run(self._connect_writer)
        self._write_lock = asyncio.Lock()
        self._regex_readers = asyncio.Semaphore(max(1, self._readers - 1))

    def _connect_writer(self) -> _Connection:
        """The writer's connection, or the checkpointer's."""
        conn = _connect(self.path, read_only=False, regex_budget=self._regex_budget)
        # Checkpoints (which write the database file and sync it) run on the checkpointer's
        # thread (_checkpoint_now_and_then), never inside a COMMIT that may run on the loop.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA busy_timeout=0")  # waits for other processes: _begin
        return conn

    async def close(self) -> None:
        await self._statistics.stop()
        await self._stop_checkpointer()
        if self._writer_pool is not None:
            async with self._write_lock:
                await self._commit_open_group()
            await asyncio.gather(*self._committers, return_exceptions=True)
        if self._writer_pool is not None and self._writer is not None:
            await self._writer_pool.run(self._writer.close)
            await self._writer_pool.stop()
            if self._writer.turns is not None:
                self._writer.turns.close()
        if self._reader_pool is not None:
            await self._reader_pool.stop()
        for conn in self._reader_conns:
            conn.close()  # the reader threads are gone; closing from here is safe then
        self._reader_conns.clear()
        self._writer = self._writer_pool = self._reader_pool = None

    async def _stop_checkpointer(self) -> None:
        """First thing on close: no copy starts from now on, nor the writer's step after one
        (`_copied`); the copy running, if any, ends before its connection closes."""
        pool, conn = self._checkpointer_pool, self._checkpointer
        self._checkpointer_pool = self._checkpointer = None
        if pool is not None and conn is not None:
            await pool.run(conn.close)
            await pool.stop()

    # -- running work on the threads ------------------------------------------------------

    def _submit_to_writer(
        self, work: Callable[[_Connection], T], *, short: bool = False
    ) -> asyncio.Future[T]:
        """The work on the writer connection: on the loop's thread if it is `short` and nothing
        is queued for the writer thread, else queued for the thread, in order."""
        if self._writer_pool is None or self._writer is None:
            raise DatabaseUnavailable("database is closed")
        writer = self._writer

        def call() -> T:
            try:
                return work(writer)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
            finally:
                if writer.turns is not None and writer.turns.held and not writer.in_transaction:
                    writer.turns.give_back()

        if short and self._writer_pool.idle and self._turns.take():
            writer.on_the_loop = True
            try:
                return settled(call, raising=_WouldWait)
            except _WouldWait:
                pass
            finally:
                writer.on_the_loop = False
        return self._writer_pool.submit(call)

    async def _on_writer(self, work: Callable[[_Connection], T]) -> T:
        return await self._submit_to_writer(work)

    def _reader_conn(self) -> _Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.statistics != self._statistics_version:
            # A connection plans with the statistics it loaded when it opened: reopen it.
            with self._conns_lock:
                self._reader_conns.remove(conn)
            conn.close()
            conn = None
        if conn is None:
            conn = _connect(self.path, read_only=True, regex_budget=self._regex_budget)
            conn.statistics = self._statistics_version
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    def _read(self, work: Callable[[_Connection], T], within_budget: bool) -> T:
        """One statement's work, on a reader thread."""
        try:
            conn = self._reader_conn()
            return conn.regex_budget.run(work) if within_budget else work(conn)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _read_within(self, work: Callable[[_Connection], T], seconds: float) -> T:
        try:
            return self._reader_conn().regex_budget.run(work, seconds)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _read_here(self, sql: str, work: Callable[[_Connection], T]) -> T | _Elsewhere:
        """The read on the loop's own connection, within its time slice, if it may run here:
        short, no $regex work, the task's turn (on_the_loop.py). ELSEWHERE: on a thread."""
        if self._reader_pool is None:
            raise DatabaseUnavailable("database is closed")
        statement = self._reads.of(sql)
        if not (statement.here() and self._turns.take()):
            return ELSEWHERE
        try:
            conn = self._reader_conn()
            if conn.read_slice is None:  # the loop thread's own connection, new
                conn.read_slice = ReadSlice(conn)
            result, seconds = conn.read_slice.run(work)
        except ReadTooLong:
            statement.note(READ_SLICE)
            return ELSEWHERE
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        statement.note(seconds)
        return result

    async def _on_reader(self, sql: str, work: Callable[[_Connection], T]) -> T:
        result = self._read_here(sql, work)
        if result is not ELSEWHERE:
            return result
        if self._reader_pool is None:
            raise DatabaseUnavailable("database is closed")
        if not SQLITE.has_regex(sql):
            return await self._reader_pool.run(functools.partial(self._read, work, False))
        # $regex work never takes the last reader: other reads always find one free.
        async with self._regex_readers:
            return await self._reader_pool.run(functools.partial(self._read, work, True))

    # -- the Database protocol ------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteConnection]:
        """One write transaction on the writer connection, committed with the others that end
        about the same time (_Group): a COMMIT costs more than a record's INSERT, and under
        load many transactions end in one turn of the event loop.

        The first statement begins it: BEGIN IMMEDIATE, or a SAVEPOINT in the group still
        open. At the end it joins that group, lets go of the lock (the next transaction goes
        on in the same SQLite transaction) and waits for the group's COMMIT: a task that waits
        for the lock behind the transactions waiting for it now, so that they join too.
        """
        self._waiting_writers += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._waiting_writers -= 1
        group = self._group  # None: this one begins a new group, if it writes anything
        entered = False  # its first statement has been queued

        async def in_transaction(sql: str, work: Callable[[_Connection], T]) -> T:
            nonlocal entered
            first, entered = not entered, True
            within_budget = SQLITE.has_regex(sql)

            def enter_then(conn: _Connection) -> T:
                if first:
                    if group is None:
                        if not conn.in_transaction:
                            _begin(conn)
                    elif conn.in_transaction:
                        conn.execute("SAVEPOINT member")
                    else:  # SQLite rolled the group back (an I/O error, a full disk)
                        raise DatabaseUnavailable("the transaction was lost; try again")
                return conn.regex_budget.run(work) if within_budget else work(conn)

            return await self._submit_to_writer(enter_then, short=not within_budget)

        conn = SQLiteConnection(in_transaction)
        try:
            try:
                yield conn
                await conn.finishing()
                rows = conn.take_rows()
                if rows and not entered:  # rows alone: written as any statement, to begin
                    await conn.write_rows(rows)
                    rows = {}
                if entered and group is not None:
                    await self._submit_to_writer(_release_member, short=True)
            except BaseException:
                if entered:  # queued before the lock is let go; nobody needs to wait for it
                    self._undo(group)
                raise
            if entered and group is None:
                group = self._group = _Group(asyncio.get_running_loop())
                committer = asyncio.get_running_loop().create_task(self._commit_group(group))
                self._committers.add(committer)
                committer.add_done_callback(self._committers.discard)
            if group is not None and rows:  # the group commits them, under this lock still
                group.add_rows(rows)
        finally:
            self._write_lock.release()
        if entered and group is not None:
            await asyncio.shield(group.committed)
        conn.committed()

    def _undo(self, group: _Group | None) -> None:
        if group is None:  # the first member: nothing else is in the transaction yet
            undoing = self._submit_to_writer(_rollback_if_open)
            undoing.add_done_callback(partial(_log_failure, logging.ERROR, "ROLLBACK failed"))
        else:
            self._submit_to_writer(_rollback_member).add_done_callback(group.spoil)

    async def _commit_group(self, group: _Group) -> None:
        """COMMIT once the transactions waiting for the lock now have joined the group."""
        try:
            async with self._write_lock:
                if self._group is group:  # else committed already (_commit_open_group)
                    self._queue_commit(group)
        except BaseException:  # the loop is stopping: nothing committed
            _fail(group, DatabaseUnavailable("the server stopped before committing"))
            raise

    def _queue_commit(self, group: _Group) -> asyncio.Future[None]:
        """Under the write lock: the group is closed to new members, and told the COMMIT's
        outcome once it is known (the lock is let go meanwhile: the next group may begin)."""
        self._group = None
        try:
            committing = self._submit_to_writer(partial(_commit, group=group), short=True)
        except Exception as exc:  # closed meanwhile
            _fail(group, exc)
            raise
        if committing.done():  # committed on the loop: the members may go on now
            self._settle(group, committing)
        else:
            committing.add_done_callback(partial(self._settle, group))
        return committing

    def _settle(self, group: _Group, committing: asyncio.Future[None]) -> None:
        if committing.cancelled():  # the loop is stopping: whether it committed is unknown
            _fail(group, DatabaseUnavailable("the server stopped while committing"))
        elif (error := committing.exception()) is not None:
            _fail(group, error if isinstance(error, Exception) else DatabaseUnavailable(str(error)))
        else:
            group.committed.set_result(None)
            self._checkpoint_now_and_then()

    async def _commit_open_group(self) -> None:
        """Under the write lock: COMMIT the open group now, and wait for it."""
        if self._group is not None:
            with contextlib.suppress(Exception):  # its members are told; a failure is theirs
                await self._queue_commit(self._group)

    def _checkpoint_now_and_then(self) -> None:
        """Copy the write-ahead log into the database file every CHECKPOINT_EVERY commits or
        CHECKPOINT_ROWS rows written, whichever comes first (what SQLite's own automatic
        checkpoint does inside a COMMIT, at 1,000 pages). Rows count too: a few bulk writes
        would otherwise leave a whole table in the log, where every read has to look for its
        pages.

        The copy runs on the checkpointer's own connection and thread, and the writes go on
        meanwhile (on the writer's thread, a copy held up every write for its length, tens of
        milliseconds with the pages of a few random indexes). Past LOG_PAGES, the writer
        copies what came in meanwhile, a short step, so that the log can start over."""
        self._commits += 1
        rows = self._writer.total_changes if self._writer is not None else 0
        if self._commits < CHECKPOINT_EVERY and rows - self._rows_at_checkpoint < CHECKPOINT_ROWS:
            return
        if self._copying or self._checkpointer_pool is None or self._checkpointer is None:
            return  # the copy running takes these pages too, or the next one will
        self._commits, self._rows_at_checkpoint = 0, rows
        self._copying = True
        copying = self._checkpointer_pool.submit(partial(_checkpoint, self._checkpointer))
        copying.add_done_callback(self._copied)

    def _copied(self, copying: asyncio.Future[int]) -> None:
        if copying.cancelled() or self._checkpointer_pool is None:  # closing
            self._copying = False
            return
        _log_failure(logging.WARNING, _CHECKPOINT_FAILED, copying)
        if copying.exception() is not None or copying.result() < LOG_PAGES:
            self._copying = False
            return
        # still copying: two checkpoints at once, one would find the other busy
        restart = asyncio.get_running_loop().create_task(self._copy_the_rest())
        self._committers.add(restart)  # close() waits for it, as for a COMMIT
        restart.add_done_callback(self._committers.discard)

    async def _copy_the_rest(self) -> None:
        """On the writer, between two transactions: the pages written since the last copy."""
        try:
            async with self._write_lock:
                await self._commit_open_group()  # a checkpoint cannot run inside a transaction
                if self._writer_pool is not None:
                    await self._on_writer(_checkpoint)
        except Exception:
            log.warning(_CHECKPOINT_FAILED, exc_info=True)
        finally:
            self._copying = False

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[SQLiteConnection]:
        yield SQLiteConnection(self._on_reader)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        result: Row | None = await self._on_reader(sql, lambda c: c.execute(sql, params).fetchone())
        return result

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        result: list[Row] = await self._on_reader(sql, lambda c: c.execute(sql, params).fetchall())
        return result

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return None if row is None else row[0]

    async def fetch_all_within(self, seconds: float, sql: str, *params: Any) -> list[Row]:
        if self._reader_pool is None:
            raise DatabaseUnavailable("database is closed")

        def work(conn: _Connection) -> list[Row]:
            return conn.execute(sql, params).fetchall()

        # like $regex work, never on the loop's thread, and never taking the last reader
        async with self._regex_readers:
            return await self._reader_pool.run(functools.partial(self._read_within, work, seconds))

    async def ping(self) -> None:
        await self.fetch_value("SELECT 1")

    def pool_stats(self) -> PoolStats:
        readers, writer = self._reader_pool, self._writer_pool
        waiting = {
            "reader": readers.waiting() if readers else 0,
            # transactions waiting for their turn, and statements queued on the writer thread
            "writer": self._waiting_writers + (writer.waiting() if writer else 0),
        }
        opened = len(self._reader_conns) + (self._writer is not None)
        return PoolStats(self._readers, opened, None, waiting)

    def note_writes(self, table: str, rows: int) -> None:
        self._statistics.note(table, rows)

    def refresh_statistics(self, table: str) -> None:
        self._statistics.refresh_soon(table)

    async def _analyze(self, table: str) -> int:
        """Refresh the planner's statistics of one table; returns its estimated row count."""

        def run(conn: _Connection) -> int:
            _begin(conn)
            try:
                conn.execute(f"ANALYZE {table}")
                row = conn.execute(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table.strip('"'),)
                ).fetchone()
                conn.execute("COMMIT")
            finally:
                _rollback_if_open(conn)
            return int(row[0].split()[0]) if row and row[0] else 0

        async with self._write_lock:
            await self._commit_open_group()  # first: ANALYZE runs outside any group
            rows = await self._on_writer(run)
        self._statistics_version += 1
        return rows
