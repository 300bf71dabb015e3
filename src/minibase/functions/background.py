"""What runs beside the HTTP server (or alone, in `minibase worker`): job workers, the scheduler,
the purge of old finished jobs, and in --dev the reloading of the functions folder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from minibase.config import Settings
from minibase.functions.registry import (
    MAX_JOB_TIMEOUT,
    FunctionsError,
    load_configured,
    source_fingerprint,
)
from minibase.functions.runtime import Extensions
from minibase.jobs import JobQueue, JobWorker
from minibase.jobs.notifications import relay_notifications
from minibase.jobs.worker import CANCEL_GRACE

log = logging.getLogger("minibase.functions")
PURGE_INTERVAL = 3600.0


class Background:
    def __init__(
        self,
        extensions: Extensions,
        queue: JobQueue,
        settings: Settings,
        *,
        run_jobs: bool,
        reload: bool,
    ) -> None:
        self._extensions = extensions
        self._queue = queue
        self._settings = settings
        self._run_jobs = run_jobs
        self._reload = reload
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._fingerprint = source_fingerprint(settings.functions_dir)

    def start(self) -> None:
        settings = self._settings
        if self._run_jobs:
            worker = JobWorker(
                self._queue,
                self._extensions.handler_for,
                concurrency=settings.job_concurrency,
                lease_seconds=settings.job_lease,
                timeout=MAX_JOB_TIMEOUT + CANCEL_GRACE,  # each handler keeps its own timeout
                # stopping: running jobs may finish before the server's workers are killed
                shutdown_grace=max(settings.shutdown_timeout - CANCEL_GRACE, 0),
            )
            self._tasks.append(asyncio.create_task(worker.run(self._stop)))
            scheduling = self._every(settings.scheduler_interval, self._extensions.enqueue_due)
            self._tasks.append(asyncio.create_task(scheduling))
            self._tasks.append(asyncio.create_task(self._every(PURGE_INTERVAL, self.purge)))
            relay = relay_notifications(self._queue.db, self._queue, self._stop)
            self._tasks.append(asyncio.create_task(relay))
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

    async def purge(self) -> int:
        """Succeeded and cancelled jobs older than job_retention_days go (their keys too)."""
        days = self._settings.job_retention_days
        purged = await self._queue.purge(self._queue.now() - timedelta(days=days))
        if purged:
            log.info("purged %d jobs finished more than %d days ago", purged, days)
        return purged

    async def reload_if_changed(self) -> bool:
        """--dev: load the folder again when a file changed; a broken file keeps the old code."""
        fingerprint = source_fingerprint(self._settings.functions_dir)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        try:
            registry = await asyncio.to_thread(load_configured, self._settings)
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
