"""The change log: every record write adds a row (`record_changes`) in its own transaction,
so a change exists exactly when the write committed — never for a rolled-back one — and
subscribers on every instance read the same numbered sequence.

The rows are written last in the transaction, just before COMMIT, so numbers follow commit
order. On SQLite there is one writer at a time, and a number is never seen before a smaller
one. On PostgreSQL writers never wait on each other for a number: a reader may see number
n + 1 while n still belongs to a transaction that is committing (or is rolling back). So a
reader hands on only *settled* changes: at a gap it notes the transactions then in progress,
and the gap is settled once every one of them has ended: by then the missing number has
committed and is seen, or never will be. Nothing is handed on out of order, nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import orjson

from minibase.clock import Clock
from minibase.hooks import RecordEvent
from minibase.store.database import Connection, Database, json_column

CHANGES_CHANNEL = "minibase_changes"
_COLUMNS = "seq, collection, record_id, action, doc, previous"
START_PATIENCE = 2.0  # seconds a new reader waits for the writers in progress to end
RECENT = 10_000  # how far back a reader that waited no longer looks for gaps


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    collection: str
    record_id: str
    action: str  # create, update, delete
    doc: dict[str, Any]  # as it is now (as it was, for a delete)
    previous: dict[str, Any] | None  # as it was before an update


_INSERT = "INSERT INTO record_changes (collection, record_id, action, doc, previous, created)"


def log_change(
    conn: Connection, clock: Clock, event: RecordEvent, wake: Callable[[], None]
) -> None:
    """In the write's transaction: the change, written and numbered just before the
    transaction commits (after everything else it does: `add_at_commit`); `wake` runs once
    it has."""
    previous = event.previous
    conn.add_at_commit(
        _INSERT,
        (
            event.collection,
            event.record["_id"],
            event.action,
            orjson.dumps(event.record).decode(),
            None if previous is None else orjson.dumps(previous).decode(),
            clock.timestamp(),
        ),
    )
    conn.after_commit(wake)


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
    """The next committed changes after `seq`, oldest first: settled or not (a reader that
    hands changes on uses `read_settled`)."""
    rows = await reader.fetch_all(
        f"SELECT {_COLUMNS} FROM record_changes WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit
    )
    return [_change(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Gap:
    """Numbers not seen though a later one is: taken by transactions still committing, or
    rolled back. Each is at most `through`; they are settled once none of `writers` (the
    transactions in progress when the gap was seen) is in progress any more."""

    through: int
    writers: frozenset[int]


@dataclass(slots=True)
class Position:
    """Where a reader of the log is: every change up to `after` is settled and read."""

    after: int
    gap: Gap | None = None


async def read_settled(reader: Connection, position: Position, limit: int) -> list[Change]:
    """The next settled changes after `position`, oldest first (at most `limit`); the
    position moves past them. Stops before a gap that is not settled yet (PostgreSQL)."""
    if reader.dialect.name != "postgres":  # one writer: what is seen is settled
        batch = await changes_after(reader, position.after, limit)
        if batch:
            position.after = batch[-1].seq
        return batch
    gap = position.gap
    # a gap whose writers have all ended before this read: what it missed is seen now or never
    settled_through = position.after
    if gap is not None and not gap.writers & await _in_progress(reader):
        settled_through, gap = gap.through, None
    batch = await changes_after(reader, position.after, limit)
    seen = position.after
    for count, change in enumerate(batch):
        if change.seq > seen + 1 and change.seq - 1 > settled_through:
            # a number before this one may still commit: wait for its writer to end
            if gap is None or gap.through < seen + 1:
                gap = Gap(batch[-1].seq, frozenset(await _in_progress(reader)))
            position.after, position.gap = seen, gap
            return batch[:count]
        seen = change.seq
    position.after, position.gap = seen, None
    return batch


async def settled_position(reader: Connection, patience: float = START_PATIENCE) -> Position:
    """Where a new reader starts: after the newest change, once every number before it has
    settled (on PostgreSQL: once the transactions in progress now have ended, which takes
    the moment a commit takes). A writer still open after `patience` seconds is not waited
    for: the reader starts before the first gap among the newest changes instead."""
    newest = await last_seq(reader)
    if reader.dialect.name != "postgres":
        return Position(newest)
    # every number up to `newest` was taken before now: by one of these, if it is in flight
    writers = await _in_progress(reader)
    pause, deadline = 0.002, time.monotonic() + patience
    while writers and time.monotonic() < deadline:
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
        writers &= await _in_progress(reader)
    if not writers:
        return Position(newest)
    recent = await reader.fetch_all(
        "SELECT seq FROM record_changes WHERE seq > ? ORDER BY seq", newest - RECENT
    )
    for (before,), (seq,) in pairwise(recent):
        if int(seq) != int(before) + 1:
            return Position(int(before), Gap(newest, frozenset(writers)))
    return Position(newest)


async def _in_progress(reader: Connection) -> set[int]:
    """The transactions in progress now (each with an id: those that have written)."""
    rows = await reader.fetch_all("SELECT pg_snapshot_xip(pg_current_snapshot())::text::bigint")
    return {int(row[0]) for row in rows}


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
