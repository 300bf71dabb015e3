"""The durable job queue: one row per job, with its state machine (see minibase.jobs)."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 3
NAME = "jobs"


def statements(dialect: Dialect) -> list[str]:
    json = dialect.json_column_type
    return [
        f"""CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            payload {json} NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at TEXT NOT NULL,
            lease_until TEXT,
            worker TEXT,
            last_error TEXT,
            key TEXT UNIQUE,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            finished_at TEXT)""",
        # Claiming reads due jobs in (run_at, id) order straight from this index.
        "CREATE INDEX jobs_due ON jobs (state, run_at, id)",
        "CREATE INDEX jobs_listing ON jobs (state, name, id)",
    ]
