"""The durable job queue: jobs live in the same database as the data they act on.

A job is enqueued in the caller's transaction (so it exists exactly when the caller's writes
do), claimed by a worker under a lease, and completed under a fence: only the worker holding
the current attempt (`worker`, `attempts`) may complete or fail it. A worker that dies leaves its
job RUNNING with a lease that runs out; the next claim takes the job back.

PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other
nor take the same job; SQLite runs the same statements on its one writer (`BEGIN IMMEDIATE`
serialises several processes on one file).
"""

from __future__ import annotations

import asyncio
import builtins
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson

from minibase.clock import Clock, isoformat, parse_iso
from minibase.ids import IdGenerator
from minibase.jobs.job import (
    COLUMNS,
    FINISHED,
    InvalidJob,
    Job,
    JobNotFound,
    JobState,
    JobStateError,
    job_from_row,
)
from minibase.store.database import Connection, Database

NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_KEY_LENGTH = 255
MAX_ERROR_LENGTH = 4000
MAX_LIST_LIMIT = 500
NOTIFY_CHANNEL = "minibase_jobs"

_FENCE = "id = ? AND state = 'running' AND worker = ? AND attempts = ?"

_ANY_DUE = (
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= ?)"
    " OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_until < ?)"
)


def _claim_sql(lock: str) -> str:
    """Due jobs, oldest run_at first, taken for one worker. The CTE is materialised so that
    the LIMIT applies once (an IN subquery may be re-run by PostgreSQL's planner)."""
    return (
        "WITH chosen AS MATERIALIZED (SELECT id FROM jobs"
        f" WHERE state = 'queued' AND run_at <= ? ORDER BY run_at, id LIMIT ?{lock})"
        " UPDATE jobs SET state = 'running', worker = ?, lease_until = ?,"
        " attempts = attempts + 1, updated = ?"
        f" WHERE id IN (SELECT id FROM chosen) RETURNING {COLUMNS}"
    )


def _release_lost_sql(lock: str) -> str:
    """Jobs whose worker stopped renewing the lease go back to the queue (keeping their run_at,
    so they are taken first), or to DEAD when that was their last attempt: a job that kills
    every worker that runs it must not take the whole fleet down forever."""
    exhausted = "attempts >= max_attempts"
    return (
        "WITH lost AS MATERIALIZED (SELECT id FROM jobs"
        f" WHERE state = 'running' AND lease_until < ?{lock})"
        f" UPDATE jobs SET state = CASE WHEN {exhausted} THEN 'dead' ELSE 'queued' END,"
        f" finished_at = CASE WHEN {exhausted} THEN ? END,"
        " last_error = 'lease expired on worker ' || worker || ' during attempt ' || attempts,"
        f" worker = CASE WHEN {exhausted} THEN worker END,"
        " lease_until = NULL, updated = ?"
        " WHERE id IN (SELECT id FROM lost)"
    )


class JobQueue:
    def __init__(self, db: Database, clock: Clock, ids: IdGenerator) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._wakeups: set[asyncio.Event] = set()
        lock = " FOR UPDATE SKIP LOCKED" if db.dialect.name == "postgres" else ""
        self._claim = _claim_sql(lock)
        self._release_lost = _release_lost_sql(lock)

    @property
    def db(self) -> Database:
        return self._db

    def now(self) -> datetime:
        """The queue's clock (the one its run_at, leases and finished_at are read on)."""
        return self._clock.now()

    # -- producing ------------------------------------------------------------------------

    async def enqueue(
        self,
        name: str,
        payload: Any = None,
        *,
        run_at: datetime | None = None,
        key: str | None = None,
        max_attempts: int = 10,
        conn: Connection | None = None,
        max_payload_bytes: int | None = MAX_PAYLOAD_BYTES,
    ) -> Job:
        """Add a job; with `conn`, inside the caller's transaction (this process's workers
        are woken when it commits). A job with the same `key` already there (in any state)
        is returned instead of a new one, so enqueueing twice is harmless.

        `max_payload_bytes=None` is for payloads bounded elsewhere (a record event carries
        records the API has already limited)."""
        document = _checked(name, payload, run_at, key, max_attempts, max_payload_bytes)
        if conn is not None:
            return await self._insert(conn, name, document, run_at, key, max_attempts)
        async with self._db.transaction() as own:
            return await self._insert(own, name, document, run_at, key, max_attempts)

    async def _insert(
        self,
        conn: Connection,
        name: str,
        document: str,
        run_at: datetime | None,
        key: str | None,
        max_attempts: int,
    ) -> Job:
        now = isoformat(self._clock.now())
        row = await conn.fetch_one(
            f"INSERT INTO jobs ({COLUMNS}) VALUES (?, ?, {conn.dialect.json_param()}, 'queued',"
            " 0, ?, ?, NULL, NULL, NULL, ?, ?, ?, NULL)"
            f" ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}",
            self._ids.new(),
            name,
            document,
            max_attempts,
            now if run_at is None else isoformat(run_at),
            key,
            now,
            now,
        )
        if row is None:  # the key is taken: that job stands for this one
            row = await conn.fetch_one(f"SELECT {COLUMNS} FROM jobs WHERE key = ?", key)
            if row is None:
                raise RuntimeError(f"job key {key!r} conflicted but no job has it")
        elif conn.after_commit(self.wake) and conn.dialect.name == "postgres":
            # Once per transaction, however many jobs it enqueues: delivered at commit to
            # every process that listens (jobs.notifications).
            await conn.execute("SELECT pg_notify(?, '')", NOTIFY_CHANNEL)
        return job_from_row(row)

    def wake(self) -> None:
        """Tell this process's workers that new work exists (they also poll)."""
        for event in self._wakeups:
            event.set()

    @contextmanager
    def wakeups(self) -> Iterator[asyncio.Event]:
        """An event set by every `wake()` while the block runs (one per worker)."""
        event = asyncio.Event()
        self._wakeups.add(event)
        try:
            yield event
        finally:
            self._wakeups.discard(event)

    # -- working --------------------------------------------------------------------------

    async def claim(self, worker: str, *, limit: int, lease_seconds: float) -> builtins.list[Job]:
        """Take up to `limit` due jobs for `worker` (oldest run_at first) under a lease."""
        if limit < 1:
            return []
        now = self._clock.now()
        stamp = isoformat(now)
        # A read first keeps idle polling off SQLite's one writer (and out of PostgreSQL's WAL).
        if await self._db.fetch_value(_ANY_DUE, stamp, stamp) is None:
            return []
        lease_until = isoformat(now + timedelta(seconds=lease_seconds))
        async with self._db.transaction() as conn:
            await conn.execute(self._release_lost, stamp, stamp, stamp)
            rows = await conn.fetch_all(self._claim, stamp, limit, worker, lease_until, stamp)
        return sorted(map(job_from_row, rows), key=lambda job: (job.run_at, job.id))

    async def extend(self, job: Job, worker: str, lease_seconds: float) -> bool:
        """Renew the lease (a heartbeat); False when the job is no longer this attempt's."""
        now = self._clock.now()
        until = isoformat(now + timedelta(seconds=lease_seconds))
        sql = f"UPDATE jobs SET lease_until = ?, updated = ? WHERE {_FENCE}"
        async with self._db.transaction() as conn:
            changed = await conn.execute(sql, until, isoformat(now), *_fence(job, worker))
        return changed == 1

    async def succeed(self, job: Job, worker: str, *, conn: Connection | None = None) -> bool:
        """Mark the job SUCCEEDED if this worker's attempt still holds it; False otherwise.

        With `conn` it commits (or rolls back) with the handler's own writes: a handler that
        gets False should raise `LeaseLost` so that its writes roll back."""
        stamp = isoformat(self._clock.now())
        sql = (
            "UPDATE jobs SET state = 'succeeded', lease_until = NULL, finished_at = ?,"
            f" updated = ? WHERE {_FENCE}"
        )
        if conn is not None:
            return await conn.execute(sql, stamp, stamp, *_fence(job, worker)) == 1
        async with self._db.transaction() as own:
            return await own.execute(sql, stamp, stamp, *_fence(job, worker)) == 1

    async def fail(
        self, job: Job, worker: str, error: str, *, retry_in: float | None
    ) -> Job | None:
        """Record a failed attempt: back to QUEUED in `retry_in` seconds, or DEAD when there
        is no retry or no attempt left. None if this worker's attempt no longer holds it."""
        now = self._clock.now()
        stamp = isoformat(now)
        error = error[:MAX_ERROR_LENGTH]
        if retry_in is None or job.attempts >= job.max_attempts:
            sql = (
                "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?,"
                f" finished_at = ?, updated = ? WHERE {_FENCE} RETURNING {COLUMNS}"
            )
            params: tuple[Any, ...] = (error, stamp, stamp)
        else:
            sql = (
                "UPDATE jobs SET state = 'queued', run_at = ?, lease_until = NULL, worker = NULL,"
                f" last_error = ?, updated = ? WHERE {_FENCE} RETURNING {COLUMNS}"
            )
            later = isoformat(now + timedelta(seconds=max(0.0, retry_in)))
            params = (later, error, stamp)
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(sql, *params, *_fence(job, worker))
        return None if row is None else job_from_row(row)

    # -- administering --------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        row = await self._db.fetch_one(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", job_id)
        return None if row is None else job_from_row(row)

    async def retry(self, job_id: str) -> Job:
        """Run a DEAD, CANCELLED (or QUEUED) job again now, with its attempts reset to 0."""
        stamp = isoformat(self._clock.now())
        job = await self._transition(
            job_id,
            "state = 'queued', attempts = 0, run_at = ?, lease_until = NULL, worker = NULL,"
            " finished_at = NULL, updated = ?",
            (stamp, stamp),
            (JobState.DEAD, JobState.CANCELLED, JobState.QUEUED),
            "retried",
        )
        self.wake()
        return job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a QUEUED job. A running one cannot be (its handler may be mid-way)."""
        stamp = isoformat(self._clock.now())
        return await self._transition(
            job_id,
            "state = 'cancelled', finished_at = ?, updated = ?",
            (stamp, stamp),
            (JobState.QUEUED,),
            "cancelled",
        )

    async def _transition(
        self,
        job_id: str,
        assignments: str,
        params: tuple[Any, ...],
        allowed: tuple[JobState, ...],
        verb: str,
    ) -> Job:
        states = ", ".join(f"'{state.value}'" for state in allowed)
        sql = (
            f"UPDATE jobs SET {assignments} WHERE id = ? AND state IN ({states})"
            f" RETURNING {COLUMNS}"
        )
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(sql, *params, job_id)
            current = None
            if row is None:
                current = await conn.fetch_value("SELECT state FROM jobs WHERE id = ?", job_id)
        if row is not None:
            return job_from_row(row)
        if current is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        state = JobState(current)
        can = " or ".join(s.value for s in allowed)
        raise JobStateError(f"job {job_id} is {state.value}; only {can} jobs can be {verb}", state)

    async def counts(self, *, name: str | None = None) -> dict[str, int]:
        """How many jobs (of this name, if given) are in each state (every state present,
        zeros included)."""
        where, params = ("", []) if name is None else (" WHERE name = ?", [name])
        rows = await self._db.fetch_all(
            f"SELECT state, COUNT(*) FROM jobs{where} GROUP BY state", *params
        )
        found = {str(row[0]): int(row[1]) for row in rows}
        return {state.value: found.get(state.value, 0) for state in JobState}

    async def unfinished(self) -> dict[str, int]:
        """How many jobs are queued and running: the counts a metrics scrape takes, read from
        the (state, ...) index without touching finished jobs."""
        rows = await self._db.fetch_all(
            "SELECT state, COUNT(*) FROM jobs WHERE state IN (?, ?) GROUP BY state",
            JobState.QUEUED.value,
            JobState.RUNNING.value,
        )
        found = {str(row[0]): int(row[1]) for row in rows}
        return {
            state.value: found.get(state.value, 0) for state in (JobState.QUEUED, JobState.RUNNING)
        }

    async def oldest_due(self) -> datetime | None:
        """When the queued job that has waited longest to run became due (None: none is due;
        a retry or a job scheduled for later waits for its time, not for a worker)."""
        due = await self._db.fetch_value(
            "SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND run_at <= ?",
            isoformat(self._clock.now()),
        )
        return None if due is None else parse_iso(due)

    async def purge(
        self,
        finished_before: datetime,
        states: tuple[JobState, ...] = (JobState.SUCCEEDED, JobState.CANCELLED),
    ) -> int:
        """Delete jobs that finished before a moment; returns how many. Their keys become
        free again. DEAD jobs are kept unless asked for: they wait for someone to look."""
        if not states or any(state not in FINISHED for state in states):
            raise ValueError("only succeeded, dead or cancelled jobs can be purged")
        marks = ", ".join("?" for _ in states)
        async with self._db.transaction() as conn:
            return await conn.execute(
                f"DELETE FROM jobs WHERE state IN ({marks}) AND finished_at < ?",
                *(state.value for state in states),
                isoformat(finished_before),
            )

    async def list(
        self,
        *,
        state: str | None = None,
        name: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> builtins.list[Job]:
        """Jobs newest first (ids are time-ordered). For the next page pass the last id seen
        as `after`."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        conditions: builtins.list[str] = []
        params: builtins.list[Any] = []
        if state is not None:
            conditions.append("state = ?")
            params.append(JobState(state).value)  # ValueError for an unknown state
        if name is not None:
            conditions.append("name = ?")
            params.append(name)
        if after is not None:
            conditions.append("id < ?")
            params.append(after)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._db.fetch_all(
            f"SELECT {COLUMNS} FROM jobs{where} ORDER BY id DESC LIMIT ?", *params, limit
        )
        return [job_from_row(row) for row in rows]


def _fence(job: Job, worker: str) -> tuple[str, str, int]:
    return job.id, worker, job.attempts


def _checked(
    name: str,
    payload: Any,
    run_at: datetime | None,
    key: str | None,
    max_attempts: int,
    max_payload_bytes: int | None,
) -> str:
    """The payload as JSON text, once the job's fields are known to be acceptable."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidJob("a job name is 1-128 letters, digits, '_', '.', ':' or '-'")
    if run_at is not None and run_at.tzinfo is None:
        raise InvalidJob("run_at must be timezone-aware")
    if key is not None and not (isinstance(key, str) and 1 <= len(key) <= MAX_KEY_LENGTH):
        raise InvalidJob(f"a job key is 1-{MAX_KEY_LENGTH} characters")
    if isinstance(max_attempts, bool) or not (
        isinstance(max_attempts, int) and 1 <= max_attempts <= 100
    ):
        raise InvalidJob("max_attempts is between 1 and 100")
    try:
        document = orjson.dumps(payload)
    except TypeError as exc:
        raise InvalidJob(f"the payload is not JSON: {exc}") from exc
    if max_payload_bytes is not None and len(document) > max_payload_bytes:
        raise InvalidJob(f"the payload is larger than {max_payload_bytes // 1024} KiB")
    return document.decode()
