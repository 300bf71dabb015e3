"""Scheduled functions run once per occurrence, however many processes schedule them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.functions.conftest import run_jobs

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.services import open_services

FUNCTIONS = """
    from minibase.functions import schedule

    @schedule("*/15 * * * *")
    async def quarterly(ctx):
        await ctx.records_as_admin.create("runs", {"by": "quarterly"})

    @schedule("0 3 * * *", tz="Asia/Shanghai")
    async def nightly(ctx):
        await ctx.records_as_admin.create("runs", {"by": "nightly"})
"""


async def test_two_processes_scheduling_at_once_enqueue_each_occurrence_once(
    settings: Settings,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 19, 0, 30, tzinfo=UTC))  # 03:00:30 in Shanghai
    first = await open_services(settings, clock=clock)
    second = await open_services(settings, clock=clock)
    try:
        from minibase.data.definitions import create_collection

        await create_collection(first, {"name": "runs"})
        await second.collections.load()
        assert await first.functions.enqueue_due() > 0
        await second.functions.enqueue_due()
        jobs = await first.db.fetch_all("SELECT key FROM jobs ORDER BY key")
        keys = [row[0] for row in jobs]
        assert keys == sorted(set(keys))  # no occurrence twice
        assert "schedule:nightly:2026-11-24T19:00:00.000000Z" in keys
        assert "schedule:quarterly:2026-11-24T19:00:00.000000Z" in keys
        assert "schedule:quarterly:2026-11-24T18:45:00.000000Z" not in keys  # beyond 5 min
        ran = await run_jobs(first)
        assert ran == len(keys)
        runs = await first.collections.get("runs")
        assert await first.db.fetch_value(f"SELECT COUNT(*) FROM {runs.table}") == ran
    finally:
        await second.close()
        await first.close()


async def test_a_schedule_enqueues_nothing_between_its_occurrences(settings: Settings) -> None:
    between = FrozenClock(datetime(2026, 11, 24, 10, 3, 0, tzinfo=UTC))
    services = await open_services(settings, clock=between)
    try:
        assert await services.functions.enqueue_due() == 1  # 10:00 is within the look-back
        assert await services.functions.enqueue_due() == 1  # the same, deduplicated
        assert await services.db.fetch_value("SELECT COUNT(*) FROM jobs") == 1
        between.advance(minutes=5)  # 10:08: 10:00 fell out of the window, 10:15 not yet due
        assert await services.functions.enqueue_due() == 0
    finally:
        await services.close()
