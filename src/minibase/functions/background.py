"""What runs beside the HTTP server (or alone, in `minibase worker`): job workers, the scheduler,
and in --dev the reloading of the functions folder when a file changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from minibase.functions.registry import FunctionsError, load_functions, source_fingerprint
from minibase.functions.runtime import Extensions
from minibase.jobs import JobQueue, JobWorker

log = logging.getLogger("minibase.functions")


class Background:
    def __init__(
        self,
        extensions: Extensions,
        queue: JobQueue,
        functions_dir: Path,
        *,
        run_jobs: bool,
        concurrency: int,
        scheduler_interval: float,
        reload: bool,
    ) -> None:
        self._extensions = extensions
        self._queue = queue
        self._functions_dir = functions_dir
        self._run_jobs = run_jobs
        self._concurrency = concurrency
        self._scheduler_interval = scheduler_interval
        self._reload = reload
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._fingerprint = source_fingerprint(functions_dir)

    def start(self) -> None:
        if self._run_jobs:
            worker = JobWorker(
                self._queue, self._extensions.handler_for, concurrency=self._concurrency
            )
            self._tasks.append(asyncio.create_task(worker.run(self._stop)))
            self._tasks.append(
                asyncio.create_task(
                    self._every(self._scheduler_interval, self._extensions.enqueue_due)
                )
            )
        if self._reload:
            self._tasks.append(asyncio.create_task(self._every(1.0, self.reload_if_changed)))

    async def stop(self) -> None:
        """Every loop watches the stop event; the worker lets running jobs finish."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _every(self, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        while not self._stop.is_set():
            try:
                await work()
            except Exception:  # keep going: the next round may work (the database is back)
                log.exception("background work failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)

    async def reload_if_changed(self) -> bool:
        """--dev: load the folder again when a file changed; a broken file keeps the old code."""
        fingerprint = source_fingerprint(self._functions_dir)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        try:
            registry = await asyncio.to_thread(load_functions, self._functions_dir)
        except FunctionsError as exc:
            log.error("functions not reloaded, the running ones stay: %s", exc)
            return False
        self._extensions.registry = registry
        log.info(
            "functions reloaded: %d functions, %d schedules, %d job handlers",
            len(registry.functions),
            len(registry.schedules),
            len(registry.jobs),
        )
        return True
