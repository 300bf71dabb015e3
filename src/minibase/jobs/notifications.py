"""Wake-ups across processes: on PostgreSQL an enqueue NOTIFYs at commit, and every process
with workers LISTENs, so a job enqueued by one server starts at once in another process's
worker instead of at its next poll. SQLite has no such channel: its processes poll.

The relay keeps its connection up, reconnecting after a pause when it drops; polling covers
the gap, so a lost notification delays a job by a poll interval, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from minibase.jobs.queue import NOTIFY_CHANNEL, JobQueue
from minibase.store.database import Database

log = logging.getLogger("minibase.jobs")
RECONNECT_AFTER = 5.0


async def relay_notifications(db: Database, queue: JobQueue, stop: asyncio.Event) -> None:
    """Until `stop`: every NOTIFY on the jobs channel wakes this process's workers."""
    listening = getattr(db, "listening", None)
    if listening is None:
        return
    while not stop.is_set():
        try:
            async with listening(NOTIFY_CHANNEL, queue.wake) as lost:
                queue.wake()  # jobs enqueued while we were not listening
                await _first(stop, lost)
            if not stop.is_set():
                log.warning("the job notification connection was lost; reconnecting")
        except Exception:
            log.exception("listening for job notifications failed; polling meanwhile")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RECONNECT_AFTER)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
