"""What runs beside the server: the purge of old finished jobs keeps the table from growing
forever, but never takes a dead job nobody has looked at."""

from __future__ import annotations

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.functions.background import Background
from minibase.jobs import JobState, JobWorker
from minibase.services import open_services


async def test_finished_jobs_are_purged_after_the_retention_and_dead_ones_kept(
    settings: Settings, clock: FrozenClock
) -> None:
    services = await open_services(settings.replace(job_retention_days=7), clock=clock)
    try:
        queue = services.jobs

        async def ok(job: object) -> None:
            return None

        async def broken(job: object) -> None:
            raise RuntimeError("never works")

        handlers = {"ok": ok, "broken": broken}
        old_ok = await queue.enqueue("ok", key="old")
        old_broken = await queue.enqueue("broken", max_attempts=1)
        old_cancelled = await queue.enqueue("ok", run_at=clock.now().replace(year=2030))
        await queue.cancel(old_cancelled.id)
        await JobWorker(queue, handlers.get).run_until_idle()
        clock.advance(days=6)
        recent_ok = await queue.enqueue("ok")
        await JobWorker(queue, handlers.get).run_until_idle()
        clock.advance(days=1, seconds=1)  # the first ones finished 7 days and a second ago

        background = Background(
            services.functions, queue, services.settings, run_jobs=False, reload=False
        )
        assert await background.purge() == 2
        left = {job.id: job.state for job in await queue.list()}
        assert left == {old_broken.id: JobState.DEAD, recent_ok.id: JobState.SUCCEEDED}
        again = await queue.enqueue("ok", key="old")  # its key is free again
        assert again.id != old_ok.id
    finally:
        await services.close()
