"""The one clock: timezone-aware UTC, injectable so tests can freeze or move time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def timestamp(self) -> float:
        """Seconds since the epoch: `now().timestamp()`, without building a datetime where
        the clock need not (checking a token's expiry on every request)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self._now = moment


class OffsetClock:
    """Real time, moved on when told to: signatures made elsewhere carry real timestamps, and a
    test can still jump past an expiry."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return time.time() + self._offset.total_seconds()

    def advance(self, **delta: float) -> None:
        self._offset += timedelta(**delta)


def isoformat(moment: datetime) -> str:
    """Fixed-width UTC text (`2026-11-25T03:53:13.123456Z`): sorts in time order as a string."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp with a timezone ("Z" or an offset) into aware UTC."""
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs a timezone, e.g. 'Z' or '+08:00'")
    return moment.astimezone(UTC)
