"""Throttling of guessing: failed sign-in attempts counted per account and per client address,
shared by every process and instance through the database (`auth_attempts`, the default) or
Redis (`cache_url`).

A limit allows so many failures in a fixed window that starts at the first failure. Once they
are spent, every attempt — a right password too, which is what makes guessing pointless —
answers 429 `auth.too_many_attempts` with `Retry-After` until the window ends, before any
password is hashed or any platform asked. Keys are stored as HMACs under a key derived from
the master key: bounded in size whatever a client sends, and no email or IP address can be read
(or enumerated) back from them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from minibase.clock import Clock
from minibase.errors import ApiError
from minibase.store.database import Database

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # e.g. admin_login.account; also where it is told in the 429's details
    failures: int  # allowed per window; 0: no limit
    window: int  # seconds
    reset_on_success: bool = False  # a success forgives the failures (per account, not address)


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """Strict per account; generous per address, where many people may share one (a carrier's
    NAT, an office)."""

    admin_account: Limit  # per admin email: a success forgives
    admin_address: Limit
    refresh_address: Limit  # unknown, expired, revoked or reused refresh tokens
    platform_address: Limit  # login codes the platform refused


@dataclass(frozen=True, slots=True)
class Counted:
    failures: int
    window_end: float  # unix seconds


class AttemptStore(Protocol):
    async def read(self, keys: Sequence[str], now: float) -> dict[str, Counted]:
        """The keys with failures in a window that has not ended."""
        ...

    async def add(self, keys: Sequence[tuple[str, int]], now: float) -> None:
        """One more failure for each (key, window seconds); a new window if none is running."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class Throttle:
    def __init__(self, store: AttemptStore, clock: Clock, limits: SignInLimits, key: bytes) -> None:
        self.store = store
        self.limits = limits
        self._clock = clock
        self._secret = key

    async def guard(
        self,
        attempt: Callable[[], Awaitable[T]],
        counters: Sequence[tuple[Limit, str]],
        failures: Collection[str],
    ) -> T:
        """Run `attempt` unless a counter's failures are spent (429); an ApiError whose code is
        in `failures` counts against every counter, a success forgives those that say so."""
        counters = [(limit, value) for limit, value in counters if limit.failures > 0]
        await self.check(counters)
        try:
            result = await attempt()
        except ApiError as error:
            if error.code in failures and counters:
                now = self._clock.timestamp()
                await self.store.add([(self._key(lim, v), lim.window) for lim, v in counters], now)
            raise
        forgiven = [self._key(limit, value) for limit, value in counters if limit.reset_on_success]
        if forgiven:
            await self.store.clear(forgiven)
        return result

    def _key(self, limit: Limit, value: str) -> str:
        digest = hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()
        return f"{limit.name}:{digest}"

    async def check(self, counters: Sequence[tuple[Limit, str]]) -> None:
        if not counters:
            return
        now = self._clock.timestamp()
        keys = {self._key(limit, value): limit for limit, value in counters}
        found = await self.store.read(list(keys), now)
        spent = [
            (counted.window_end, keys[key].name)
            for key, counted in found.items()
            if counted.failures >= keys[key].failures
        ]
        if spent:
            window_end, name = max(spent)
            retry_after = max(1, math.ceil(window_end - now))
            raise ApiError(
                "auth.too_many_attempts",
                429,
                f"too many failed attempts; retry in {retry_after} s",
                {"retry_after": retry_after, "limit": name},
            )


class DatabaseAttemptStore:
    """`auth_attempts`: one row per key with a running window; ended ones are dropped as new
    failures come."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, keys: Sequence[str], now: float) -> dict[str, Counted]:
        marks = ", ".join("?" for _ in keys)
        rows = await self._db.fetch_all(
            f"SELECT key, failures, window_end FROM auth_attempts"
            f" WHERE key IN ({marks}) AND window_end > ?",
            *keys,
            now,
        )
        return {row[0]: Counted(int(row[1]), float(row[2])) for row in rows}

    async def add(self, keys: Sequence[tuple[str, int]], now: float) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM auth_attempts WHERE window_end <= ?", now)
            for key, window in keys:
                await conn.execute(
                    "INSERT INTO auth_attempts (key, failures, window_end) VALUES (?, 1, ?)"
                    " ON CONFLICT (key) DO UPDATE SET failures = auth_attempts.failures + 1",
                    key,
                    now + window,
                )

    async def clear(self, keys: Sequence[str]) -> None:
        async with self._db.transaction() as conn:
            for key in keys:
                await conn.execute("DELETE FROM auth_attempts WHERE key = ?", key)

    async def close(self) -> None:
        """The database is the services' own."""


# One failure more, in one step on the Redis server. The window's end is kept in the hash, by
# the minibase clock like the database's (an ended window is ignored and started afresh), and
# the key expires with its window.
_ADD = """
local held = redis.call('HMGET', KEYS[1], 'failures', 'window_end')
local failures, window_end = tonumber(held[1]) or 0, held[2]
if not window_end or tonumber(window_end) <= tonumber(ARGV[1]) then
  failures, window_end = 0, ARGV[3]
end
redis.call('HSET', KEYS[1], 'failures', failures + 1, 'window_end', window_end)
if failures == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return failures + 1
"""


# One more for each key, all in one step (and one round trip), answering each key's count and
# window end: the request rate limits' counter. ARGV: now, then per key its window in
# milliseconds and the end a window starting now would have.
_HIT = """
local now, out = tonumber(ARGV[1]), {}
for i, key in ipairs(KEYS) do
  local held = redis.call('HMGET', key, 'failures', 'window_end')
  local count, window_end = tonumber(held[1]) or 0, held[2]
  if not window_end or tonumber(window_end) <= now then
    count, window_end = 0, ARGV[2 * i + 1]
  end
  redis.call('HSET', key, 'failures', count + 1, 'window_end', window_end)
  if count == 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
  out[i] = {count + 1, window_end}
end
return out
"""


class RedisAttemptStore:
    """`minibase:throttle:<key>`: a hash of failures and window end, expiring with its window."""

    def __init__(self, url: str, prefix: str = "minibase") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._prefix = prefix
        self._hit: Any = self._redis.register_script(_HIT)

    async def hit(self, keys: Sequence[tuple[str, int]], now: float) -> list[Counted]:
        """One more for each (key, window seconds), in one round trip: the counts now."""
        args: list[str | int] = [repr(now)]
        for _, window in keys:
            args += [window * 1000, repr(now + window)]
        answers = await self._hit(keys=[self._name(key) for key, _ in keys], args=args)
        return [Counted(int(count), float(window_end)) for count, window_end in answers]

    def _name(self, key: str) -> str:
        return f"{self._prefix}:throttle:{key}"

    async def read(self, keys: Sequence[str], now: float) -> dict[str, Counted]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._name(key), "failures", "window_end")
            answers = await pipe.execute()
        found = {}
        for key, (failures, window_end) in zip(keys, answers, strict=True):
            if failures is not None and window_end is not None and float(window_end) > now:
                found[key] = Counted(int(failures), float(window_end))
        return found

    async def add(self, keys: Sequence[tuple[str, int]], now: float) -> None:
        for key, window in keys:
            await self._redis.eval(
                _ADD, 1, self._name(key), repr(now), window * 1000, repr(now + window)
            )

    async def clear(self, keys: Sequence[str]) -> None:
        await self._redis.delete(*(self._name(key) for key in keys))

    async def close(self) -> None:
        await self._redis.aclose()
