"""At most N of something per window, in this process: a fixed window, no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateCap:
    def __init__(
        self, limit: int, window: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._monotonic = monotonic
        self._started = monotonic()
        self._used = 0

    def allow(self) -> bool:
        """True while fewer than `limit` were allowed in the current window."""
        now = self._monotonic()
        if now - self._started >= self._window:
            self._started, self._used = now, 0
        if self._used >= self._limit:
            return False
        self._used += 1
        return True
