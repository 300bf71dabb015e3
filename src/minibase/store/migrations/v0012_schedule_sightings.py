"""When each schedule was first seen, so that a new one does not catch up on the minutes before
it existed (see minibase.functions.sightings)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 12
NAME = "schedule_sightings"


def statements(dialect: Dialect) -> list[str]:
    return [
        # One row per schedule as declared (its name, cron and zone): a changed cron is a new row.
        """CREATE TABLE schedule_sightings (
            name TEXT NOT NULL,
            cron TEXT NOT NULL,
            tz TEXT NOT NULL,
            since TEXT NOT NULL,
            seen TEXT NOT NULL,
            PRIMARY KEY (name, cron, tz))""",
        # When a scheduler (any instance) last recorded its sightings; '' before the first.
        "INSERT INTO meta (key, value) VALUES ('schedules_seen', '')",
    ]
