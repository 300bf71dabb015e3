"""Cron expressions: the Vixie syntax, its day rule, the next run and runs in a window, and what
happens to wall-clock schedules when the clocks spring forward or fall back."""

from __future__ import annotations

import time as timer
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minibase.functions.cron import (
    MONTH_NAMES,
    SEARCH_YEARS,
    WEEKDAY_NAMES,
    Cron,
    CronError,
)

UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def values(field: str, text: str) -> set[int]:
    """The values one field selects, read back through matches() with every other field `*`."""
    if field == "minute":
        cron = Cron.parse(f"{text} * * * *")
        return {m for m in range(60) if cron.matches(utc(2025, 1, 1, 0, m), UTC_ZONE)}
    if field == "hour":
        cron = Cron.parse(f"0 {text} * * *")
        return {h for h in range(24) if cron.matches(utc(2025, 1, 1, h), UTC_ZONE)}
    if field == "day-of-month":  # January has 31 days
        cron = Cron.parse(f"0 0 {text} * *")
        return {d for d in range(1, 32) if cron.matches(utc(2025, 1, d), UTC_ZONE)}
    if field == "month":
        cron = Cron.parse(f"0 0 1 {text} *")
        return {m for m in range(1, 13) if cron.matches(utc(2025, m, 1), UTC_ZONE)}
    cron = Cron.parse(f"0 0 * * {text}")  # 2025-01-05 is a Sunday
    return {w for w in range(7) if cron.matches(utc(2025, 1, 5 + w), UTC_ZONE)}


# --- syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("minute", "*", set(range(60))),
        ("minute", "7", {7}),
        ("minute", "07", {7}),
        ("minute", "10-12", {10, 11, 12}),
        ("minute", "1,2,30", {1, 2, 30}),
        ("minute", "*/15", {0, 15, 30, 45}),
        ("minute", "10-30/10", {10, 20, 30}),
        ("minute", "5/20", {5, 25, 45}),  # Vixie: n/step runs from n to the end of the field
        ("minute", "1-3,*/20,59", {0, 1, 2, 3, 20, 40, 59}),
        ("minute", "*/60", {0}),
        ("hour", "9-17/4", {9, 13, 17}),
        ("hour", "22/1", {22, 23}),
        ("day-of-month", "*/10", {1, 11, 21, 31}),
        ("day-of-month", "1/15", {1, 16, 31}),
        ("day-of-month", "31", {31}),
        ("month", "jan", {1}),
        ("month", "JAN-Mar", {1, 2, 3}),
        ("month", "jun,Dec", {6, 12}),
        ("month", "*/3", {1, 4, 7, 10}),
        ("month", "2/5", {2, 7, 12}),
        ("day-of-week", "mon-fri", {1, 2, 3, 4, 5}),
        ("day-of-week", "0", {0}),
        ("day-of-week", "7", {0}),
        ("day-of-week", "5-7", {5, 6, 0}),
        ("day-of-week", "sun,SAT", {0, 6}),
        ("day-of-week", "*/2", {0, 2, 4, 6}),
        ("day-of-week", "1/2", {1, 3, 5}),  # n/step ends at 6: Sunday only when written as 7
        ("day-of-week", "1-7/2", {1, 3, 5, 0}),
        ("day-of-week", "Tue-thu/2", {2, 4}),
    ],
)
def test_each_syntax_form_selects_its_values(field: str, text: str, expected: set[int]) -> None:
    assert values(field, text) == expected


def test_fields_may_be_separated_by_any_whitespace() -> None:
    assert Cron.parse("  0\t9 *  * mon ").next_after(utc(2025, 1, 1), UTC_ZONE) == utc(
        2025, 1, 6, 9
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute: 61 is out of 0-59"),
        ("* 24 * * *", "hour: 24 is out of 0-23"),
        ("* * 0 * *", "day-of-month: 0 is out of 1-31"),
        ("* * 32 * *", "day-of-month: 32 is out of 1-31"),
        ("* * * 0 *", "month: 0 is out of 1-12"),
        ("* * * 13 *", "month: 13 is out of 1-12"),
        ("* * * * 8", "day-of-week: 8 is out of 0-7"),
        ("0-60 * * * *", "minute: 60 is out of 0-59"),
        ("*/0 * * * *", "minute: the step 0 in '*/0' is out of 1-60"),
        ("*/61 * * * *", "minute: the step 61 in '*/61' is out of 1-60"),
        ("* */25 * * *", "hour: the step 25 in '*/25' is out of 1-24"),
        ("* * * * */8", "day-of-week: the step 8 in '*/8' is out of 1-7"),
        ("*/x * * * *", "minute: the step 'x' in '*/x' is not a number"),
        ("*/-1 * * * *", "minute: the step '-1' in '*/-1' is not a number"),
        ("* * * */jan *", "month: the step 'jan' in '*/jan' is not a number"),
        ("*/5/2 * * * *", "minute: the step '5/2' in '*/5/2' is not a number"),
        ("*/ * * * *", "minute: '*/' is missing its step after /"),
        ("1,,2 * * * *", "minute: empty item in the list '1,,2'"),
        (", * * * *", "minute: empty item in the list ','"),
        ("* 1, * * *", "hour: empty item in the list '1,'"),
        ("5- * * * *", "minute: '5-' is missing a number"),
        ("-5 * * * *", "minute: '-5' is missing a number"),
        ("/5 * * * *", "minute: '/5' is missing a number"),
        ("30-10 * * * *", "minute: the range '30-10' runs backwards"),
        ("* * * * fri-mon", "day-of-week: the range 'fri-mon' runs backwards"),
        ("1-2-3 * * * *", "minute: '2-3' is not a number"),
        ("1.5 * * * *", "minute: '1.5' is not a number"),
        ("+5 * * * *", "minute: '+5' is not a number"),
        ("mon * * * *", "minute: 'mon' is not a number"),
        ("* * L * *", "day-of-month: 'L' is not a number"),
        ("* * ? * *", "day-of-month: '?' is not a number"),
        ("* * * foo *", "month: 'foo' is not a number or a month name (jan-dec)"),
        ("* * * mon *", "month: 'mon' is not a number or a month name (jan-dec)"),
        ("* * * january *", "month: 'january' is not a number or a month name"),
        ("* * * * jan", "day-of-week: 'jan' is not a number or a weekday name (sun-sat)"),
        ("* * * * funday", "day-of-week: 'funday' is not a number or a weekday name"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week)"),
        ("0 * * * * *", "got 6 in '0 * * * * *'"),
        ("", "got 0"),
        ("   ", "got 0"),
        ("@reboot", "@reboot is not supported"),
        ("@REBOOT", "@reboot is not supported"),
        ("@fortnightly", "unknown macro '@fortnightly'; use one of @yearly, @annually"),
        ("@every 5m", "a macro stands alone"),
        ("@daily 0", "a macro stands alone"),
        ("* " * 600, "longer than 1024 characters"),
    ],
)
def test_invalid_expressions_say_what_is_wrong_and_where(expression: str, message: str) -> None:
    with pytest.raises(CronError) as raised:
        Cron.parse(expression)
    assert message in str(raised.value)


def test_cron_error_is_a_value_error_and_the_constructor_validates_too() -> None:
    with pytest.raises(ValueError, match="minute: 99"):
        Cron("99 * * * *")
    with pytest.raises(CronError, match="is text, not int"):
        Cron.parse(5)  # type: ignore[arg-type]


def test_crons_are_values_compared_by_their_text() -> None:
    assert Cron.parse("*/5 * * * *") == Cron("*/5 * * * *")
    assert {Cron("@daily"): 1}[Cron.parse("@daily")] == 1
    assert repr(Cron("@daily")) == "Cron(expression='@daily')"


# --- macros -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "fields", "after_new_year"),
    [
        ("@yearly", "0 0 1 1 *", utc(2026, 1, 1)),
        ("@annually", "0 0 1 1 *", utc(2026, 1, 1)),
        ("@monthly", "0 0 1 * *", utc(2025, 2, 1)),
        ("@weekly", "0 0 * * 0", utc(2025, 1, 5)),
        ("@daily", "0 0 * * *", utc(2025, 1, 2)),
        ("@midnight", "0 0 * * *", utc(2025, 1, 2)),
        ("@hourly", "0 * * * *", utc(2025, 1, 1, 1)),
        ("@Daily", "0 0 * * *", utc(2025, 1, 2)),
    ],
)
def test_macros_stand_for_their_fields(macro: str, fields: str, after_new_year: datetime) -> None:
    start, end = utc(2025, 1, 1), utc(2026, 2, 1)
    runs = Cron.parse(macro).occurrences(start, end, UTC_ZONE)
    assert runs == Cron.parse(fields).occurrences(start, end, UTC_ZONE)
    assert runs[0] == after_new_year


# --- the day rule -----------------------------------------------------------------------------


def days_in_january(expression: str) -> list[int]:
    runs = Cron.parse(expression).occurrences(utc(2024, 12, 31), utc(2025, 1, 31), UTC_ZONE)
    return [run.day for run in runs]


def test_both_day_fields_restricted_run_on_either() -> None:
    # Fridays of January 2025 are 3, 10, 17, 24, 31; the 13th is a Monday.
    assert days_in_january("0 0 13 * fri") == [3, 10, 13, 17, 24, 31]


def test_one_restricted_day_field_decides_alone() -> None:
    assert days_in_january("0 0 13 * *") == [13]
    assert days_in_january("0 0 * * mon") == [6, 13, 20, 27]


def test_a_day_field_starting_with_a_star_counts_as_unrestricted_as_in_vixie() -> None:
    # */2 starts with *, so the weekday must match as well: odd days that are Mondays.
    assert days_in_january("0 0 */2 * mon") == [13, 27]
    # 1-31 is restricted, so either field is enough: every day.
    assert days_in_january("0 0 1-31 * mon") == list(range(1, 32))


# --- next_after -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("* * * * *", utc(2025, 1, 1, 12, 0, 30), utc(2025, 1, 1, 12, 1)),
        ("0 12 * * *", utc(2025, 1, 1, 12), utc(2025, 1, 2, 12)),  # strictly after
        ("0 0 1 * *", utc(2025, 1, 31, 12), utc(2025, 2, 1)),
        ("0 0 31 * *", utc(2025, 1, 31, 0, 1), utc(2025, 3, 31)),
        ("59 23 31 12 *", utc(2025, 12, 31, 23, 58, 59), utc(2025, 12, 31, 23, 59)),
        ("59 23 31 12 *", utc(2025, 12, 31, 23, 59), utc(2026, 12, 31, 23, 59)),
        ("0 0 29 2 *", utc(2025, 1, 1), utc(2028, 2, 29)),
        ("0 0 29 2 *", utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
        ("0 9 * * mon-fri", utc(2025, 1, 3, 10), utc(2025, 1, 6, 9)),
        ("30 4 1 jan *", utc(2025, 1, 1, 4, 30), utc(2026, 1, 1, 4, 30)),
    ],
)
def test_next_after_is_the_first_run_strictly_after(
    expression: str, moment: datetime, expected: datetime
) -> None:
    found = Cron.parse(expression).next_after(moment, UTC_ZONE)
    assert found == expected
    assert found.tzinfo is UTC


def test_next_after_reads_the_schedule_on_the_zones_clocks() -> None:
    cron = Cron.parse("0 9 * * *")
    # 10:00 in Shanghai (UTC+8): today's 09:00 has passed.
    assert cron.next_after(utc(2025, 6, 1, 2), SHANGHAI) == utc(2025, 6, 2, 1)
    # Across the year in Shanghai while UTC is still in the old one.
    assert Cron("0 0 1 1 *").next_after(utc(2025, 12, 31, 15, 59), SHANGHAI) == utc(
        2025, 12, 31, 16
    )
    in_shanghai = datetime(2025, 6, 1, 10, tzinfo=SHANGHAI)
    assert cron.next_after(in_shanghai, SHANGHAI) == utc(2025, 6, 2, 1)


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 31 2 *"])
def test_a_schedule_that_never_runs_is_an_error_found_quickly(expression: str) -> None:
    started = timer.perf_counter()
    with pytest.raises(CronError, match=f"does not run in the {SEARCH_YEARS} years after"):
        Cron.parse(expression).next_after(utc(2025, 1, 1), NEW_YORK)
    assert timer.perf_counter() - started < 0.5  # whole months are skipped, not walked


def test_moments_must_be_timezone_aware() -> None:
    cron = Cron.parse("* * * * *")
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        cron.next_after(datetime(2025, 1, 1), UTC_ZONE)
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        cron.matches(datetime(2025, 1, 1), UTC_ZONE)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        cron.occurrences(utc(2025, 1, 1), datetime(2025, 1, 2), UTC_ZONE)


def test_matches_is_to_the_minute() -> None:
    cron = Cron.parse("0 12 * * *")
    assert cron.matches(utc(2025, 1, 1, 12, 0, 59, 999999), UTC_ZONE)
    assert not cron.matches(utc(2025, 1, 1, 12, 1), UTC_ZONE)
    assert cron.matches(utc(2025, 1, 1, 4), SHANGHAI)


# --- occurrences ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [SHANGHAI, UTC_ZONE])
def test_every_quarter_hour_runs_96_times_a_day(zone: ZoneInfo) -> None:
    midnight = datetime(2025, 5, 20, tzinfo=zone)
    runs = Cron.parse("*/15 * * * *").occurrences(
        midnight - MINUTE, midnight + timedelta(days=1) - MINUTE, zone
    )
    assert len(runs) == 96
    assert runs[0] == midnight
    assert all(later - earlier == timedelta(minutes=15) for earlier, later in pairwise(runs))
    assert all(run.tzinfo is UTC for run in runs)


def test_occurrences_exclude_the_start_and_include_the_end() -> None:
    runs = Cron.parse("0 * * * *").occurrences(utc(2025, 1, 1), utc(2025, 1, 1, 3), UTC_ZONE)
    assert runs == [utc(2025, 1, 1, 1), utc(2025, 1, 1, 2), utc(2025, 1, 1, 3)]
    assert Cron.parse("0 * * * *").occurrences(utc(2025, 1, 2), utc(2025, 1, 1), UTC_ZONE) == []


def test_occurrences_of_a_schedule_that_never_runs_are_empty() -> None:
    assert Cron.parse("0 0 30 2 *").occurrences(utc(2025, 1, 1), utc(2026, 1, 1), UTC_ZONE) == []


def test_occurrences_are_bounded() -> None:
    every_minute = Cron.parse("* * * * *")
    week = (utc(2025, 1, 1), utc(2025, 1, 8))
    with pytest.raises(CronError, match="runs more than 10000 times"):
        every_minute.occurrences(*week, UTC_ZONE)
    with pytest.raises(CronError, match="runs more than 5 times"):
        every_minute.occurrences(*week, UTC_ZONE, limit=5)
    assert (
        len(every_minute.occurrences(utc(2025, 1, 1), utc(2025, 1, 1, 0, 5), UTC_ZONE, limit=5))
        == 5
    )


# --- daylight saving time ---------------------------------------------------------------------
# New York: 2025-03-09 02:00 EST -> 03:00 EDT; 2025-11-02 02:00 EDT -> 01:00 EST.
# Berlin:   2025-03-30 02:00 CET -> 03:00 CEST; 2025-10-26 03:00 CEST -> 02:00 CET.


@pytest.mark.parametrize(
    ("zone", "day_before", "next_run"),
    [
        (NEW_YORK, utc(2025, 3, 8, 7, 30), utc(2025, 3, 10, 6, 30)),  # 02:30 EST -> 02:30 EDT
        (BERLIN, utc(2025, 3, 29, 1, 30), utc(2025, 3, 31, 0, 30)),  # 02:30 CET -> 02:30 CEST
    ],
)
def test_a_time_skipped_by_spring_forward_does_not_run_that_day(
    zone: ZoneInfo, day_before: datetime, next_run: datetime
) -> None:
    cron = Cron.parse("30 2 * * *")
    assert cron.next_after(day_before - MINUTE, zone) == day_before
    assert cron.next_after(day_before, zone) == next_run  # not 03:30 on the day of the change


def test_spring_forward_day_loses_the_missing_hour_of_a_frequent_schedule() -> None:
    midnight = datetime(2025, 3, 9, tzinfo=NEW_YORK)
    runs = Cron.parse("*/15 * * * *").occurrences(
        midnight - MINUTE, datetime(2025, 3, 10, tzinfo=NEW_YORK) - MINUTE, NEW_YORK
    )
    assert len(runs) == 92
    assert runs[7:9] == [utc(2025, 3, 9, 6, 45), utc(2025, 3, 9, 7)]  # 01:45 EST, 03:00 EDT
    assert not Cron.parse("0 2 * * *").matches(utc(2025, 3, 9, 7), NEW_YORK)
    assert Cron.parse("0 3 * * *").matches(utc(2025, 3, 9, 7), NEW_YORK)


@pytest.mark.parametrize(
    ("zone", "expression", "first", "next_day"),
    [
        (NEW_YORK, "30 1 * * *", utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)),
        (BERLIN, "30 2 * * *", utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)),
    ],
)
def test_a_time_repeated_by_fall_back_runs_once_at_its_first_occurrence(
    zone: ZoneInfo, expression: str, first: datetime, next_day: datetime
) -> None:
    cron = Cron.parse(expression)
    assert cron.next_after(first - timedelta(hours=12), zone) == first
    assert cron.next_after(first, zone) == next_day
    assert cron.matches(first, zone)
    assert not cron.matches(first + timedelta(hours=1), zone)  # the same wall time, again


def test_fall_back_day_runs_each_wall_clock_quarter_hour_once() -> None:
    start = datetime(2025, 11, 2, tzinfo=NEW_YORK) - MINUTE
    end = datetime(2025, 11, 3, tzinfo=NEW_YORK) - MINUTE  # 25 hours later
    cron = Cron.parse("*/15 * * * *")
    runs = cron.occurrences(start, end, NEW_YORK)
    assert len(runs) == 96
    assert runs[7:9] == [utc(2025, 11, 2, 5, 45), utc(2025, 11, 2, 7)]  # 01:45 EDT, 02:00 EST
    assert len(Cron.parse("0 * * * *").occurrences(start, end, NEW_YORK)) == 24
    # One window or a chain of next_after calls: the same runs.
    chained, moment = [], start
    while (moment := cron.next_after(moment, NEW_YORK)) <= end:
        chained.append(moment)
    assert chained == runs


def test_next_after_from_inside_the_repeated_hour() -> None:
    cron = Cron.parse("*/15 * * * *")
    assert cron.next_after(utc(2025, 11, 2, 5, 10), NEW_YORK) == utc(2025, 11, 2, 5, 15)  # EDT
    assert cron.next_after(utc(2025, 11, 2, 6, 10), NEW_YORK) == utc(2025, 11, 2, 7)  # EST


# --- properties -------------------------------------------------------------------------------
TRANSITIONS = [utc(2025, 3, 9, 7), utc(2025, 11, 2, 6), utc(2025, 3, 30, 1), utc(2025, 10, 26, 1)]


@st.composite
def field_texts(draw: st.DrawFn, low: int, high: int) -> str:
    def item() -> str:
        a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
        step = draw(st.integers(1, high - low + 1))
        return draw(
            st.sampled_from(
                ["*", str(a), f"{a}-{b}", f"*/{step}", f"{a}-{b}/{step}", f"{a}/{step}"]
            )
        )

    return ",".join(item() for _ in range(draw(st.integers(1, 3))))


def near(window: timedelta) -> st.SearchStrategy[datetime]:
    """Moments within `window` of a DST change, to the microsecond."""
    micros = int(window.total_seconds()) * 1_000_000
    return st.builds(
        lambda change, offset: change + timedelta(microseconds=offset),
        st.sampled_from(TRANSITIONS),
        st.integers(-micros, micros),
    )


moments = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)).map(
        lambda naive: naive.replace(tzinfo=UTC)
    ),
    near(timedelta(days=2)),
    near(timedelta(hours=3)),  # often inside the skipped or the repeated hour
)


@settings(max_examples=150, deadline=None)
@given(
    minute=field_texts(0, 59),
    hour=field_texts(0, 23),
    zone=st.sampled_from([UTC_ZONE, SHANGHAI, NEW_YORK, BERLIN]),
    moment=moments,
)
def test_next_after_is_the_first_matching_minute(
    minute: str, hour: str, zone: ZoneInfo, moment: datetime
) -> None:
    cron = Cron.parse(f"{minute} {hour} * * *")
    found = cron.next_after(moment, zone)
    assert found.tzinfo is UTC
    assert found > moment
    assert cron.matches(found, zone)
    assert found - moment < timedelta(days=2, hours=1)
    candidate = moment.replace(second=0, microsecond=0) + MINUTE
    while candidate < found:
        assert not cron.matches(candidate, zone), candidate
        candidate += MINUTE


@st.composite
def schedules(draw: st.DrawFn) -> tuple[str, list[set[int] | None]]:
    """An expression with each field `*` or a list, and the sets it stands for (None for `*`)."""
    names = {3: MONTH_NAMES, 4: WEEKDAY_NAMES}
    texts: list[str] = []
    sets: list[set[int] | None] = []
    for index, (low, high) in enumerate([(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]):
        if draw(st.booleans()):
            texts.append("*")
            sets.append(None)
            continue
        chosen = draw(st.sets(st.integers(low, high), min_size=1, max_size=4))
        spelled = [
            names[index][value - low] if index in names and draw(st.booleans()) else str(value)
            for value in chosen
        ]
        texts.append(",".join(spelled))
        sets.append(chosen)
    return " ".join(texts), sets


def brute_next(sets: list[set[int] | None], after: datetime) -> datetime | None:
    """Walk every day and every minute of the matching days, as a reader of crontab(5) would."""
    minutes, hours, days, months, weekdays = (s if s is not None else set(range(60)) for s in sets)
    day, last = after.date(), date(after.year + SEARCH_YEARS, 12, 31)
    while day <= last:
        in_days = sets[2] is None or day.day in days
        in_weekdays = sets[4] is None or day.isoweekday() % 7 in weekdays
        day_runs = in_days and in_weekdays if None in (sets[2], sets[4]) else in_days or in_weekdays
        if day_runs and (sets[3] is None or day.month in months):
            for hour in range(24):
                for minute in range(60):
                    wall = datetime.combine(day, time(hour, minute))
                    if wall > after and hour in hours and minute in minutes:
                        return wall
        day += timedelta(days=1)
    return None


@settings(max_examples=150, deadline=None)
@given(
    schedule=schedules(),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_next_after_agrees_with_a_brute_force_walk_in_shanghai(
    schedule: tuple[str, list[set[int] | None]], moment: datetime
) -> None:
    expression, sets = schedule
    cron = Cron.parse(expression)
    expected = brute_next(sets, moment)
    local_moment = moment.replace(tzinfo=SHANGHAI)
    if expected is None:
        with pytest.raises(CronError):
            cron.next_after(local_moment, SHANGHAI)
    else:
        assert cron.next_after(local_moment, SHANGHAI) == expected.replace(tzinfo=SHANGHAI)
