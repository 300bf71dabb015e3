"""Wake-ups across processes through the database: on PostgreSQL a NOTIFY sent at commit
reaches every process that LISTENs on its channel. SQLite has no such channel (its processes
poll), so there `relay` returns at once.

The relay keeps its connection up, reconnecting after a pause when it drops; the caller's
polling covers the gap, so a lost notification delays work by a poll interval, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from minibase.store.database import Database

RECONNECT_AFTER = 5.0


async def relay(
    db: Database, channel: str, wake: Callable[[], None], stop: asyncio.Event, log: logging.Logger
) -> None:
    """Until `stop`: every NOTIFY on `channel` calls `wake` (and so does each (re)connection:
    what was announced while nobody listened)."""
    listening = getattr(db, "listening", None)
    if listening is None:
        return
    while not stop.is_set():
        try:
            async with listening(channel, wake) as lost:
                wake()
                await first_of(stop, lost)
            if not stop.is_set():
                log.warning("the notification connection of %s was lost; reconnecting", channel)
        except Exception:
            log.exception("listening for notifications on %s failed; polling meanwhile", channel)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RECONNECT_AFTER)


async def first_of(*events: asyncio.Event) -> None:
    """Wait until any of the events is set."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
