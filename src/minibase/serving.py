"""The HTTP server that `minibase serve` hands over to: granian (the default) or uvicorn, in
worker processes that import `minibase.server`, with the drain of a stopping server
(observability/draining.py) in front of each one's own SIGTERM handling."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

from minibase.config import Settings
from minibase.observability.draining import Drain
from minibase.server_folder import ServerFolder

APP = "minibase.server:app_from_environment"


def run_http_server(settings: Settings) -> None:
    """Serve until stopped: SIGTERM drains first (shutdown_drain), then stops gracefully."""
    folder = ServerFolder()
    drain = Drain(settings.shutdown_drain, folder.path)
    try:
        if settings.server == "uvicorn":
            _uvicorn(settings, drain)
        else:
            _granian(settings, drain)
    finally:
        drain.close()
        folder.close()


def _granian(settings: Settings, drain: Drain) -> None:
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
        workers=settings.workers,
        workers_kill_timeout=settings.shutdown_timeout,
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
        log_level=settings.log_level,
    ).serve()


def _uvicorn(settings: Settings, drain: Drain) -> None:
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
        workers=settings.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # JSON logs: uvicorn's own lines go through the root logger's JSON handler too
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )
    if settings.workers > 1:
        # each worker runs a plain server: the supervisor drains, then stops them
        DrainingSupervisor(config, sockets=[config.bind_socket()]).run()
    else:
        DrainingServer(config).run()
