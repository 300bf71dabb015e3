"""A stopping server's drain: between SIGTERM and the moment it stops taking connections.

A load balancer that probes `/api/ready` (Kubernetes, HAProxy, a cloud balancer) needs a probe
interval or two to notice that an instance is going away. Stopping to accept at once would reset
the connections it sends in that time. So on SIGTERM the server's main process raises a flag
that every worker process sees (a file in the server's folder, server_folder.py), keeps
serving for `shutdown_drain` seconds while `/api/ready` answers 503 `server.shutting_down`, and
only then stops as the HTTP server does (no new connections; those in flight get
`shutdown_timeout`). A second SIGTERM, or SIGINT (Ctrl-C), stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from minibase.server_folder import server_folder

log = logging.getLogger("minibase.server")

FLAG = "draining"  # the flag's file in the server's folder


def draining() -> bool:
    """Has this server's main process begun to drain? (False outside `minibase serve`.)"""
    folder = server_folder()
    return folder is not None and (folder / FLAG).exists()


class Drain:
    """Owned by `minibase serve`'s main process, made before the workers start."""

    def __init__(self, seconds: float, folder: Path) -> None:
        self.seconds = seconds
        self.flag = folder / FLAG
        self._timer: threading.Timer | None = None

    def on_signal(self, signum: int, stop: Callable[[], None]) -> None:
        """Stop now, or after the drain: the first SIGTERM of a server with a drain waits."""
        if self._timer is not None or signum != signal.SIGTERM or self.seconds <= 0:
            if self._timer is not None:
                self._timer.cancel()
            stop()
            return
        self.flag.touch()
        log.info(
            "SIGTERM: not ready any more; taking requests for %g s more (shutdown_drain), then"
            " stopping",
            self.seconds,
        )
        self._timer = threading.Timer(self.seconds, stop)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
