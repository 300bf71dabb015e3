"""Workers on both engines: handlers run, fail, time out, retry with backoff, die; the run loop
starts on a wake-up, renews leases, lets go of a lost job, and stops cleanly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from minibase.clock import FrozenClock, SystemClock
from minibase.ids import IdGenerator
from minibase.jobs import Backoff, Handler, Job, JobQueue, JobState, JobWorker, LeaseLost
from minibase.services import Services

STEADY = Backoff(base=10, factor=2, jitter=0)


def only(handler: Handler) -> Callable[[str], Handler | None]:
    return lambda name: handler


async def _stored(queue: JobQueue, job_id: str) -> Job:
    job = await queue.get(job_id)
    assert job is not None
    return job


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_handler_gets_the_job_and_success_is_recorded(queue: JobQueue) -> None:
    seen: list[tuple[str, str, int]] = []

    async def handler(job: Job) -> None:
        seen.append((job.name, job.payload["to"], job.attempts))

    first = await queue.enqueue("mail.send", {"to": "a"})
    second = await queue.enqueue("mail.send", {"to": "b"})
    assert await JobWorker(queue, only(handler)).run_until_idle() == 2
    assert sorted(seen) == [("mail.send", "a", 1), ("mail.send", "b", 1)]
    for job in (first, second):
        assert (await _stored(queue, job.id)).state is JobState.SUCCEEDED


async def test_failing_handler_is_retried_with_backoff_then_dead_with_its_error(
    queue: JobQueue, clock: FrozenClock
) -> None:
    async def declined(job: Job) -> None:
        raise ValueError("card declined")

    job = await queue.enqueue("pay.capture", max_attempts=3)
    worker = JobWorker(queue, only(declined), backoff=STEADY)

    for attempt, delay in ((1, 10), (2, 20)):
        assert await worker.run_until_idle() == 1
        waiting = await _stored(queue, job.id)
        assert (waiting.state, waiting.attempts) == (JobState.QUEUED, attempt)
        assert waiting.last_error == "ValueError: card declined"
        assert (waiting.run_at - clock.now()).total_seconds() == delay
        assert await worker.run_until_idle() == 0, "not before its backoff"
        clock.advance(seconds=delay)

    assert await worker.run_until_idle() == 1
    dead = await _stored(queue, job.id)
    assert (dead.state, dead.attempts, dead.last_error) == (
        JobState.DEAD,
        3,
        "ValueError: card declined",
    )
    assert await worker.run_until_idle() == 0


async def test_job_without_a_handler_is_retried_until_dead(
    queue: JobQueue, clock: FrozenClock
) -> None:
    job = await queue.enqueue("later.deployed", max_attempts=2)
    worker = JobWorker(queue, lambda name: None, backoff=STEADY)
    assert await worker.run_until_idle() == 1
    waiting = await _stored(queue, job.id)
    assert (waiting.state, waiting.last_error) == (
        JobState.QUEUED,
        "no handler for job later.deployed",
    )
    clock.advance(seconds=10)
    assert await worker.run_until_idle() == 1
    assert (await _stored(queue, job.id)).state is JobState.DEAD


async def test_handler_deployed_before_the_retry_runs_the_job(
    queue: JobQueue, clock: FrozenClock
) -> None:
    handlers: dict[str, Handler] = {}
    job = await queue.enqueue("later.deployed")
    worker = JobWorker(queue, handlers.get, backoff=STEADY)
    await worker.run_until_idle()

    async def deployed(job: Job) -> None:
        pass

    handlers["later.deployed"] = deployed
    clock.advance(seconds=10)
    assert await worker.run_until_idle() == 1
    assert (await _stored(queue, job.id)).state is JobState.SUCCEEDED


async def test_handler_past_its_timeout_is_cancelled_and_the_attempt_failed(
    queue: JobQueue,
) -> None:
    cancelled = asyncio.Event()

    async def stuck(job: Job) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = await queue.enqueue("stuck")
    started = time.monotonic()
    assert await JobWorker(queue, only(stuck), timeout=0.2).run_until_idle() == 1
    assert time.monotonic() - started < 2
    assert cancelled.is_set()
    failed = await _stored(queue, job.id)
    assert (failed.state, failed.last_error) == (JobState.QUEUED, "timed out after 0.2 s")


async def test_handler_completing_in_its_own_transaction_commits_with_its_writes(
    queue: JobQueue, services: Services
) -> None:
    async with services.db.transaction() as conn:
        await conn.execute("CREATE TABLE fulfilled (order_id TEXT PRIMARY KEY)")

    async def fulfil(job: Job) -> None:
        assert job.worker is not None
        async with services.db.transaction() as conn:
            await conn.execute("INSERT INTO fulfilled VALUES (?)", job.payload["order"])
            if not await queue.succeed(job, job.worker, conn=conn):
                raise LeaseLost(job.id)

    job = await queue.enqueue("pay.fulfil", {"order": "o1"})
    assert await JobWorker(queue, only(fulfil)).run_until_idle() == 1
    assert (await _stored(queue, job.id)).state is JobState.SUCCEEDED
    assert await services.db.fetch_value("SELECT COUNT(*) FROM fulfilled") == 1


async def test_enqueue_wakes_a_running_worker_at_once(queue: JobQueue) -> None:
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        ran.set()

    stop = asyncio.Event()
    worker = JobWorker(queue, only(handler), poll_interval=30)
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)  # the worker is idle, waiting for its 30 s poll
    started = time.monotonic()
    job = await queue.enqueue("x")
    await asyncio.wait_for(ran.wait(), 5)
    assert time.monotonic() - started < 1
    stop.set()
    await asyncio.wait_for(running, 5)
    assert (await _stored(queue, job.id)).state is JobState.SUCCEEDED


async def test_enqueue_in_a_transaction_wakes_the_worker_when_it_commits(
    services: Services, queue: JobQueue
) -> None:
    ran: list[str] = []

    async def handler(job: Job) -> None:
        ran.append(job.payload)

    stop = asyncio.Event()
    worker = JobWorker(queue, only(handler), poll_interval=30)
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)  # idle, waiting for its 30 s poll

    async def enqueue_then_fail() -> None:
        async with services.db.transaction() as conn:
            await queue.enqueue("x", "rolled back", conn=conn)
            raise RuntimeError("the caller's write failed")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    async with services.db.transaction() as conn:
        await queue.enqueue("x", "committed", conn=conn)
        await asyncio.sleep(0.1)
        assert ran == [], "nothing runs before the commit"
    await _eventually(lambda: _true(ran == ["committed"]), seconds=1)
    stop.set()
    await asyncio.wait_for(running, 5)


async def _true(value: bool) -> bool:
    return value


async def test_stopping_lets_running_jobs_finish_and_claims_no_more(queue: JobQueue) -> None:
    release, busy = asyncio.Event(), asyncio.Event()
    started: list[str] = []

    async def handler(job: Job) -> None:
        started.append(job.id)
        busy.set()
        await release.wait()

    first = await queue.enqueue("x")
    stop = asyncio.Event()
    running = asyncio.create_task(JobWorker(queue, only(handler), concurrency=1).run(stop))
    await asyncio.wait_for(busy.wait(), 5)
    second = await queue.enqueue("x")
    stop.set()
    await asyncio.sleep(0.05)
    assert not running.done(), "waits for the running job"
    release.set()
    await asyncio.wait_for(running, 5)
    assert (await _stored(queue, first.id)).state is JobState.SUCCEEDED
    assert (await _stored(queue, second.id)).state is JobState.QUEUED
    assert started == [first.id]


async def test_job_still_running_after_the_shutdown_grace_goes_back_to_the_queue(
    queue: JobQueue, clock: FrozenClock
) -> None:
    started = asyncio.Event()

    async def endless(job: Job) -> None:
        started.set()
        await asyncio.sleep(60)

    job = await queue.enqueue("x")
    stop = asyncio.Event()
    worker = JobWorker(queue, only(endless), shutdown_grace=0.1)
    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    back = await _stored(queue, job.id)
    assert (back.state, back.run_at, back.last_error) == (
        JobState.QUEUED,
        clock.now(),
        "interrupted: the worker stopped",
    )


async def test_worker_renews_the_lease_of_a_long_handler(services: Services) -> None:
    clock = SystemClock()  # leases run out in real time here
    queue = JobQueue(services.db, clock, IdGenerator(clock))

    async def long(job: Job) -> None:
        await asyncio.sleep(1.2)

    job = await queue.enqueue("long")
    stop = asyncio.Event()
    worker = JobWorker(queue, only(long), lease_seconds=0.6, poll_interval=0.05)
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(11):  # past the first lease, twice over
            await asyncio.sleep(0.1)
            assert await queue.claim("other", limit=1, lease_seconds=1) == []
        await _eventually(lambda: _in_state(queue, job.id, JobState.SUCCEEDED))
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    assert (await _stored(queue, job.id)).attempts == 1


async def test_handler_that_completed_itself_is_not_stopped_when_renewal_finds_it_done(
    services: Services,
) -> None:
    clock = SystemClock()
    queue = JobQueue(services.db, clock, IdGenerator(clock))
    tail_ran = asyncio.Event()

    async def complete_then_tidy_up(job: Job) -> None:
        assert job.worker is not None
        async with services.db.transaction() as conn:
            assert await queue.succeed(job, job.worker, conn=conn)
        await asyncio.sleep(0.5)  # past two renewals, which find the job succeeded
        tail_ran.set()

    job = await queue.enqueue("x")
    worker = JobWorker(queue, only(complete_then_tidy_up), lease_seconds=0.3)
    assert await worker.run_until_idle() == 1
    assert tail_ran.is_set(), "the handler ran to its end"
    done = await _stored(queue, job.id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 1)


async def test_worker_that_lost_its_lease_stops_the_handler_and_leaves_the_job(
    queue: JobQueue, clock: FrozenClock
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def long(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = await queue.enqueue("long")
    stop = asyncio.Event()
    # The first heartbeat comes after a second (lease / 3): b takes the job before it.
    worker = JobWorker(queue, only(long), lease_seconds=3, worker_id="a")
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(started.wait(), 5)
        clock.advance(seconds=10)  # a stalled worker: its lease ran out
        [taken] = await queue.claim("b", limit=1, lease_seconds=60)
        await asyncio.wait_for(cancelled.wait(), 5)
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    held = await _stored(queue, job.id)
    assert (held.state, held.worker, held.attempts) == (JobState.RUNNING, "b", taken.attempts)


async def test_worker_runs_up_to_its_concurrency_at_once(queue: JobQueue) -> None:
    active, peak = 0, 0

    async def handler(job: Job) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    for _ in range(7):
        await queue.enqueue("x")
    assert await JobWorker(queue, only(handler), concurrency=3).run_until_idle() == 7
    assert peak == 3


def test_backoff_grows_by_its_factor_up_to_its_cap() -> None:
    backoff = Backoff(base=1, factor=2, cap=60, jitter=0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 7, 8, 100, 5000)] == [
        1,
        2,
        4,
        8,
        60,
        60,
        60,
        60,
    ]
    jittered = Backoff(base=10, jitter=0.1)
    assert all(9 <= jittered.delay(1) <= 11 for _ in range(100))
    with pytest.raises(ValueError, match="backoff"):
        Backoff(factor=0.5)


async def _in_state(queue: JobQueue, job_id: str, state: JobState) -> bool:
    return (await _stored(queue, job_id)).state is state
