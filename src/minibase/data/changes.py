"""The change log: every record write adds a row (`record_changes`) in its own transaction,
so a change exists exactly when the write committed — never for a rolled-back one — and
subscribers on every instance read the same numbered sequence.

Numbers follow commit order. The rows are written last in the transaction, just before
COMMIT. On SQLite there is one writer at a time. On PostgreSQL they are written under a
transaction-scoped lock kept until the commit, so a number is never seen before a smaller
one; the NOTIFY sent in the transaction reaches every instance at commit (and each also reads
the log every `realtime_poll_interval`, which covers a lost notification and SQLite's other
processes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from minibase.clock import Clock
from minibase.hooks import RecordEvent
from minibase.store.database import Connection, Database, json_column

CHANGES_CHANNEL = "minibase_changes"
_ORDER_LOCK = 7_246_190_419  # pg_advisory_xact_lock key: changes are numbered one commit at a time
_COLUMNS = "seq, collection, record_id, action, doc, previous"
ROWS_PER_INSERT = 500  # 3,000 parameters: under every engine's limit


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    collection: str
    record_id: str
    action: str  # create, update, delete
    doc: dict[str, Any]  # as it is now (as it was, for a delete)
    previous: dict[str, Any] | None  # as it was before an update


async def log_change(
    conn: Connection, clock: Clock, event: RecordEvent, wake: Callable[[], None]
) -> None:
    """In the write's transaction: the change, written and numbered just before the
    transaction commits (after everything else it does); `wake` runs once it has."""
    pending = _pending.get(conn)
    if pending is None:
        pending = _pending[conn] = []
        conn.before_commit(partial(_write_pending, conn, clock))
        conn.after_commit(wake)
    pending.append(event)


_pending: WeakKeyDictionary[Connection, list[RecordEvent]] = WeakKeyDictionary()


async def _write_pending(conn: Connection, clock: Clock) -> None:
    events = _pending.pop(conn, [])
    if not events:
        return
    postgres = conn.dialect.name == "postgres"
    if postgres:
        # Numbered one committing transaction at a time: the lock is the last this
        # transaction takes (nothing else runs after it but COMMIT), so it cannot deadlock.
        await conn.fetch_value("SELECT pg_advisory_xact_lock(?)", _ORDER_LOCK)
    json = conn.dialect.json_param()
    now = clock.now().timestamp()
    row = f"(?, ?, ?, {json}, {json}, ?)"
    for start in range(0, len(events), ROWS_PER_INSERT):  # a bulk write: few statements
        chunk = events[start : start + ROWS_PER_INSERT]
        await conn.execute(
            "INSERT INTO record_changes (collection, record_id, action, doc, previous, created)"
            f" VALUES {', '.join([row] * len(chunk))}",
            *(
                value
                for event in chunk
                for value in (
                    event.collection,
                    event.record["_id"],
                    event.action,
                    orjson.dumps(event.record).decode(),
                    None if event.previous is None else orjson.dumps(event.previous).decode(),
                    now,
                )
            ),
        )
    if postgres:
        await conn.execute("SELECT pg_notify(?, '')", CHANGES_CHANNEL)


def _change(row: Any) -> Change:
    previous = row[5]
    return Change(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        json_column(row[4]),
        None if previous is None else json_column(previous),
    )


async def changes_after(reader: Connection, seq: int, limit: int) -> list[Change]:
    """The next committed changes after `seq`, oldest first."""
    rows = await reader.fetch_all(
        f"SELECT {_COLUMNS} FROM record_changes WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit
    )
    return [_change(row) for row in rows]


async def last_seq(reader: Connection) -> int:
    """The number of the newest committed change (0 before the first)."""
    value = await reader.fetch_value("SELECT MAX(seq) FROM record_changes")
    return int(value or 0)


async def resumable(reader: Connection, since: int) -> bool:
    """Is every change after `since` still kept? (The newest is never pruned, so a gap
    shows as an oldest kept change beyond `since + 1`.)"""
    if since < 0:
        return False
    oldest = await reader.fetch_value("SELECT MIN(seq) FROM record_changes")
    if oldest is None:
        return since == 0
    return since >= int(oldest) - 1 and since <= await last_seq(reader)


async def backlog(reader: Connection, collection: str, since: int, most: int = 100_000) -> int:
    """How many of a collection's changes came after `since` (counted up to `most`)."""
    value = await reader.fetch_value(
        "SELECT COUNT(*) FROM (SELECT 1 FROM record_changes WHERE seq > ? AND collection = ?"
        " LIMIT ?) AS later",
        since,
        collection,
        most,
    )
    return int(value or 0)


async def prune(db: Database, before: float) -> int:
    """Forget changes committed before `before` (a timestamp), except the newest."""
    async with db.transaction() as conn:
        return await conn.execute(
            "DELETE FROM record_changes WHERE created < ?"
            " AND seq < (SELECT MAX(seq) FROM record_changes)",
            before,
        )
