"""The replay guard's nonces, shared by every process: in the database by default, in Redis
with cache_url. The first claim of a nonce wins; another inside the window loses; after the
window the nonce is free again."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.http.push.conftest import PushingApp, recorded
from tests.messaging.conftest import REDIS_URL

from minibase.clock import OffsetClock
from minibase.config import Settings
from minibase.messaging.push_nonces import DatabaseNonceStore, RedisNonceStore
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def test_the_database_remembers_a_nonce_for_the_window(
    services: Services, clock: OffsetClock
) -> None:
    nonces = DatabaseNonceStore(services.db, clock)
    assert await nonces.claim("wechat:wx:1", 300) is True
    assert await nonces.claim("wechat:wx:1", 300) is False
    assert await nonces.claim("wechat:wx:2", 300) is True
    clock.advance(seconds=301)
    assert await nonces.claim("wechat:wx:1", 300) is True


async def test_redis_remembers_a_nonce_for_the_window() -> None:
    nonces = RedisNonceStore(REDIS_URL, prefix="minibase-test-nonces")
    try:
        key = f"wechat:wx:{id(nonces)}"
        assert await nonces.claim(key, 0.2) is True
        assert await nonces.claim(key, 0.2) is False
        await asyncio.sleep(0.3)
        assert await nonces.claim(key, 0.2) is True
    finally:
        await nonces.close()


class TestWithRedis:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.replace(cache_url=REDIS_URL)

    async def test_a_replay_is_refused_with_the_nonces_in_redis(
        self,
        http: httpx.AsyncClient,
        sandbox: SandboxClient,
        admin: Actor,
        safe_app: PushingApp,
        services: Services,
    ) -> None:
        assert isinstance(services.push.nonces, RedisNonceStore)
        first = await safe_app.push(sandbox, {"MsgType": "text", "Content": "hi"})
        assert first["deliveries"][0]["status"] == 200
        again = await safe_app.push(sandbox, {"MsgType": "text"}, replay=True)
        assert again["deliveries"][0]["status"] == 401
        assert "push.replayed" in again["deliveries"][0]["body"]
        assert len(await recorded(http, admin)) == 1
