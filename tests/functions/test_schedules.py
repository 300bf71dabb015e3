"""Scheduled functions run once per occurrence, however many processes schedule them, from the
moment each schedule is first seen: a new schedule does not catch up on the minutes before it
existed; a known one catches up on what it missed while every process was down."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from hashlib import sha256

import pytest
from tests.functions.conftest import run_jobs

from minibase.clock import FrozenClock, parse_iso
from minibase.config import Settings
from minibase.functions.registry import FunctionsError, load_functions
from minibase.functions.runtime import SYSTEM
from minibase.services import Services, open_services
from minibase.store.database import json_column

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
    clock = FrozenClock(datetime(2026, 11, 24, 18, 50, tzinfo=UTC))
    first = await open_services(settings, clock=clock)
    second = await open_services(settings, clock=clock)
    try:
        from minibase.data.definitions import create_collection

        await create_collection(first, {"name": "runs"})
        await second.collections.load()
        assert await first.functions.enqueue_due() == 0  # the schedules are known from 18:50
        clock.set(datetime(2026, 11, 24, 19, 0, 30, tzinfo=UTC))  # 03:00:30 in Shanghai
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
    between = FrozenClock(datetime(2026, 11, 24, 9, 50, tzinfo=UTC))
    services = await open_services(settings, clock=between)
    try:
        assert await services.functions.enqueue_due() == 0  # first seen: known from 09:50
        between.set(datetime(2026, 11, 24, 10, 3, tzinfo=UTC))
        assert await services.functions.enqueue_due() == 1  # 10:00 is within the look-back
        assert await services.functions.enqueue_due() == 1  # the same, deduplicated
        assert await services.db.fetch_value("SELECT COUNT(*) FROM jobs") == 1
        between.advance(minutes=5)  # 10:08: 10:00 fell out of the window, 10:15 not yet due
        assert await services.functions.enqueue_due() == 0
    finally:
        await services.close()


EVERY_MINUTE = """
    from minibase.functions import schedule

    @schedule("* * * * *")
    async def tick(ctx):
        pass
"""
EVERY_FIVE_MINUTES = EVERY_MINUTE.replace("* * * * *", "*/5 * * * *")
NO_SCHEDULES = ""


async def _start(settings: Settings, clock: FrozenClock, source: str) -> Services:
    """A process (a server, or `minibase worker`) deployed with `source` as its functions file;
    every process shares the one database."""
    folder = settings.functions_dir.parent / f"deployed-{sha256(source.encode()).hexdigest()[:8]}"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(source))
    return await open_services(settings.replace(functions_dir=folder), clock=clock)


async def _round(settings: Settings, clock: FrozenClock, source: str) -> int:
    """A process starts, its scheduler looks once (how many runs it enqueued), and it stops."""
    services = await _start(settings, clock, source)
    try:
        return await services.functions.enqueue_due()
    finally:
        await services.close()


async def _ticks(services: Services) -> list[str]:
    """The minutes (HH:MM, UTC) for which a run of `tick` was enqueued."""
    rows = await services.db.fetch_all("SELECT payload FROM jobs WHERE name = 'minibase.schedule'")
    runs = [json_column(row[0]) for row in rows]
    return sorted(parse_iso(r["at"]).strftime("%H:%M") for r in runs if r["schedule"] == "tick")


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, second, tzinfo=UTC)


async def test_a_new_schedule_runs_from_when_it_is_first_seen_by_any_process(
    settings: Settings,
) -> None:
    clock = FrozenClock(_at(10, 3, 20))
    assert await _round(settings, clock, EVERY_MINUTE) == 0  # not 09:59 to 10:03: not there yet
    clock.set(_at(10, 3, 50))
    restarted = await _start(settings, clock, EVERY_MINUTE)
    worker = await _start(settings, clock, EVERY_MINUTE)
    try:
        assert await restarted.functions.enqueue_due() == 0  # known since 10:03:20, as before
        assert await worker.functions.enqueue_due() == 0  # another process agrees
        clock.set(_at(10, 4, 10))
        assert await worker.functions.enqueue_due() == 1
        assert await restarted.functions.enqueue_due() == 1  # the same occurrence
        assert await _ticks(worker) == ["10:04"]
    finally:
        await worker.close()
        await restarted.close()


async def test_a_known_schedule_catches_up_on_what_it_missed_while_every_process_was_down(
    settings: Settings,
) -> None:
    clock = FrozenClock(_at(10, 0, 30))
    assert await _round(settings, clock, EVERY_MINUTE) == 0
    clock.set(_at(10, 3, 30))  # down for three minutes
    assert await _round(settings, clock, EVERY_MINUTE) == 3
    clock.set(_at(10, 20, 30))  # down for 17 minutes: the last five are caught up
    server = await _start(settings, clock, EVERY_MINUTE)
    try:
        assert await server.functions.enqueue_due() == 5
        caught_up = ["10:01", "10:02", "10:03", "10:16", "10:17", "10:18", "10:19", "10:20"]
        assert await _ticks(server) == caught_up
    finally:
        await server.close()


async def test_a_schedule_whose_cron_changed_is_a_new_schedule(settings: Settings) -> None:
    clock = FrozenClock(_at(9, 50))
    assert await _round(settings, clock, EVERY_FIVE_MINUTES) == 0
    clock.set(_at(10, 0, 10))
    assert await _round(settings, clock, EVERY_FIVE_MINUTES) == 1
    clock.set(_at(10, 2, 30))  # deployed every minute: 10:01 and 10:02 were not its minutes
    assert await _round(settings, clock, EVERY_MINUTE) == 0
    clock.set(_at(10, 3, 5))
    after = await _start(settings, clock, EVERY_MINUTE)
    try:
        assert await after.functions.enqueue_due() == 1
        assert await _ticks(after) == ["10:00", "10:03"]
    finally:
        await after.close()


async def test_a_schedule_taken_out_of_the_code_and_put_back_later_is_new_again(
    settings: Settings,
) -> None:
    clock = FrozenClock(_at(10, 0, 30))
    assert await _round(settings, clock, EVERY_MINUTE) == 0
    for minute in (10, 20, 30):  # the scheduler keeps running, without the schedule
        clock.set(_at(10, minute))
        await _round(settings, clock, NO_SCHEDULES)
    clock.set(_at(10, 30, 30))
    assert await _round(settings, clock, EVERY_MINUTE) == 0  # not 10:26 to 10:30


async def test_a_new_schedule_keeps_its_minutes_while_old_processes_without_it_still_run(
    settings: Settings,
) -> None:
    clock = FrozenClock(_at(10, 0, 30))
    old = await _start(settings, clock, NO_SCHEDULES)  # a rolling deploy: both versions run
    new = await _start(settings, clock, EVERY_MINUTE)
    try:
        while clock.now() < _at(10, 8, 30):
            await old.functions.enqueue_due()
            await new.functions.enqueue_due()
            clock.advance(seconds=10)
        minutes = [f"10:0{minute}" for minute in range(1, 9)]
        assert await _ticks(new) == minutes  # every minute since it was first seen, once
    finally:
        await new.close()
        await old.close()


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
    clock = FrozenClock(datetime(2026, 11, 24, 18, 58, tzinfo=UTC))
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
        assert await services.functions.enqueue_due() == 0  # first seen at 18:58
        clock.set(datetime(2026, 11, 24, 19, 0, 30, tzinfo=UTC))  # 03:00:30 in Shanghai
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
