"""When each schedule became known: a new schedule runs from the moment it is first seen, and
does not catch up on the minutes before it existed; a known one still catches up after downtime.

A schedule is known by its name, cron expression and zone, so a changed cron (or zone) is a new
schedule: the old timing's missed occurrences are not the new one's. The sightings live in the
database that every instance shares, so all agree and a restart changes nothing.

Each scheduler records that it saw its schedules (`seen`) and that it looked at all (meta
`schedules_seen`). A schedule unseen for longer than the catch-up window while schedulers kept
looking was taken out of the code: its row goes, so that putting it back later counts as new.
When every instance was down, both stop together and the schedules stay known. Rows are
refreshed at most once a REFRESH by each instance; other rounds only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from minibase.clock import isoformat, parse_iso
from minibase.functions.registry import Scheduled
from minibase.store.database import Database

REFRESH = timedelta(minutes=1)
_LOOKED = "schedules_seen"

Key = tuple[str, str, str]  # name, cron expression, zone


def _key(scheduled: Scheduled) -> Key:
    return scheduled.name, scheduled.cron.expression, scheduled.tz.key


async def due_after(
    db: Database, schedules: Iterable[Scheduled], now: datetime, window: timedelta
) -> dict[str, datetime]:
    """Per schedule name, the moment after which its occurrences run: the start of the catch-up
    window, or when the schedule was first seen if that is later (`now` for a new one)."""
    wanted = sorted(map(_key, schedules))  # one order everywhere: no deadlock between instances
    async with db.reader() as reader:
        looked = await reader.fetch_value("SELECT value FROM meta WHERE key = ?", _LOOKED)
        rows = await reader.fetch_all("SELECT name, cron, tz, since, seen FROM schedule_sightings")
    known = {(row[0], row[1], row[2]): (str(row[3]), str(row[4])) for row in rows}
    fresh = isoformat(now - REFRESH)
    if str(looked or "") <= fresh or any(
        key not in known or known[key][1] <= fresh for key in wanted
    ):
        since = await _record(db, wanted, now, window)
    else:
        since = {key: known[key][0] for key in wanted}
    start = now - window
    return {key[0]: max(start, parse_iso(since[key])) for key in wanted}


async def last_looked(db: Database) -> datetime | None:
    """When a scheduler (any instance) last recorded its schedules, about once a REFRESH
    while one runs (None: never)."""
    looked = await db.fetch_value("SELECT value FROM meta WHERE key = ?", _LOOKED)
    return parse_iso(looked) if looked else None


async def _record(
    db: Database, wanted: list[Key], now: datetime, window: timedelta
) -> dict[Key, str]:
    """Forget the schedules gone from the code, record these as seen now (new ones as first seen
    now), and return when each was first seen."""
    stamp = isoformat(now)
    since: dict[Key, str] = {}
    async with db.transaction() as conn:
        looked = await conn.fetch_value("SELECT value FROM meta WHERE key = ?", _LOOKED)
        if looked:  # '' until a scheduler first looked
            gone = isoformat(parse_iso(looked) - window)
            await conn.execute("DELETE FROM schedule_sightings WHERE seen < ?", gone)
        for key in wanted:
            since[key] = await conn.fetch_value(
                "INSERT INTO schedule_sightings (name, cron, tz, since, seen)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, cron, tz)"
                " DO UPDATE SET seen = excluded.seen RETURNING since",
                *key,
                stamp,
                stamp,
            )
        await conn.execute("UPDATE meta SET value = ? WHERE key = ?", stamp, _LOOKED)
    return since
