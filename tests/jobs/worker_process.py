"""A job worker in its own process, for the multi-process tests.

    python tests/jobs/worker_process.py DATABASE LEASE_SECONDS CONCURRENCY

DATABASE is a postgresql:// URL or a SQLite file. Prints `ready <worker id>`, then works until
SIGTERM. Handlers: `record` inserts the job id into `done` (a second run of one job would break
its primary key, and says `duplicate <id>`); `slow` inserts into `started`, says
`started <id>`, then sleeps for a minute (long enough to be killed).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from minibase.clock import SystemClock
from minibase.ids import IdGenerator
from minibase.jobs import Job, JobQueue, JobWorker
from minibase.store.database import Database, IntegrityViolation
from minibase.store.postgres import PostgresDatabase
from minibase.store.sqlite import SQLiteDatabase


def open_database(location: str) -> Database:
    if location.startswith("postgresql://"):
        return PostgresDatabase(location, pool_size=6)
    return SQLiteDatabase(Path(location))


async def main(location: str, lease_seconds: float, concurrency: int) -> None:
    db = open_database(location)
    await db.open()
    clock = SystemClock()
    queue = JobQueue(db, clock, IdGenerator(clock))

    async def record(job: Job) -> None:
        try:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO done (job_id) VALUES (?)", job.id)
        except IntegrityViolation:
            print(f"duplicate {job.id}", flush=True)
            raise
        await asyncio.sleep(0.003)

    async def slow(job: Job) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO started (job_id) VALUES (?)", job.id)
        print(f"started {job.id}", flush=True)
        await asyncio.sleep(60)

    handlers = {"record": record, "slow": slow}
    worker = JobWorker(
        queue,
        handlers.get,
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        poll_interval=0.05,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"ready {worker.worker_id}", flush=True)
    try:
        await worker.run(stop)
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
