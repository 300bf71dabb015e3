"""`@job` handlers: what they declare holds for the jobs enqueued to them, they see the job they
run, and `tx.complete_job()` makes a handler's writes and its job's completion one commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.functions.conftest import run_jobs

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.functions.context import ADMIN
from minibase.jobs import InvalidJob, Job, JobState
from minibase.services import Services, open_services

FUNCTIONS = """
    from minibase.functions import job

    @job("flaky_mail", max_attempts=2)
    async def flaky_mail(ctx, payload):
        raise ConnectionError("the mail server is down")

    @job("stamp_once")
    async def stamp_once(ctx, payload):
        async with ctx.transaction() as tx:
            await tx.records_as_admin.create("stamps", {"job": ctx.job.id, "try": ctx.job.attempts})
            await tx.complete_job()
        raise RuntimeError("the worker dies right after the commit")

    @job("stamp_at_least_once")
    async def stamp_at_least_once(ctx, payload):
        async with ctx.transaction() as tx:
            await tx.records_as_admin.create("stamps", {"job": ctx.job.id, "try": ctx.job.attempts})
        raise RuntimeError("the worker dies right after the commit")

    @job("stamp_then_fail")
    async def stamp_then_fail(ctx, payload):
        async with ctx.transaction() as tx:
            await tx.records_as_admin.create("stamps", {"job": ctx.job.id, "try": ctx.job.attempts})
            await tx.complete_job()
            raise ValueError("changed its mind inside the transaction")
"""


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        await create_collection(opened, {"name": "stamps"})
        yield opened
    finally:
        await opened.close()


async def _enqueue(services: Services, name: str) -> Job:
    ctx = await services.functions.context(ADMIN, "test")
    job: Job = await ctx.jobs.enqueue(name, {})
    return job


async def _stored(services: Services, job_id: str) -> Job:
    job = await services.jobs.get(job_id)
    assert job is not None
    return job


async def _stamps(services: Services) -> list[tuple[str, int]]:
    ctx = await services.functions.context(ADMIN, "test")
    items = (await ctx.records_as_admin.list("stamps", sort="_created", limit=100))["items"]
    return [(item["job"], item["try"]) for item in items]


async def test_a_job_enqueued_without_max_attempts_gets_the_handlers_declared_one(
    services: Services, clock: FrozenClock
) -> None:
    job = await _enqueue(services, "flaky_mail")
    assert job.max_attempts == 2
    assert await run_jobs(services) == 1
    clock.advance(seconds=10)  # past the first backoff
    assert await run_jobs(services) == 1
    dead = await _stored(services, job.id)
    assert (dead.state, dead.attempts) == (JobState.DEAD, 2)
    assert dead.last_error == "ConnectionError: the mail server is down"


async def test_a_job_that_completes_in_its_transaction_never_runs_again(
    services: Services, clock: FrozenClock
) -> None:
    job = await _enqueue(services, "stamp_once")
    assert await run_jobs(services) == 1
    clock.advance(minutes=5)
    assert await run_jobs(services) == 0
    done = await _stored(services, job.id)
    assert (done.state, done.attempts, done.last_error) == (JobState.SUCCEEDED, 1, None)
    assert await _stamps(services) == [(job.id, 1)]


async def test_a_job_that_only_writes_runs_again_when_it_fails_after_the_commit(
    services: Services, clock: FrozenClock
) -> None:
    job = await _enqueue(services, "stamp_at_least_once")
    assert await run_jobs(services) == 1
    clock.advance(seconds=10)
    assert await run_jobs(services) == 1
    assert await _stamps(services) == [(job.id, 1), (job.id, 2)]  # at least once: twice here


async def test_a_transaction_that_rolls_back_takes_the_completion_with_it(
    services: Services, clock: FrozenClock
) -> None:
    job = await _enqueue(services, "stamp_then_fail")
    assert await run_jobs(services) == 1
    failed = await _stored(services, job.id)
    assert (failed.state, failed.attempts) == (JobState.QUEUED, 1)
    assert failed.last_error == "ValueError: changed its mind inside the transaction"
    assert await _stamps(services) == []


async def test_complete_job_outside_a_job_is_refused(services: Services) -> None:
    ctx = await services.functions.context(ADMIN, "test")
    with pytest.raises(RuntimeError, match="for job handlers"):
        async with ctx.transaction() as tx:
            await tx.complete_job()


async def test_functions_cannot_enqueue_minibases_own_jobs(services: Services) -> None:
    ctx = await services.functions.context(ADMIN, "test")
    with pytest.raises(InvalidJob, match="minibase's own jobs"):
        await ctx.jobs.enqueue("minibase.schedule", {"schedule": "nightly"})
    assert await services.jobs.list() == []
