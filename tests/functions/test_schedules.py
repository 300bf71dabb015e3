"""Scheduled functions run once per occurrence, however many processes schedule them."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest
from tests.functions.conftest import run_jobs

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.functions.registry import FunctionsError, load_functions
from minibase.functions.runtime import SYSTEM
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


SCHEDULED_FUNCTIONS = """
    from minibase.functions import function

    @function(auth="admin", schema={"period": {"type": "string", "required": True},
                                    "limit": {"type": "integer", "default": 10}})
    async def report(ctx, input):
        await ctx.records_as_admin.create("runs", {"by": f"report {input['period']}",
                                                   "limit": input["limit"],
                                                   "caller": ctx.caller.kind})
"""


def _with_config_schedules(settings: Settings, *entries: dict[str, object]) -> Settings:
    (settings.functions_dir / "app.py").write_text(textwrap.dedent(SCHEDULED_FUNCTIONS))
    return settings.replace(extra={"schedules": list(entries)})


async def test_a_schedule_from_the_config_file_calls_a_function_with_its_input(
    settings: Settings,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 19, 0, 30, tzinfo=UTC))  # 03:00:30 in Shanghai
    configured = _with_config_schedules(
        settings,
        {
            "name": "nightly_report",
            "cron": "0 3 * * *",
            "tz": "Asia/Shanghai",
            "function": "report",
            "input": {"period": "day"},
        },
    )
    services = await open_services(configured, clock=clock)
    try:
        from minibase.data.definitions import create_collection

        await create_collection(services, {"name": "runs"})
        assert await services.functions.enqueue_due() == 1
        assert await run_jobs(services) == 1
        ctx = await services.functions.context(SYSTEM, "test")
        runs = (await ctx.records_as_admin.list("runs"))["items"]
        assert [(r["by"], r["limit"], r["caller"]) for r in runs] == [("report day", 10, "admin")]
        key = await services.db.fetch_value("SELECT key FROM jobs")
        assert key == "schedule:nightly_report:2026-11-24T19:00:00.000000Z"
    finally:
        await services.close()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"cron": "0 3 * * *", "function": "nope"}, "no cloud function named 'nope'"),
        ({"cron": "0 25 * * *", "function": "report", "input": {"period": "day"}}, "hour"),
        ({"cron": "0 3 * * *", "function": "report"}, "input does not match report's schema"),
        ({"cron": "0 3 * * *", "function": "report", "input": "day"}, "input does not match"),
        ({"cron": "0 3 * * *", "function": "report", "tz": "Mars/Base"}, "unknown time zone"),
        ({"cron": "@daily", "function": "report", "every": 1}, "unknown keys ['every']"),
    ],
)
def test_a_bad_config_schedule_stops_the_load_naming_the_entry(
    settings: Settings, entry: dict[str, object], message: str
) -> None:
    configured = _with_config_schedules(settings, entry)
    with pytest.raises(FunctionsError) as raised:
        load_functions(configured.functions_dir, configured.extra["schedules"])
    assert "config: schedules[0]" in str(raised.value)
    assert message in str(raised.value)


def test_schedules_in_the_config_file_must_be_a_list_of_tables(settings: Settings) -> None:
    with pytest.raises(FunctionsError, match=r"a list of tables \(\[\[schedules\]\]\)"):
        load_functions(settings.functions_dir, {"cron": "@daily"})
