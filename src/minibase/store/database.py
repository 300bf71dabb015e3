"""The database seen by features: async, dialect-neutral, one transaction per feature call.

SQL is written with `?` placeholders; each engine adapts them. Repository helpers take a
`Connection` and never commit: the feature that opens `db.transaction()` owns the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from minibase.errors import ApiError
from minibase.store.dialect import Dialect

Row = Sequence[Any]
log = logging.getLogger("minibase.store")

REGEX_BUDGET = 0.25  # Settings.regex_budget


def regex_budget_spent(budget: float) -> ApiError:
    """A statement's $regex work took longer than its budget (each engine stops it)."""
    ms = round(budget * 1000)
    return ApiError(
        "records.invalid_filter",
        400,
        f"the filter's $regex took longer than {ms} ms on this data: anchor it (^...), avoid"
        " repeated groups that can match the same text in several ways (like (a|aa)+ or"
        " (a{1,9}){1,9}), or narrow the filter with other conditions",
        {"budget_ms": ms},
    )


def json_column(value: Any) -> Any:
    """The value of a `json_column_type` column: SQLite's holds JSON text, PostgreSQL's comes
    decoded."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class TimeBudgetSpent(Exception):
    """A long read ran past the seconds it was given, and the engine stopped it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"stopped after {seconds} s")
        self.seconds = seconds


class NumberOutOfRange(Exception):
    """A statement's arithmetic left the engine's range (SQLite: a SUM past 64-bit integers)."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached (answered as 503 `server.unavailable`)."""


class IntegrityViolation(Exception):
    """A UNIQUE / PRIMARY KEY constraint refused a write. `.constraint` names it when known."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class Connection(Protocol):
    dialect: Dialect

    async def fetch_one(self, sql: str, *params: Any) -> Row | None: ...

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]: ...

    async def fetch_value(self, sql: str, *params: Any) -> Any: ...

    async def execute(self, sql: str, *params: Any) -> int:
        """Run a statement; returns the number of rows it changed."""
        ...

    async def execute_script(self, statements: Sequence[str]) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Call `callback` once this transaction has committed (never after a rollback);
        True when this is the transaction's first request for it."""
        ...

    def before_commit(self, callback: Callable[[], Awaitable[None]]) -> bool:
        """Await `callback` in this transaction, after everything else it does and just
        before it commits (never when it rolls back); True when first asked for."""
        ...

    def add_at_commit(self, insert: str, row: Sequence[Any]) -> None:
        """A row for `insert` ("INSERT INTO t (a, b)"), written after the transaction's
        before-commit callbacks, just before it commits (never when it rolls back): the rows
        of one `insert` go in few statements. On SQLite the rows of every transaction of a
        group commit go in together, outside the members' savepoints."""
        ...


# parameters a statement of rows written at commit binds, at most: under every engine's limit
_ROW_PARAMETERS = 3000


def rows_statements(insert: str, rows: Sequence[Sequence[Any]]) -> list[tuple[str, list[Any]]]:
    """Multi-row INSERTs of `rows` for `insert`, each under _ROW_PARAMETERS parameters, in
    the order of the rows (numbers they are given follow it)."""
    if not rows:
        return []
    width = len(rows[0])
    per_statement = max(1, _ROW_PARAMETERS // width)
    values = "(" + ", ".join(["?"] * width) + ")"
    statements = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = [value for row in chunk for value in row]
        statements.append((f"{insert} VALUES {', '.join([values] * len(chunk))}", params))
    return statements


class CommitCallbacks:
    """What a transaction's connection runs just before it commits, and once it has
    (each callback once), and the rows it writes last."""

    _callbacks: list[Callable[[], None]] | None = None
    _finishers: list[Callable[[], Awaitable[None]]] | None = None
    _rows: dict[str, list[Sequence[Any]]] | None = None

    async def execute(self, sql: str, *params: Any) -> int:
        raise NotImplementedError

    def add_at_commit(self, insert: str, row: Sequence[Any]) -> None:
        if self._rows is None:
            self._rows = {}
        self._rows.setdefault(insert, []).append(row)

    def take_rows(self) -> dict[str, list[Sequence[Any]]]:
        """The rows to write at commit, by statement; none are left to write here."""
        rows, self._rows = self._rows, None
        return rows or {}

    def before_commit(self, callback: Callable[[], Awaitable[None]]) -> bool:
        if self._finishers is None:
            self._finishers = []
        if callback in self._finishers:
            return False
        self._finishers.append(callback)
        return True

    async def committing(self) -> None:
        """Run by the database in the transaction, right before COMMIT: the before-commit
        callbacks, then the rows to add."""
        await self.finishing()
        await self.write_rows(self.take_rows())

    async def write_rows(self, rows: Mapping[str, Sequence[Sequence[Any]]]) -> None:
        """Rows taken from `take_rows`, written now, in this transaction."""
        for insert, added in rows.items():
            for sql, params in rows_statements(insert, added):
                await self.execute(sql, *params)

    async def finishing(self) -> None:
        """The before-commit callbacks alone (SQLite writes the rows with its group's)."""
        for finisher in self._finishers or ():
            await finisher()

    def after_commit(self, callback: Callable[[], None]) -> bool:
        if self._callbacks is None:
            self._callbacks = []
        if callback in self._callbacks:
            return False
        self._callbacks.append(callback)
        return True

    def committed(self) -> None:
        for callback in self._callbacks or ():
            try:
                callback()
            except Exception:  # the commit stands; a callback's failure must not undo it
                log.exception("an after-commit callback failed")


@dataclass(frozen=True)
class PoolStats:
    """The engine's connections as a metrics scrape sees them (read without I/O)."""

    size: int  # PostgreSQL: the pool's most connections; SQLite: reader threads
    open: int  # connections open now (SQLite: its readers and the writer)
    in_use: int | None  # PostgreSQL: connections lent out now; SQLite: not known cheaply
    waiting: Mapping[str, int]  # work waiting for a connection, by queue (SQLite's reader, writer)


class Database(Protocol):
    dialect: Dialect

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction: SQLite's one writer, or a pooled PostgreSQL connection."""
        ...

    def reader(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for several reads (autocommit / snapshot per statement)."""
        ...

    async def fetch_one(self, sql: str, *params: Any) -> Row | None: ...

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]: ...

    async def fetch_value(self, sql: str, *params: Any) -> Any: ...

    async def fetch_all_within(self, seconds: float, sql: str, *params: Any) -> list[Row]:
        """A read that may be long (an aggregation), stopped after `seconds` (TimeBudgetSpent);
        on SQLite never on the event loop's thread."""
        ...

    async def ping(self) -> None: ...

    def pool_stats(self) -> PoolStats: ...

    def note_writes(self, table: str, rows: int) -> None:
        """Tell the engine a table changed (SQLite refreshes its planner statistics)."""
        ...

    def refresh_statistics(self, table: str) -> None:
        """The table's indexes changed: refresh planner statistics soon (in the background)."""
        ...
