"""Planner statistics kept fresh as tables grow (ANALYZE in the background)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("minibase.store")


class TableStatistics:
    """Keeps the planner's statistics fresh as tables grow, on both engines.

    Without them the planner guesses, and guesses wrong for lists that filter on one index and
    sort on another (e.g. an owner rule plus a sort on score): statistics let it pick the index
    that stops after one page. A table is analyzed again after its rows change by a quarter (at
    least 100), in the background (`analyze` returns the table's rows). SQLite bounds it with
    `analysis_limit`; PostgreSQL samples. PostgreSQL's autovacuum would analyze too, but up to a
    minute later (its naptime): after a bulk load, every list meanwhile scanned the table.
    """

    def __init__(self, analyze: Callable[[str], Awaitable[int]]) -> None:
        self._analyze = analyze
        self._changed: dict[str, int] = {}
        self._rows: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    def note(self, table: str, rows: int) -> None:
        changed = self._changed.get(table, 0) + rows
        self._changed[table] = changed
        if changed >= max(100, self._rows.get(table, 0) // 4):
            self.refresh_soon(table)

    def refresh_soon(self, table: str) -> None:
        if table not in self._running:
            self._running[table] = asyncio.get_running_loop().create_task(self._refresh(table))

    async def _refresh(self, table: str) -> None:
        try:
            self._changed[table] = 0
            self._rows[table] = await self._analyze(table)
        except Exception:  # a dropped table, a closing database: statistics can wait
            log.debug("ANALYZE %s failed", table, exc_info=True)
        finally:
            self._running.pop(table, None)

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
