"""Job wake-ups across processes: on PostgreSQL an enqueue NOTIFYs at commit, and every
process with workers LISTENs, so a job enqueued by one server starts at once in another
process's worker instead of at its next poll. SQLite has no such channel: its processes poll.
"""

from __future__ import annotations

import asyncio
import logging

from minibase.jobs.queue import NOTIFY_CHANNEL, JobQueue
from minibase.store.database import Database
from minibase.store.notifications import relay

log = logging.getLogger("minibase.jobs")


async def relay_notifications(db: Database, queue: JobQueue, stop: asyncio.Event) -> None:
    """Until `stop`: every NOTIFY on the jobs channel wakes this process's workers."""
    await relay(db, NOTIFY_CHANNEL, queue.wake, stop, log)
