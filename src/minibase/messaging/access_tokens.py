"""App access tokens (WeChat `cgi-bin/stable_token`), cached until shortly before expiry.

The stable_token API answers every caller with the same token until it nears expiry, so
processes that each fetch one never invalidate one another's. On 40001/42001 from an API call,
the caller invalidates once and retries once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from minibase.auth.apps import PlatformApp
from minibase.clock import Clock
from minibase.gateway import PlatformGateway, platform_failure
from minibase.platforms import PlatformError

REFRESH_AHEAD = 300  # seconds before expiry a token is replaced


@dataclass(frozen=True, slots=True)
class _Cached:
    value: str
    expires_at: float


class AccessTokens:
    def __init__(self, gateway: PlatformGateway, clock: Clock) -> None:
        self._gateway = gateway
        self._clock = clock
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, app: PlatformApp, *, force_refresh: bool = False) -> str:
        key = (app.platform, app.appid)
        now = self._clock.now().timestamp()
        cached = self._cache.get(key)
        if cached is not None and not force_refresh and cached.expires_at - REFRESH_AHEAD > now:
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is not None and not force_refresh and cached.expires_at - REFRESH_AHEAD > now:
                return cached.value  # another task refreshed it while this one waited
            try:
                token = await self._gateway.client(app).get_access_token(
                    force_refresh=force_refresh
                )
            except PlatformError as exc:
                raise platform_failure(exc, client_input=False) from None
            self._cache[key] = _Cached(token.value, now + token.expires_in)
            return str(token.value)

    def invalidate(self, app: PlatformApp, value: str) -> None:
        key = (app.platform, app.appid)
        cached = self._cache.get(key)
        if cached is not None and cached.value == value:
            del self._cache[key]
