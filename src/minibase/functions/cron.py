"""Cron expressions for scheduled functions: parse once, then ask when they run.

    cron = Cron.parse("*/15 9-18 * * mon-fri")
    cron.next_after(clock.now(), ZoneInfo("Asia/Shanghai"))   # aware UTC

Five fields, minute hour day-of-month month day-of-week, in the syntax of Vixie cron: `*`, `n`,
`a-b`, lists `a,b,c`, steps `*/n`, `a-b/n` and `n/step` (from n to the end of the field), month
names jan-dec and weekday names sun-sat in any case, and day-of-week 0-7 (0 and 7 are Sunday;
`*` and `n/step` end at 6). The macros @yearly (@annually), @monthly, @weekly, @daily (@midnight)
and @hourly stand for their five fields. @reboot is refused: a scheduled function has no start-up.

Days are matched as Vixie cron matches them: when both day fields are restricted, a day runs if
either matches, so "0 0 1 * mon" runs on the 1st and on every Monday. Like Vixie, a day field that
starts with `*` (`*`, `*/2`) counts as unrestricted, so "0 0 */2 * mon" runs on odd-numbered days
that are Mondays.

Times are wall-clock times in the schedule's zone, and each matching wall-clock minute runs at most
once (zones without DST, such as Asia/Shanghai and UTC, never meet these rules):
- a time the clocks skip (spring forward: 02:30 on 2025-03-09 in New York) does not run that day;
  it is not moved to 03:00;
- a time the clocks show twice (fall back: 01:30 on 2025-11-02 in New York) runs at its first
  occurrence only. So "*/15 * * * *" runs 96 times on that 25-hour day, 75 minutes apart between
  01:45 EDT and 02:00 EST, and 92 times on the 23-hour spring-forward day.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_EXPRESSION = 1024
MAX_OCCURRENCES = 10_000
# How far next_after looks. Eight years, because a leap day can be that far away: after
# 2096-02-29 the next is 2104-02-29 (2100 is not a leap year).
SEARCH_YEARS = 8
FIELD_NAMES = "minute hour day-of-month month day-of-week"
NUMBER = re.compile(r"[0-9]+")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)}
WEEKDAYS = {name: number for number, name in enumerate(WEEKDAY_NAMES)}
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """An expression that is not cron (the message says what and where), or one that never runs."""


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression; `Cron(text)` and `Cron.parse(text)` both raise CronError."""

    expression: str
    _schedule: _Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_schedule", _parse(self.expression))

    @classmethod
    def parse(cls, expression: str) -> Cron:
        return cls(expression)

    def matches(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Whether the schedule runs in the minute of `moment`, read on the clocks of `tz`."""
        local = _utc(moment, "moment").astimezone(tz).replace(second=0, microsecond=0)
        wall = local.replace(tzinfo=None, fold=0)
        if not self._schedule.has(wall):
            return False
        # The second showing of a repeated time is not a run.
        return _first_instant(wall, tz) == local.astimezone(UTC)

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first run strictly after `moment`, as aware UTC."""
        after = _utc(moment, "moment")
        local_year = after.astimezone(tz).year
        last_day = date(min(local_year + SEARCH_YEARS, MAXYEAR), 12, 31)
        for instant in self._runs_after(after, tz, last_day):
            return instant
        raise CronError(
            f"{self.expression!r} does not run in the {SEARCH_YEARS} years after"
            f" {after.isoformat()} (in {tz.key})"
        )

    def occurrences(
        self, start: datetime, end: datetime, tz: ZoneInfo, *, limit: int = MAX_OCCURRENCES
    ) -> list[datetime]:
        """Every run in (start, end], as aware UTC; CronError if there are more than `limit`."""
        after, until = _utc(start, "start"), _utc(end, "end")
        if until <= after:
            return []
        last_day = until.astimezone(tz).date()
        runs: list[datetime] = []
        for instant in self._runs_after(after, tz, last_day):
            if instant > until:
                break
            if len(runs) == limit:
                raise CronError(
                    f"{self.expression!r} runs more than {limit} times between"
                    f" {after.isoformat()} and {until.isoformat()}; ask for a shorter window"
                )
            runs.append(instant)
        return runs

    def _runs_after(self, after: datetime, tz: ZoneInfo, last_day: date) -> Iterator[datetime]:
        """Runs strictly after `after` (UTC), in order, up to wall-clock dates through `last_day`.

        The search walks wall-clock time: mapping each wall time to its first instant keeps the
        order, so the first wall time whose instant is after `after` is the next run.
        """
        floor = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        for wall in self._schedule.walls_after(floor, last_day):
            instant = _first_instant(wall, tz)
            if instant is not None and instant > after:
                yield instant


@dataclass(frozen=True)
class _Schedule:
    minutes: tuple[int, ...]  # sorted
    hours: tuple[int, ...]  # sorted
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    any_day: bool  # the day-of-month field starts with *
    any_weekday: bool  # the day-of-week field starts with *

    def has(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.runs_on(wall.date())
        )

    def runs_on(self, day: date) -> bool:
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def walls_after(self, floor: datetime, last_day: date) -> Iterator[datetime]:
        """Matching wall-clock minutes after `floor` through `last_day`, in order.

        Whole months and days that cannot match are skipped without looking at their minutes.
        """
        day = floor.date()
        after: time | None = floor.time()  # only the first day starts after a time
        while day <= last_day:
            if day.month not in self.months:
                day = day.replace(day=monthrange(day.year, day.month)[1])
            elif self.runs_on(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        moment = time(hour, minute)
                        if after is None or moment > after:
                            yield datetime.combine(day, moment)
            if day == last_day:
                return
            day, after = day + timedelta(days=1), None


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int  # where `*` and `n/step` end
    top: int  # the largest value written: day-of-week takes 7 for Sunday
    names: Mapping[str, int] = field(default_factory=dict)
    names_hint: str = ""


FIELDS = (
    _Field("minute", 0, 59, 59),
    _Field("hour", 0, 23, 23),
    _Field("day-of-month", 1, 31, 31),
    _Field("month", 1, 12, 12, MONTHS, " or a month name (jan-dec)"),
    _Field("day-of-week", 0, 6, 7, WEEKDAYS, " or a weekday name (sun-sat)"),
)


def _parse(expression: str) -> _Schedule:
    if not isinstance(expression, str):
        raise CronError(f"a cron expression is text, not {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION:
        raise CronError(f"the expression is longer than {MAX_EXPRESSION} characters")
    fields = expression.split()
    if fields and fields[0].startswith("@"):
        if len(fields) > 1:
            raise CronError(f"a macro stands alone, without fields: {expression!r}")
        fields = _expand_macro(fields[0]).split()
    if len(fields) != len(FIELDS):
        raise CronError(
            f"expected 5 fields ({FIELD_NAMES}) or a macro such as @daily,"
            f" got {len(fields)} in {expression!r}"
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(text, spec) for text, spec in zip(fields, FIELDS, strict=True)
    )
    return _Schedule(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
        any_day=fields[2].startswith("*"),
        any_weekday=fields[4].startswith("*"),
    )


def _expand_macro(macro: str) -> str:
    if macro.lower() == "@reboot":
        raise CronError(
            "@reboot is not supported: scheduled functions run on a clock, not at start-up"
        )
    if macro.lower() not in MACROS:
        raise CronError(f"unknown macro {macro!r}; use one of {', '.join(MACROS)}")
    return MACROS[macro.lower()]


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{spec.name}: empty item in the list {text!r}")
        values.update(_parse_item(item, spec))
    if spec.top > spec.high:  # day-of-week 7 is Sunday, 0
        values = {value % (spec.high + 1) for value in values}
    return frozenset(values)


def _parse_item(item: str, spec: _Field) -> range:
    """One list item: `*`, `n`, `a-b`, each with an optional `/step`."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(step_text, item, spec) if slash else 1
    if base == "*":
        first, last = spec.low, spec.high
    elif "-" in base:
        start, _, end = base.partition("-")
        first, last = _parse_value(start, item, spec), _parse_value(end, item, spec)
        if first > last:
            raise CronError(f"{spec.name}: the range {base!r} runs backwards; write two ranges")
    else:
        first = _parse_value(base, item, spec)
        # Vixie's n/step runs from n to the end of the field.
        last = max(first, spec.high) if slash else first
    return range(first, last + 1, step)


def _parse_value(text: str, item: str, spec: _Field) -> int:
    if not text:
        raise CronError(f"{spec.name}: {item!r} is missing a number")
    if text.lower() in spec.names:
        return spec.names[text.lower()]
    if not NUMBER.fullmatch(text):
        raise CronError(f"{spec.name}: {text!r} is not a number{spec.names_hint}")
    value = int(text)
    if not spec.low <= value <= spec.top:
        raise CronError(f"{spec.name}: {value} is out of {spec.low}-{spec.top}")
    return value


def _parse_step(text: str, item: str, spec: _Field) -> int:
    if not text:
        raise CronError(f"{spec.name}: {item!r} is missing its step after /")
    if not NUMBER.fullmatch(text):
        raise CronError(f"{spec.name}: the step {text!r} in {item!r} is not a number")
    step, most = int(text), spec.high - spec.low + 1
    if not 1 <= step <= most:
        raise CronError(f"{spec.name}: the step {step} in {item!r} is out of 1-{most}")
    return step


def _first_instant(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The first instant (UTC) at which the clocks of `tz` show `wall`; None if they skip it."""
    shown: list[datetime] = []
    for fold in (0, 1):
        try:
            instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
            if instant.astimezone(tz).replace(tzinfo=None) == wall:
                shown.append(instant)
        except OverflowError:  # the ends of the calendar
            continue
    return min(shown, default=None)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)
