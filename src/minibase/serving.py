"""The HTTP server that `minibase serve` hands over to: granian (the default) or uvicorn, in
worker processes that import `minibase.server`, with the drain of a stopping server
(observability/draining.py) in front of each one's own SIGTERM handling."""

from __future__ import annotations

import math
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from minibase.config import Settings
from minibase.observability.draining import Drain
from minibase.server_folder import ServerFolder

APP = "minibase.server:app_from_environment"


# `workers = auto` runs one process per core, up to this many: past it, a box is better served
# by more instances (each worker holds its own database pool, and on SQLite they all take turns
# at one write lock).
AUTO_WORKERS_MAX = 4


def worker_count(settings: Settings) -> int:
    """`workers`, or for auto (None): one in --dev (it reloads functions in its process), else
    one per core this server may use, as its CPU affinity and its cgroup's CPU quota (a
    container's CPU limit) allow, at most AUTO_WORKERS_MAX."""
    if settings.workers is not None:
        return settings.workers
    if settings.dev:
        return 1
    return max(1, min(AUTO_WORKERS_MAX, usable_cores()))


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may run on, capped by a cgroup CPU quota (v2 or v1), rounded up."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_quota(cgroup)
    return min(cores or 1, math.ceil(quota)) if quota else cores or 1


def _cgroup_quota(cgroup: Path) -> float | None:
    """CPUs the cgroup may use (quota ÷ period), or None without a limit."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]  # v2
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        v1 = cgroup / "cpu"
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
        return None if quota_us <= 0 else quota_us / int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def run_http_server(settings: Settings, workers: int) -> None:
    """Serve until stopped: SIGTERM drains first (shutdown_drain), then stops gracefully."""
    folder = ServerFolder()
    drain = Drain(settings.shutdown_drain, folder.path)
    try:
        if settings.server == "uvicorn":
            _uvicorn(settings, workers, drain)
        else:
            _granian(settings, workers, drain)
    finally:
        drain.close()
        folder.close()


def _granian(settings: Settings, workers: int, drain: Drain) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    class DrainingGranian(Granian):  # type: ignore[misc,valid-type]
        def signal_handler_interrupt(self, signum: int, frame: Any = None) -> None:
            stop = super().signal_handler_interrupt
            drain.on_signal(signum, lambda: stop(signum, frame))

    DrainingGranian(
        APP,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        # a worker that dies (killed, out of memory) is started again; the others serve on
        respawn_failed_workers=True,
        workers_kill_timeout=settings.shutdown_timeout,
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
        log_level=settings.log_level,
    ).serve()


def _uvicorn(settings: Settings, workers: int, drain: Drain) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            drain.on_signal(sig, lambda: super(DrainingServer, self).handle_exit(sig, frame))

    class DrainingSupervisor(Multiprocess):
        def handle_term(self) -> None:
            drain.on_signal(signal.SIGTERM, super().handle_term)

    config = uvicorn.Config(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # JSON logs: uvicorn's own lines go through the root logger's JSON handler too
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )
    if workers > 1:
        # each worker runs a plain server: the supervisor drains, then stops them
        DrainingSupervisor(config, sockets=[config.bind_socket()]).run()
    else:
        DrainingServer(config).run()
