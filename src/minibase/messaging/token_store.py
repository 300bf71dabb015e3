"""Where app access tokens live so that every worker and every instance shares one: the
database (the default: `platform_tokens`, on SQLite or PostgreSQL) or Redis (`cache_url`).

Tokens are sealed with the vault wherever they are kept. A refresh is done by whoever holds
the key's lock (a lease that expires, so a holder that dies frees it); the others wait for the
token it writes. `discard` removes a token only while it is still the one a caller found
refused (40001/42001), so a token refreshed meanwhile is never thrown away; it leaves a mark,
so that whichever process refreshes next knows to force a new token (stable_token would
otherwise answer the refused one again).

`status` is what an admin may see of a key: whether a token is stored, until when, when and by
which process it was fetched, who holds the lease — never the token nor its fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from minibase.clock import Clock, isoformat
from minibase.store.database import Database
from minibase.vault import Vault


@dataclass(frozen=True, slots=True)
class StoredToken:
    value: str
    expires_at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """A key's token as admins see it (unix seconds; None where there is nothing)."""

    expires_at: float | None  # None: no token stored, or the stored one has expired
    refreshed_at: float | None
    refreshed_by: str | None  # the refreshing process (`host:pid:random`), as lease owner
    lease_owner: str | None  # None: nobody is refreshing the token now
    lease_until: float | None
    refused: bool  # the last token was refused: the next fetch forces a new one

    def public(self) -> dict[str, Any]:
        """What admins see (ISO times), in the same words on both stores."""
        return {
            "cached": self.expires_at is not None,
            "expires_at": _iso(self.expires_at),
            "refreshed_at": _iso(self.refreshed_at),
            "refreshed_by": self.refreshed_by,
            "lease": {
                "held": self.lease_owner is not None,
                "owner": self.lease_owner,
                "until": _iso(self.lease_until),
            },
            "refused": self.refused,
        }


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else isoformat(datetime.fromtimestamp(seconds, UTC))


class TokenStore(Protocol):
    async def read(self, key: str) -> StoredToken | None: ...

    async def write(
        self, key: str, token: StoredToken, *, refreshed_by: str | None = None
    ) -> None: ...

    async def status(self, key: str) -> TokenStatus: ...

    async def discard(self, key: str, value: str) -> bool: ...

    async def was_refused(self, key: str) -> bool: ...

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool: ...

    async def unlock(self, key: str, owner: str) -> None: ...

    async def ping(self) -> None:
        """Reach the store; raises (OSError, a driver's error) when it cannot be reached."""

    async def close(self) -> None: ...


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _context(key: str) -> str:
    return f"minibase/access-token/{key}"


class DatabaseTokenStore:
    """`platform_tokens`: one row per app, its sealed token and its refresh lease."""

    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self._db = db
        self._vault = vault
        self._clock = clock

    async def read(self, key: str) -> StoredToken | None:
        row = await self._db.fetch_one(
            "SELECT sealed, expires_at FROM platform_tokens WHERE key = ?", key
        )
        if row is None or row[0] is None:
            return None
        value = self._vault.open(row[0], _context(key)).reveal()
        return StoredToken(value, float(row[1]))

    async def write(self, key: str, token: StoredToken, *, refreshed_by: str | None = None) -> None:
        sealed = self._vault.seal(token.value, _context(key))
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO platform_tokens"
                " (key, sealed, fingerprint, expires_at, refreshed_at, refreshed_by)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " sealed = excluded.sealed, fingerprint = excluded.fingerprint,"
                " expires_at = excluded.expires_at, refreshed_at = excluded.refreshed_at,"
                " refreshed_by = excluded.refreshed_by, refused = NULL",
                key,
                sealed,
                fingerprint(token.value),
                token.expires_at,
                self._clock.timestamp(),
                refreshed_by,
            )

    async def status(self, key: str) -> TokenStatus:
        row = await self._db.fetch_one(
            "SELECT sealed IS NOT NULL, expires_at, refreshed_at, refreshed_by, lock_owner,"
            " lock_until, refused IS NOT NULL FROM platform_tokens WHERE key = ?",
            key,
        )
        if row is None:
            return TokenStatus(None, None, None, None, None, False)
        stored, expires_at, refreshed_at, refreshed_by, owner, until, refused = row
        now = self._clock.timestamp()
        # as in Redis, where a token and a lease vanish when they expire
        kept = bool(stored) and expires_at is not None and float(expires_at) > now
        held = owner is not None and until is not None and float(until) > now
        return TokenStatus(
            float(expires_at) if kept else None,
            float(refreshed_at) if kept and refreshed_at is not None else None,
            refreshed_by if kept else None,
            owner if held else None,
            float(until) if held else None,
            bool(refused),
        )

    async def discard(self, key: str, value: str) -> bool:
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(
                "UPDATE platform_tokens SET sealed = NULL, fingerprint = NULL, expires_at = NULL,"
                " refused = fingerprint WHERE key = ? AND fingerprint = ? RETURNING key",
                key,
                fingerprint(value),
            )
        return row is not None

    async def was_refused(self, key: str) -> bool:
        refused = await self._db.fetch_value(
            "SELECT refused FROM platform_tokens WHERE key = ?", key
        )
        return refused is not None

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        now = self._clock.timestamp()
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(
                "INSERT INTO platform_tokens (key, lock_owner, lock_until) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET lock_owner = excluded.lock_owner,"
                " lock_until = excluded.lock_until WHERE platform_tokens.lock_until IS NULL"
                " OR platform_tokens.lock_until < ? RETURNING lock_owner",
                key,
                owner,
                now + seconds,
                now,
            )
        return row is not None and row[0] == owner

    async def unlock(self, key: str, owner: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE platform_tokens SET lock_owner = NULL, lock_until = NULL"
                " WHERE key = ? AND lock_owner = ?",
                key,
                owner,
            )

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        """The database is the services' own."""


# Compare-and-delete, in one step on the Redis server.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_DISCARD_IF = """
local held = redis.call('GET', KEYS[1])
if held and cjson.decode(held)['fingerprint'] == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""
REFUSED_MARK_MS = 3_600_000  # the mark outlives any refresh that could still be pending


class RedisTokenStore:
    """`minibase:token:<key>` (sealed, with its fingerprint, expiring with the token) and
    `minibase:token-lock:<key>` (SET NX PX)."""

    def __init__(self, url: str, vault: Vault, clock: Clock, prefix: str = "minibase") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._prefix = prefix
        self._vault = vault
        self._clock = clock

    async def read(self, key: str) -> StoredToken | None:
        held = await self._redis.get(f"{self._prefix}:token:{key}")
        if held is None:
            return None
        document = orjson.loads(held)
        value = self._vault.open(document["sealed"], _context(key)).reveal()
        return StoredToken(value, float(document["expires_at"]))

    async def write(self, key: str, token: StoredToken, *, refreshed_by: str | None = None) -> None:
        now = self._clock.timestamp()
        document = {
            "sealed": self._vault.seal(token.value, _context(key)),
            "fingerprint": fingerprint(token.value),
            "expires_at": token.expires_at,
            "refreshed_at": now,
            "refreshed_by": refreshed_by,
        }
        lifetime = max(1, int((token.expires_at - now) * 1000))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._prefix}:token:{key}", orjson.dumps(document), px=lifetime)
            pipe.delete(f"{self._prefix}:token-refused:{key}")
            await pipe.execute()

    async def discard(self, key: str, value: str) -> bool:
        removed = await self._redis.eval(
            _DISCARD_IF,
            2,
            f"{self._prefix}:token:{key}",
            f"{self._prefix}:token-refused:{key}",
            fingerprint(value),
            REFUSED_MARK_MS,
        )
        return bool(removed)

    async def was_refused(self, key: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:token-refused:{key}"))

    async def status(self, key: str) -> TokenStatus:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(f"{self._prefix}:token:{key}")
            pipe.get(f"{self._prefix}:token-lock:{key}")
            pipe.pttl(f"{self._prefix}:token-lock:{key}")
            pipe.exists(f"{self._prefix}:token-refused:{key}")
            held, owner, lease_ms, refused = await pipe.execute()
        now = self._clock.timestamp()
        token: dict[str, Any] = orjson.loads(held) if held is not None else {}
        if float(token.get("expires_at", 0)) <= now:  # Redis drops it then, by its own clock
            token = {}
        leased = owner is not None and lease_ms > 0
        return TokenStatus(
            token.get("expires_at"),
            token.get("refreshed_at"),  # absent from tokens written before v0017's release
            token.get("refreshed_by"),
            owner.decode() if leased else None,
            now + lease_ms / 1000 if leased else None,
            bool(refused),
        )

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        taken = await self._redis.set(
            f"{self._prefix}:token-lock:{key}", owner, nx=True, px=max(1, int(seconds * 1000))
        )
        return bool(taken)

    async def unlock(self, key: str, owner: str) -> None:
        await self._redis.eval(_DELETE_IF, 1, f"{self._prefix}:token-lock:{key}", owner)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
