"""One access token per app for every worker and instance: fetched once, shared through the
store (the database, or Redis), refreshed ahead of expiry by exactly one holder of the lease,
and replaced exactly once when the platform refuses it (40001/42001)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from minibase.auth.apps import PlatformApp
from minibase.messaging.access_tokens import REFRESH_AHEAD, AccessTokens
from minibase.messaging.token_store import DatabaseTokenStore, RedisTokenStore, TokenStore
from minibase.services import Services
from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.messaging.conftest import REDIS_URL, OffsetClock


@pytest.fixture(params=["database", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def processes(services: Services, clock: OffsetClock, store_kind: str) -> list[AccessTokens]:
    """Five processes' token caches over one shared store."""
    prefix = f"test-{secrets.token_hex(6)}"

    def store() -> TokenStore:
        if store_kind == "redis":
            return RedisTokenStore(REDIS_URL, services.vault, clock, prefix=prefix)
        return DatabaseTokenStore(services.db, services.vault, clock)

    return [AccessTokens(services.platforms, clock, store()) for _ in range(5)]


@pytest.fixture
async def app(register_app: RegisterApp, services: Services) -> PlatformApp:
    await register_app("wechat", "wx-tokens")
    return await services.apps.get("wechat", "wx-tokens")


async def _fetches(sandbox: SandboxClient, path: str = "/cgi-bin/stable_token") -> int:
    return (await sandbox.calls()).get("wechat", {}).get(path, 0)


async def test_every_process_asking_at_once_gets_one_token_fetched_once(
    processes: list[AccessTokens], app: PlatformApp, sandbox: SandboxClient
) -> None:
    tokens = await asyncio.gather(*(p.get(app) for p in processes for _ in range(20)))
    assert len(set(tokens)) == 1
    assert await _fetches(sandbox) == 1
    assert sum(p.refreshes for p in processes) == 1


async def test_a_fresh_token_costs_no_platform_call(
    processes: list[AccessTokens], app: PlatformApp, sandbox: SandboxClient
) -> None:
    first = await processes[0].get(app)
    for _ in range(100):
        assert await processes[0].get(app) == first
        assert await processes[1].get(app) == first
    assert await _fetches(sandbox) == 1


async def test_a_token_near_its_expiry_is_refreshed_once_for_everyone(
    processes: list[AccessTokens], app: PlatformApp, sandbox: SandboxClient, clock: OffsetClock
) -> None:
    await processes[0].get(app)
    clock.advance(seconds=7200 - REFRESH_AHEAD + 1)
    await asyncio.gather(*(p.get(app) for p in processes for _ in range(10)))
    assert await _fetches(sandbox) == 2


async def test_a_refused_token_is_replaced_once_however_many_processes_saw_it_refused(
    processes: list[AccessTokens], app: PlatformApp, sandbox: SandboxClient
) -> None:
    refused = await processes[0].get(app)
    await asyncio.gather(*(p.get(app) for p in processes))
    await asyncio.gather(*(p.invalidate(app, refused) for p in processes))
    fresh = await asyncio.gather(*(p.get(app) for p in processes for _ in range(5)))
    assert len(set(fresh)) == 1
    assert fresh[0] != refused  # forced: stable_token would have answered the refused one
    assert await _fetches(sandbox) == 2
    await processes[0].invalidate(app, refused)  # a late report of the old one: no effect
    assert await processes[0].get(app) == fresh[0]
    assert await _fetches(sandbox) == 2


async def test_the_classic_token_api_is_used_when_chosen(
    services: Services, clock: OffsetClock, app: PlatformApp, sandbox: SandboxClient
) -> None:
    store = DatabaseTokenStore(services.db, services.vault, clock)
    classic = AccessTokens(services.platforms, clock, store, stable=False)
    await asyncio.gather(*(classic.get(app) for _ in range(10)))
    assert await _fetches(sandbox, "/cgi-bin/token") == 1
    assert await _fetches(sandbox) == 0


async def test_a_platform_outage_is_a_503_and_the_next_ask_fetches_again(
    processes: list[AccessTokens], app: PlatformApp, sandbox: SandboxClient
) -> None:
    from minibase.errors import ApiError

    await sandbox.outage("wechat", "http_500")
    with pytest.raises(ApiError) as refused:
        await processes[0].get(app)
    assert (refused.value.code, refused.value.status) == ("platform.unavailable", 503)
    assert await processes[1].get(app)  # the lease was given back: another process fetches


async def test_a_douyin_apps_token_is_shared_too(
    processes: list[AccessTokens],
    register_app: RegisterApp,
    services: Services,
    sandbox: SandboxClient,
) -> None:
    await register_app("douyin", "tt-tokens")
    app = await services.apps.get("douyin", "tt-tokens")
    tokens = await asyncio.gather(*(p.get(app) for p in processes for _ in range(10)))
    assert len(set(tokens)) == 1
    calls = (await sandbox.calls()).get("douyin", {})
    assert calls.get("/api/apps/v2/token") == 1
