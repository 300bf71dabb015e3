"""The nonces of message pushes seen inside the replay window, shared by every process: the
database (`push_nonces`, the default) or Redis (`cache_url`).

`claim` is one atomic step on either: the first caller with a nonce gets True, any other
inside the window False. Expired nonces are dropped as new ones come (the database) or expire
by themselves (Redis).
"""

from __future__ import annotations

from typing import Any, Protocol

from minibase.clock import Clock
from minibase.store.database import Database


class NonceStore(Protocol):
    async def claim(self, key: str, seconds: float) -> bool:
        """True the first time `key` is seen within `seconds`."""
        ...

    async def close(self) -> None: ...


class DatabaseNonceStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, key: str, seconds: float) -> bool:
        now = self._clock.timestamp()
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM push_nonces WHERE expires_at < ?", now)
            row = await conn.fetch_one(
                "INSERT INTO push_nonces (key, expires_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING RETURNING key",
                key,
                now + seconds,
            )
        return row is not None

    async def close(self) -> None:
        """The database is the services' own."""


class RedisNonceStore:
    """`minibase:push-nonce:<key>`, SET NX with the window as its lifetime."""

    def __init__(self, url: str, prefix: str = "minibase") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._prefix = prefix

    async def claim(self, key: str, seconds: float) -> bool:
        taken = await self._redis.set(
            f"{self._prefix}:push-nonce:{key}", b"1", nx=True, px=max(1, int(seconds * 1000))
        )
        return bool(taken)

    async def close(self) -> None:
        await self._redis.aclose()
