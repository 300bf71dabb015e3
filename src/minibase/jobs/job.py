"""A job: one row of the `jobs` table, its states, and the errors the queue raises about it.

How a job moves:
- queued -> running: a worker claims it (when run_at is due); attempts + 1, a lease is taken.
- running -> succeeded: the handler returned (fenced: only the worker and attempt holding it).
- running -> queued: the handler failed and attempts are left (later run_at, last_error set),
  or its lease expired because the worker died (then claimable again at once).
- running -> dead: the handler failed without retry, or with its attempts used up.
- queued -> cancelled: by an admin. dead / cancelled / queued -> queued: `retry`, attempts reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from minibase.clock import isoformat, parse_iso
from minibase.store.database import Row


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})


class InvalidJob(ValueError):
    """The job cannot be enqueued as given (bad name, payload, run_at or max_attempts)."""


class JobNotFound(LookupError):
    """No job with this id."""


class JobStateError(Exception):
    """The job is in a state that does not allow this (e.g. cancelling a running job)."""

    def __init__(self, message: str, state: JobState) -> None:
        super().__init__(message)
        self.state = state


class LeaseLost(Exception):
    """Raised by a handler whose in-transaction `succeed(..., conn=conn)` returned False.

    Raising it rolls the handler's writes back: another worker owns the job now.
    """


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    payload: Any
    state: JobState
    attempts: int
    max_attempts: int
    run_at: datetime
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    key: str | None
    created: datetime
    updated: datetime
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "payload": self.payload,
            "state": self.state.value,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": isoformat(self.run_at),
            "lease_until": _text(self.lease_until),
            "worker": self.worker,
            "last_error": self.last_error,
            "key": self.key,
            "created": isoformat(self.created),
            "updated": isoformat(self.updated),
            "finished_at": _text(self.finished_at),
        }


COLUMNS = (
    "id, name, payload, state, attempts, max_attempts, run_at, lease_until, worker,"
    " last_error, key, created, updated, finished_at"
)


def job_from_row(row: Row) -> Job:
    """A row selected (or returned) with COLUMNS, in that order."""
    return Job(
        id=row[0],
        name=row[1],
        payload=orjson.loads(row[2]),
        state=JobState(row[3]),
        attempts=int(row[4]),
        max_attempts=int(row[5]),
        run_at=parse_iso(row[6]),
        lease_until=_moment(row[7]),
        worker=row[8],
        last_error=row[9],
        key=row[10],
        created=parse_iso(row[11]),
        updated=parse_iso(row[12]),
        finished_at=_moment(row[13]),
    )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else isoformat(moment)
