"""A worker: claims due jobs, runs their handlers concurrently under a lease, records outcomes.

Delivery is at least once: a handler may run again after its worker died mid-way (or lost its
lease), so handlers are idempotent, or complete the job in their own transaction
(`queue.succeed(job, job.worker, conn=conn)`) to make their writes and the completion one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from minibase.jobs.job import Job, JobState
from minibase.jobs.queue import JobQueue

log = logging.getLogger("minibase.jobs")

Handler = Callable[[Job], Awaitable[None]]

# How long a cancelled handler may take to unwind (one that swallows the cancellation is
# abandoned after this; its job then follows the lease).
CANCEL_GRACE = 5.0


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before attempt n+1: base * factor**(n-1), capped, then +- jitter."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.base < 0 or self.factor < 1 or self.cap < 0 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs base >= 0, factor >= 1, cap >= 0, 0 <= jitter < 1")

    def delay(self, attempt: int) -> float:
        try:
            raw = self.base * self.factor ** max(0, attempt - 1)
        except OverflowError:
            raw = self.cap
        seconds = min(self.cap, raw)
        if self.jitter:  # spreads retries of jobs that failed together; not a secret
            seconds *= random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311
        return seconds


def default_worker_id() -> str:
    """hostname:pid:random — tells workers apart in the jobs table and in logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def describe(error: BaseException) -> str:
    """The error text stored on the job (the traceback goes to the log only)."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class JobWorker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Callable[[str], Handler | None],
        *,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        timeout: float = 300.0,
        backoff: Backoff = Backoff(),  # frozen: one shared default is safe
        worker_id: str | None = None,
        shutdown_grace: float = 30.0,
    ) -> None:
        if concurrency < 1 or lease_seconds <= 0 or poll_interval <= 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, and lease, poll interval and timeout > 0")
        self.queue = queue
        self.handlers = handlers
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.backoff = backoff
        self.worker_id = worker_id or default_worker_id()
        self.shutdown_grace = shutdown_grace
        self._handling: dict[str, asyncio.Task[None]] = {}  # job id -> its handler's task
        self._interrupted = False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then claim nothing more, give running jobs
        `shutdown_grace` seconds to finish, and put the rest back in the queue."""
        running: set[asyncio.Task[None]] = set()
        self._interrupted = False
        with self.queue.wakeups() as wakeup:
            try:
                while not stop.is_set():
                    wakeup.clear()  # before claiming: a wake() during the claim is kept
                    free = self.concurrency - len(running)
                    claimed = await self._claim(free) if free else []
                    for job in claimed:
                        task = asyncio.create_task(self._attempt(job), name=f"job {job.id}")
                        running.add(task)
                        task.add_done_callback(running.discard)
                    if free and len(claimed) == free:
                        continue  # every slot was filled: more may be due
                    await _first_of(stop, wakeup, running, self.poll_interval)
            except asyncio.CancelledError:
                for task in running:  # their jobs stay RUNNING until the lease runs out
                    task.cancel()
                raise
            await self._drain(running)

    async def run_until_idle(self) -> int:
        """Claim and run jobs until none is due; returns how many attempts ran."""
        ran = 0
        while True:
            jobs = await self.queue.claim(
                self.worker_id, limit=self.concurrency, lease_seconds=self.lease_seconds
            )
            if not jobs:
                return ran
            await asyncio.gather(*(self._attempt(job) for job in jobs))
            ran += len(jobs)

    async def _claim(self, limit: int) -> list[Job]:
        try:
            return await self.queue.claim(
                self.worker_id, limit=limit, lease_seconds=self.lease_seconds
            )
        except Exception:  # the database is away: try again at the next poll
            log.exception("claiming jobs failed")
            return []

    async def _drain(self, running: set[asyncio.Task[None]]) -> None:
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=self.shutdown_grace)
        if pending:
            self._interrupted = True
            for handler in self._handling.values():
                handler.cancel()
            _, stuck = await asyncio.wait(pending, timeout=CANCEL_GRACE)  # each records it
            for task in stuck:  # a handler that ignores cancellation: its lease runs out
                task.cancel()

    # -- one attempt ----------------------------------------------------------------------

    async def _attempt(self, job: Job) -> None:
        try:
            handler = self.handlers(job.name)
        except Exception as exc:
            log.exception("finding the handler of job %s (%s) failed", job.id, job.name)
            await self._failed(job, describe(exc))
            return
        if handler is None:
            await self._failed(job, f"no handler for job {job.name}")
            return
        task = asyncio.create_task(_call(handler, job), name=f"handler {job.name} {job.id}")
        self._handling[job.id] = task
        try:
            finished = await self._watch(job, task)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self._handling.pop(job.id, None)
        if finished:
            await self._settle(job, task)

    async def _watch(self, job: Job, task: asyncio.Task[None]) -> bool:
        """Renew the lease while the handler runs; False if it was stopped (and recorded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        renewing = True
        while not task.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                await _cancelled(task)
                await self._failed(job, f"timed out after {self.timeout:g} s")
                return False
            await asyncio.wait({task}, timeout=min(self.lease_seconds / 3, remaining))
            if task.done() or not renewing or await self._extend(job):
                continue
            if await self._completed_itself(job):  # in its own transaction: let it finish
                renewing = False
                continue
            await _cancelled(task)
            log.warning("job %s (%s): lease lost; its handler was stopped", job.id, job.name)
            return False
        return True

    async def _completed_itself(self, job: Job) -> bool:
        try:
            current = await self.queue.get(job.id)
        except Exception:
            log.exception("reading job %s failed", job.id)
            return False
        return current is not None and _completed_by(current, job, self.worker_id)

    async def _extend(self, job: Job) -> bool:
        try:
            return await self.queue.extend(job, self.worker_id, self.lease_seconds)
        except Exception:  # keep going: the lease may still hold when the database is back
            log.exception("renewing the lease of job %s failed", job.id)
            return True

    async def _settle(self, job: Job, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            if self._interrupted:  # shutdown: back to the queue at once, for another worker
                await self._record(job, "interrupted: the worker stopped", retry_in=0.0)
            else:
                await self._failed(job, "CancelledError: the handler was cancelled")
            return
        error = task.exception()
        if error is not None:
            log.warning(
                "job %s (%s) attempt %d failed", job.id, job.name, job.attempts, exc_info=error
            )
            await self._failed(job, describe(error))
            return
        try:
            if await self.queue.succeed(job, self.worker_id):
                return
        except Exception:  # the lease runs out and the job runs again: at least once
            log.exception("recording the success of job %s failed", job.id)
            return
        if not await self._completed_itself(job):
            log.warning("job %s (%s) finished after its lease was lost", job.id, job.name)

    async def _failed(self, job: Job, error: str) -> None:
        """A failed attempt, retried after the backoff delay (or DEAD when none is left)."""
        await self._record(job, error, retry_in=self.backoff.delay(job.attempts))

    async def _record(self, job: Job, error: str, *, retry_in: float) -> None:
        try:
            failed = await self.queue.fail(job, self.worker_id, error, retry_in=retry_in)
        except Exception:
            log.exception("recording the failure of job %s failed", job.id)
            return
        if failed is None:
            log.warning("job %s (%s) failed after its lease was lost", job.id, job.name)
        elif failed.state is JobState.DEAD:
            log.error(
                "job %s (%s) is dead after %d attempts: %s",
                job.id,
                job.name,
                failed.attempts,
                error,
            )


async def _call(handler: Handler, job: Job) -> None:
    await handler(job)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_GRACE)


def _completed_by(current: Job, job: Job, worker: str) -> bool:
    """The handler completed its own job in its transaction (worker and attempt match)."""
    return (
        current.state is JobState.SUCCEEDED
        and current.worker == worker
        and current.attempts == job.attempts
    )


async def _first_of(
    stop: asyncio.Event,
    wakeup: asyncio.Event,
    running: Iterable[asyncio.Task[None]],
    poll_interval: float,
) -> None:
    """Wait for a stop, a wake-up, a freed slot, or the poll interval, whichever comes first."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wakeup.wait())]
    try:
        await asyncio.wait(
            [*waiters, *running], timeout=poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
