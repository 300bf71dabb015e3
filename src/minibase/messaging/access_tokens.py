"""App access tokens: one valid token per app, shared by every worker and every instance.

A token is looked up in this process first (no network, no database while it is fresh), then
in the shared store (the database, or Redis with `cache_url`). Ahead of its expiry exactly one
holder of the app's refresh lease fetches a new one (WeChat `cgi-bin/stable_token` by default,
`cgi-bin/token` with `wechat_token_api = "token"`; QQ `api/getToken`; Douyin `apps/v2/token`)
and writes it for all; the others wait for it. An API call answered 40001/42001 invalidates
the token it used (once: only if it is still the stored one) and retries once.

Alipay and Baidu apps are called without one (signed requests, or no server API used here).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from minibase.auth.apps import PlatformApp
from minibase.clock import Clock
from minibase.errors import ApiError
from minibase.gateway import PlatformGateway, platform_failure
from minibase.jobs.worker import default_worker_id
from minibase.messaging.token_store import StoredToken, TokenStatus, TokenStore
from minibase.platforms import PlatformError

T = TypeVar("T")
REFRESH_AHEAD = 300  # seconds before expiry a token is replaced
WAIT_STEP = 0.05  # seconds between two looks while another process refreshes
TOKEN_PLATFORMS = ("wechat", "qq", "douyin")  # the platforms whose apps have an access token


class AccessTokens:
    def __init__(
        self,
        gateway: PlatformGateway,
        clock: Clock,
        store: TokenStore,
        *,
        lease: float = 15.0,
        stable: bool = True,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._store = store
        self._lease = lease  # how long a refresher holds the app's lock at most
        self._stable = stable
        self._owner = default_worker_id()  # this process, as lease holder and refresher
        self._cache: dict[tuple[str, str], StoredToken] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.refreshes = 0  # platform calls made by this process (for tests and metrics)

    def _fresh(self, token: StoredToken | None, now: float) -> bool:
        return token is not None and token.expires_at - REFRESH_AHEAD > now

    async def get(self, app: PlatformApp) -> str:
        """The app's token: from this process, else the shared store, else refreshed."""
        key = (app.platform, app.appid)
        cached = self._cache.get(key)
        if self._fresh(cached, self._clock.timestamp()):
            assert cached is not None
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):  # one task per process
            return await self._shared(app, f"{app.platform}:{app.appid}")

    async def _shared(self, app: PlatformApp, name: str) -> str:
        key = (app.platform, app.appid)
        deadline = self._clock.timestamp() + self._lease * 2
        while True:
            now = self._clock.timestamp()
            found = await self._adopt(key, name)
            if found is not None:
                return found
            if await self._store.try_lock(name, self._owner, self._lease):
                try:  # refreshed by another process just before the lock?
                    return await self._adopt(key, name) or await self._refresh(app, name)
                finally:
                    await self._store.unlock(name, self._owner)
            if now > deadline:
                raise ApiError(
                    "platform.unavailable",
                    503,
                    f"{app.platform}: no access token yet (another process is refreshing it)",
                )
            await asyncio.sleep(WAIT_STEP)

    async def _adopt(self, key: tuple[str, str], name: str) -> str | None:
        """The shared store's token, kept in this process, if it is fresh."""
        stored = await self._store.read(name)
        if stored is None or not self._fresh(stored, self._clock.timestamp()):
            return None
        self._cache[key] = stored
        return stored.value

    async def _refresh(self, app: PlatformApp, name: str) -> str:
        client = self._gateway.client(app)
        # stable_token answers the same token until it nears expiry: a refused one needs
        # force_refresh (WeChat allows a few a day)
        force = await self._store.was_refused(name)
        try:
            if app.platform == "wechat":
                token = await client.get_access_token(stable=self._stable, force_refresh=force)
            else:
                token = await client.get_access_token()
        except PlatformError as exc:
            raise platform_failure(exc, client_input=False) from None
        self.refreshes += 1
        stored = StoredToken(token.value, self._clock.timestamp() + token.expires_in)
        await self._store.write(name, stored, refreshed_by=self._owner)
        self._cache[(app.platform, app.appid)] = stored
        return str(token.value)

    async def calling(self, app: PlatformApp, call: Callable[[str], Awaitable[T]]) -> T:
        """`call(token)`; when the platform refuses the token (40001/42001 ...), it is
        invalidated once and the call retried once with a fresh one."""
        token = await self.get(app)
        try:
            return await call(token)
        except PlatformError as exc:
            if not exc.access_token_rejected:
                raise
        await self.invalidate(app, token)
        return await call(await self.get(app))

    async def invalidate(self, app: PlatformApp, value: str) -> None:
        """`value` was refused (40001/42001): forget it here and in the store, if it is still
        the one there (another process may have replaced it already)."""
        key = (app.platform, app.appid)
        cached = self._cache.get(key)
        if cached is not None and cached.value == value:
            del self._cache[key]
        await self._store.discard(f"{app.platform}:{app.appid}", value)

    async def status(self, app: PlatformApp) -> TokenStatus | None:
        """The app's shared token as admins see it; None for a platform without tokens."""
        if app.platform not in TOKEN_PLATFORMS:
            return None
        return await self._store.status(f"{app.platform}:{app.appid}")

    async def refresh(self, app: PlatformApp) -> None:
        """Replace the app's token now, for every process. The stored one is discarded as if
        the platform had refused it, so the fetch that follows is the one the lease allows and
        it is forced (WeChat's stable_token would answer the same token otherwise); processes
        that still hold the old one meet 40001 once and adopt the new one."""
        if app.platform not in TOKEN_PLATFORMS:
            raise ApiError(
                "apps.no_access_token",
                409,
                f"{app.platform} apps are called without an access token",
                {"platforms": list(TOKEN_PLATFORMS)},
            )
        stored = await self._store.read(f"{app.platform}:{app.appid}")
        if stored is not None:
            await self.invalidate(app, stored.value)
        self._cache.pop((app.platform, app.appid), None)
        await self.get(app)

    async def ping_store(self) -> None:
        """Reach the shared store the tokens are kept in (the database or Redis); raises when
        it cannot be reached."""
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()
