"""A time zone's offset from UTC at an instant, fast enough to call for every row of a query.

SQLite has dates but no time zones: an aggregation that buckets records by day in
"Asia/Shanghai" asks `minibase_utc_offset(stamp, zone)` for each record's stored time and lets
SQLite's own date functions do the rest. A zone's offsets change a few times a year at most, so
its transitions are found once (scanning day by day, then to the minute) and each call is a
binary search over them, comparing the stored text itself.
"""

from __future__ import annotations

import bisect
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FIXED = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
STORED = "%Y-%m-%dT%H:%M:%S"  # the stored time's first 19 characters (then .ffffffZ)
FIRST, LAST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _minutes(zone: ZoneInfo, at: datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


@lru_cache(maxsize=64)
def _transitions(name: str) -> tuple[list[str], list[int]]:
    """From 1970 to 2100: the instants (stored-time text) where the offset changes, and the
    offset in minutes from each one on (the first from 1970)."""
    zone = ZoneInfo(name)
    starts = [FIRST.strftime(STORED)]
    offsets = [_minutes(zone, FIRST)]
    day = timedelta(days=1)
    at = FIRST
    while at < LAST:
        following = at + day
        if _minutes(zone, following) != offsets[-1]:
            low, high = at, following  # the change is in (low, high]: to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if _minutes(zone, middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            starts.append(high.strftime(STORED))
            offsets.append(_minutes(zone, high))
        at = following
    return starts, offsets


def utc_offset_minutes(stamp: object, zone: object) -> int | None:
    """The offset of `zone` (an IANA name, or "+08:00") at `stamp`, a stored time in UTC
    (2026-01-01T00:00:00.000000Z); None for anything else, which SQLite reads as NULL."""
    if not isinstance(stamp, str) or not isinstance(zone, str) or len(stamp) < 19:
        return None
    fixed = FIXED.fullmatch(zone)
    if fixed is not None:
        sign = -1 if fixed.group(1) == "-" else 1
        return sign * (int(fixed.group(2)) * 60 + int(fixed.group(3)))
    try:
        starts, offsets = _transitions(zone)
    except (ValueError, OSError):  # not a zone this machine knows
        return None
    if not starts[0] <= stamp[:19] < LAST.strftime(STORED):
        try:
            at = datetime.strptime(stamp[:19], STORED).replace(tzinfo=UTC)
        except ValueError:
            return None
        return _minutes(ZoneInfo(zone), at)
    return offsets[bisect.bisect_right(starts, stamp[:19]) - 1]
