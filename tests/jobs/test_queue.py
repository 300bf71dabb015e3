"""The queue's state machine on both engines: enqueue, claim, leases, fencing, admin actions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from minibase.clock import FrozenClock
from minibase.jobs import InvalidJob, Job, JobNotFound, JobQueue, JobState, JobStateError
from minibase.services import Services


async def _stored(queue: JobQueue, job_id: str) -> Job:
    job = await queue.get(job_id)
    assert job is not None
    return job


async def test_enqueued_job_is_claimed_once_and_succeeds(queue: JobQueue) -> None:
    job = await queue.enqueue("mail.send", {"to": "a@example.com", "n": [1, 2]})
    assert (job.state, job.attempts, job.max_attempts) == (JobState.QUEUED, 0, 10)

    [claimed] = await queue.claim("w1", limit=5, lease_seconds=30)
    assert claimed.id == job.id
    assert (claimed.state, claimed.worker, claimed.attempts) == (JobState.RUNNING, "w1", 1)
    assert claimed.payload == {"to": "a@example.com", "n": [1, 2]}
    assert claimed.lease_until == claimed.updated + timedelta(seconds=30)
    assert await queue.claim("w2", limit=5, lease_seconds=30) == []

    assert await queue.succeed(claimed, "w1") is True
    done = await _stored(queue, job.id)
    assert (done.state, done.lease_until, done.finished_at) == (
        JobState.SUCCEEDED,
        None,
        done.updated,
    )
    assert await queue.succeed(claimed, "w1") is False  # completing twice does nothing


async def test_claim_takes_oldest_run_at_first_up_to_the_limit(
    queue: JobQueue, clock: FrozenClock
) -> None:
    now = clock.now()
    late = await queue.enqueue("a", run_at=now - timedelta(seconds=1))
    early = await queue.enqueue("b", run_at=now - timedelta(seconds=5))
    middle = await queue.enqueue("c", run_at=now - timedelta(seconds=3))

    first = await queue.claim("w", limit=2, lease_seconds=10)
    second = await queue.claim("w", limit=2, lease_seconds=10)

    assert [j.id for j in first] == [early.id, middle.id]
    assert [j.id for j in second] == [late.id]


async def test_enqueue_in_a_transaction_that_rolls_back_leaves_no_job(
    queue: JobQueue, services: Services
) -> None:
    async def enqueue_then_fail() -> None:
        async with services.db.transaction() as conn:
            await queue.enqueue("hook.after_create", {"id": "r1"}, conn=conn)
            raise RuntimeError("caller failed")

    with pytest.raises(RuntimeError, match="caller failed"):
        await enqueue_then_fail()
    assert await queue.list() == []

    async with services.db.transaction() as conn:
        kept = await queue.enqueue("hook.after_create", {"id": "r2"}, conn=conn)
    assert [job.id for job in await queue.list()] == [kept.id]


async def test_enqueue_with_a_taken_key_returns_the_existing_job(queue: JobQueue) -> None:
    first = await queue.enqueue("pay.fulfil", {"order": 1}, key="fulfil:1")
    again = await queue.enqueue("pay.fulfil", {"order": 1}, key="fulfil:1")
    assert again == first

    [claimed] = await queue.claim("w", limit=1, lease_seconds=10)
    await queue.succeed(claimed, "w")
    after_success = await queue.enqueue("pay.fulfil", {"order": 1}, key="fulfil:1")
    assert (after_success.id, after_success.state) == (first.id, JobState.SUCCEEDED)
    assert (await queue.counts())["queued"] == 0


async def test_keyed_enqueue_in_the_callers_transaction_sees_its_own_job(
    queue: JobQueue, services: Services
) -> None:
    async with services.db.transaction() as conn:
        first = await queue.enqueue("x", key="k", conn=conn)
        second = await queue.enqueue("x", key="k", conn=conn)
    assert first.id == second.id
    assert len(await queue.list()) == 1


async def test_job_due_later_is_not_claimed_before_its_time(
    queue: JobQueue, clock: FrozenClock
) -> None:
    job = await queue.enqueue("report.daily", run_at=clock.now() + timedelta(minutes=5))
    assert await queue.claim("w", limit=1, lease_seconds=10) == []

    clock.advance(minutes=4, seconds=59)
    assert await queue.claim("w", limit=1, lease_seconds=10) == []

    clock.advance(seconds=1)
    assert [j.id for j in await queue.claim("w", limit=1, lease_seconds=10)] == [job.id]


async def test_failed_attempt_goes_back_to_the_queue_until_attempts_run_out(
    queue: JobQueue, clock: FrozenClock
) -> None:
    await queue.enqueue("flaky", max_attempts=2)
    [first] = await queue.claim("w", limit=1, lease_seconds=10)
    retried = await queue.fail(first, "w", "ValueError: nope", retry_in=60)
    assert retried is not None
    assert (retried.state, retried.last_error, retried.worker) == (
        JobState.QUEUED,
        "ValueError: nope",
        None,
    )
    assert retried.run_at == clock.now() + timedelta(seconds=60)

    clock.advance(seconds=60)
    [second] = await queue.claim("w", limit=1, lease_seconds=10)
    assert second.attempts == 2
    dead = await queue.fail(second, "w", "ValueError: still", retry_in=60)
    assert dead is not None
    assert (dead.state, dead.last_error, dead.finished_at) == (
        JobState.DEAD,
        "ValueError: still",
        clock.now(),
    )


async def test_fail_without_retry_is_dead_at_once(queue: JobQueue) -> None:
    await queue.enqueue("x")
    [job] = await queue.claim("w", limit=1, lease_seconds=10)
    dead = await queue.fail(job, "w", "bad payload", retry_in=None)
    assert dead is not None
    assert (dead.state, dead.attempts) == (JobState.DEAD, 1)


async def test_worker_whose_lease_was_taken_over_cannot_complete_or_fail_the_job(
    queue: JobQueue, clock: FrozenClock
) -> None:
    job = await queue.enqueue("x")
    [held_by_a] = await queue.claim("a", limit=1, lease_seconds=5)
    clock.advance(seconds=6)
    [held_by_b] = await queue.claim("b", limit=1, lease_seconds=5)
    assert (held_by_b.id, held_by_b.worker, held_by_b.attempts) == (job.id, "b", 2)
    assert held_by_b.last_error == "lease expired on worker a during attempt 1"

    assert await queue.succeed(held_by_a, "a") is False
    assert await queue.fail(held_by_a, "a", "late", retry_in=1) is None
    assert await queue.extend(held_by_a, "a", 5) is False
    assert await queue.succeed(held_by_b, "b") is True


async def test_the_same_worker_cannot_complete_an_earlier_attempt(
    queue: JobQueue, clock: FrozenClock
) -> None:
    await queue.enqueue("x")
    [first] = await queue.claim("a", limit=1, lease_seconds=5)
    clock.advance(seconds=6)
    [second] = await queue.claim("a", limit=1, lease_seconds=5)
    assert await queue.succeed(first, "a") is False
    assert await queue.succeed(second, "a") is True


async def test_extending_the_lease_keeps_a_long_job_from_being_reclaimed(
    queue: JobQueue, clock: FrozenClock
) -> None:
    await queue.enqueue("long")
    [job] = await queue.claim("a", limit=1, lease_seconds=5)
    for _ in range(4):
        clock.advance(seconds=4)
        assert await queue.extend(job, "a", 5) is True
        assert await queue.claim("b", limit=1, lease_seconds=5) == []
    assert await queue.succeed(job, "a") is True


async def test_job_whose_worker_died_on_its_last_attempt_is_dead(
    queue: JobQueue, clock: FrozenClock
) -> None:
    job = await queue.enqueue("crashes_the_worker", max_attempts=1)
    await queue.claim("a", limit=1, lease_seconds=5)
    clock.advance(seconds=6)
    assert await queue.claim("b", limit=1, lease_seconds=5) == []
    dead = await _stored(queue, job.id)
    assert (dead.state, dead.worker, dead.finished_at) == (JobState.DEAD, "a", clock.now())
    assert dead.last_error == "lease expired on worker a during attempt 1"


async def test_succeed_in_the_handlers_transaction_rolls_back_with_it(
    queue: JobQueue, services: Services
) -> None:
    job = await queue.enqueue("x")
    [claimed] = await queue.claim("w", limit=1, lease_seconds=5)

    async def succeed_then_fail() -> None:
        async with services.db.transaction() as conn:
            assert await queue.succeed(claimed, "w", conn=conn) is True
            raise RuntimeError("the handler's write failed")

    with pytest.raises(RuntimeError):
        await succeed_then_fail()
    assert (await _stored(queue, job.id)).state is JobState.RUNNING

    async with services.db.transaction() as conn:
        assert await queue.succeed(claimed, "w", conn=conn) is True
    assert (await _stored(queue, job.id)).state is JobState.SUCCEEDED


async def test_dead_job_retried_runs_again_with_attempts_reset(
    queue: JobQueue, clock: FrozenClock
) -> None:
    await queue.enqueue("x", max_attempts=1)
    [job] = await queue.claim("w", limit=1, lease_seconds=5)
    await queue.fail(job, "w", "boom", retry_in=10)

    clock.advance(seconds=30)
    retried = await queue.retry(job.id)
    assert (retried.state, retried.attempts, retried.run_at) == (JobState.QUEUED, 0, clock.now())
    assert (retried.finished_at, retried.last_error) == (None, "boom")
    [again] = await queue.claim("w", limit=1, lease_seconds=5)
    assert again.attempts == 1


async def test_queued_job_is_cancelled_and_can_be_retried(queue: JobQueue) -> None:
    job = await queue.enqueue("x")
    cancelled = await queue.cancel(job.id)
    assert cancelled.state is JobState.CANCELLED
    assert await queue.claim("w", limit=1, lease_seconds=5) == []
    assert (await queue.retry(job.id)).state is JobState.QUEUED


async def test_running_and_finished_jobs_cannot_be_cancelled(queue: JobQueue) -> None:
    job = await queue.enqueue("x")
    [claimed] = await queue.claim("w", limit=1, lease_seconds=5)
    with pytest.raises(JobStateError, match="is running; only queued jobs can be cancelled"):
        await queue.cancel(job.id)
    with pytest.raises(JobStateError, match="is running"):
        await queue.retry(job.id)
    await queue.succeed(claimed, "w")
    with pytest.raises(JobStateError) as raised:
        await queue.cancel(job.id)
    assert raised.value.state is JobState.SUCCEEDED
    with pytest.raises(JobStateError, match="only dead or cancelled or queued jobs"):
        await queue.retry(job.id)
    with pytest.raises(JobNotFound):
        await queue.cancel("nope")


async def test_list_is_newest_first_filtered_and_paged(queue: JobQueue) -> None:
    jobs = [await queue.enqueue("mail.send" if i % 2 else "sms.send", {"i": i}) for i in range(5)]
    await queue.cancel(jobs[0].id)

    assert [j.id for j in await queue.list()] == [j.id for j in reversed(jobs)]
    assert [j.id for j in await queue.list(name="mail.send")] == [jobs[3].id, jobs[1].id]
    assert [j.id for j in await queue.list(state="cancelled")] == [jobs[0].id]
    page = await queue.list(limit=2)
    rest = await queue.list(limit=2, after=page[-1].id)
    assert [j.id for j in page + rest] == [j.id for j in reversed(jobs)][:4]
    with pytest.raises(ValueError, match="'bogus' is not a valid JobState"):
        await queue.list(state="bogus")
    assert await queue.counts() == {
        "queued": 4,
        "running": 0,
        "succeeded": 0,
        "dead": 0,
        "cancelled": 1,
    }
    assert (await queue.counts(name="sms.send"))["queued"] == 2  # jobs 2 and 4; 0 is cancelled


async def test_to_json_renders_times_as_iso_text(queue: JobQueue) -> None:
    job = await queue.enqueue("x", [1, "two"], key="k1")
    body = job.to_json()
    assert body["payload"] == [1, "two"]
    assert body["state"] == "queued"
    assert body["run_at"] == "2026-01-01T00:00:00.000000Z"
    assert body["lease_until"] is None
    assert body["key"] == "k1"


async def test_purge_deletes_old_finished_jobs_and_frees_their_keys(
    queue: JobQueue, clock: FrozenClock
) -> None:
    await queue.enqueue("x", key="once")
    [job] = await queue.claim("w", limit=1, lease_seconds=5)
    await queue.succeed(job, "w")
    waiting = await queue.enqueue("y")
    clock.advance(days=8)
    assert await queue.purge(clock.now() - timedelta(days=7)) == 1
    assert [j.id for j in await queue.list()] == [waiting.id]
    assert (await queue.enqueue("x", key="once")).id != job.id


BAD_JOBS: list[tuple[str, object, dict[str, Any], str]] = [
    ("", None, {}, "job name"),
    ("has space", None, {}, "job name"),
    ("x" * 129, None, {}, "job name"),
    ("ok", {1, 2}, {}, "not JSON"),
    ("ok", "x" * (256 * 1024), {}, "larger than 256 KiB"),
    ("ok", None, {"max_attempts": 0}, "max_attempts"),
    ("ok", None, {"max_attempts": 101}, "max_attempts"),
    ("ok", None, {"key": ""}, "key"),
    ("ok", None, {"run_at": datetime(2026, 1, 1)}, "timezone"),  # naive
]


async def test_enqueue_refuses_bad_jobs(queue: JobQueue) -> None:
    for name, payload, options, message in BAD_JOBS:
        with pytest.raises(InvalidJob, match=message):
            await queue.enqueue(name, payload, **options)
    assert await queue.list() == []
