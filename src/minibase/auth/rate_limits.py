"""Request rate limits: so many requests per window for a route group, counted per client
address and per signed-in user (admins per admin). Past a limit the request answers 429
`request.rate_limited` with Retry-After, before its handler runs.

Windows are fixed and start at a key's first request (as the sign-in throttle's do): one
counter per key, one round trip per request. The counters live in Redis with `cache_url`, so
every instance shares them (the sign-in throttle's store); else in a file that the workers of
one `minibase serve` share (file_counters.py); else, outside `minibase serve`, in this process.
Keys are HMACs, as the throttle's: no address or user id can be read back from Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from minibase.auth.throttle import Counted
from minibase.clock import Clock
from minibase.config import Rate
from minibase.errors import ApiError

# An in-process store drops ended windows when it grows past this many keys.
_PRUNE_AT = 10_000


class CounterStore(Protocol):
    async def hit(self, keys: Sequence[tuple[str, int]], now: float) -> list[Counted]:
        """One more for each (key, window seconds), a new window if none is running; the
        counts and window ends now, in the keys' order."""
        ...

    async def close(self) -> None: ...


class MemoryCounterStore:
    """The counters of one process: for an app built outside `minibase serve` (tests, an app
    mounted by hand), which has no server folder to share them through."""

    def __init__(self) -> None:
        self._counts: dict[str, Counted] = {}
        self._prune_at = _PRUNE_AT

    async def hit(self, keys: Sequence[tuple[str, int]], now: float) -> list[Counted]:
        if len(self._counts) >= self._prune_at:
            self._counts = {k: c for k, c in self._counts.items() if c.window_end > now}
            self._prune_at = max(_PRUNE_AT, 2 * len(self._counts))
        answers = []
        for key, window in keys:
            held = self._counts.get(key)
            if held is None or held.window_end <= now:
                counted = Counted(1, now + window)
            else:
                counted = Counted(held.failures + 1, held.window_end)
            self._counts[key] = counted
            answers.append(counted)
        return answers

    async def close(self) -> None:
        """Nothing to release."""


class RateLimits:
    def __init__(
        self,
        store: CounterStore,
        clock: Clock,
        per_address: Mapping[str, Rate],
        per_user: Mapping[str, Rate],
        key: bytes,
    ) -> None:
        self.store = store
        self.per_address = dict(per_address)
        self.per_user = dict(per_user)
        self._clock = clock
        self._secret = key

    @property
    def enabled(self) -> bool:
        return bool(self.per_address or self.per_user)

    async def check(self, group: str, address: str, user: str | None) -> None:
        """Count this request of `group` from `address` (and `user`, when signed in); 429
        `request.rate_limited` when a limit is spent."""
        counters: list[tuple[str, Rate, str]] = []
        rate = self.per_address.get(group)
        if rate is not None:
            counters.append((self._key(group, "address", address), rate, "address"))
        rate = self.per_user.get(group)
        if rate is not None and user is not None:
            counters.append((self._key(group, "user", user), rate, "user"))
        if not counters:
            return
        now = self._clock.timestamp()
        counts = await self.store.hit([(key, rate.seconds) for key, rate, _ in counters], now)
        spent = [
            (counted.window_end, per)
            for counted, (_, rate, per) in zip(counts, counters, strict=True)
            if counted.failures > rate.requests
        ]
        if spent:
            window_end, per = max(spent)
            retry_after = max(1, math.ceil(window_end - now))
            raise ApiError(
                "request.rate_limited",
                429,
                f"too many requests of this kind ({group}) from this {per}; retry in"
                f" {retry_after} s",
                {"retry_after": retry_after, "group": group, "per": per},
            )

    def _key(self, group: str, per: str, value: str) -> str:
        digest = hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()
        return f"rate:{group}:{per}:{digest}"
