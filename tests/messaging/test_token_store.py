"""The shared token stores, the database's and Redis's, behave alike: a token written is read
back (sealed at rest), the refresh lease is one holder's until it ends or expires, and a
refused token is discarded only while it is still the stored one — leaving a mark that the next
refresh must force a new token."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from minibase.messaging.token_store import (
    DatabaseTokenStore,
    RedisTokenStore,
    StoredToken,
    TokenStatus,
    TokenStore,
)
from minibase.services import Services
from tests.messaging.conftest import REDIS_URL, OffsetClock


@pytest.fixture(params=["database", "redis"])
async def store(
    request: pytest.FixtureRequest, services: Services, clock: OffsetClock
) -> AsyncIterator[TokenStore]:
    if request.param == "database":
        yield DatabaseTokenStore(services.db, services.vault, clock)
        return
    redis_store = RedisTokenStore(
        REDIS_URL, services.vault, clock, prefix=f"test-{secrets.token_hex(6)}"
    )
    yield redis_store
    await redis_store.close()


async def test_a_written_token_is_read_back_and_is_sealed_at_rest(
    store: TokenStore, services: Services, clock: OffsetClock
) -> None:
    assert await store.read("wechat:wx1") is None
    expires = clock.now().timestamp() + 7200
    await store.write("wechat:wx1", StoredToken("ACCESS-TOKEN-VALUE-1", expires))
    assert await store.read("wechat:wx1") == StoredToken("ACCESS-TOKEN-VALUE-1", expires)
    if isinstance(store, DatabaseTokenStore):
        sealed = await services.db.fetch_value("SELECT sealed FROM platform_tokens")
        assert "ACCESS-TOKEN-VALUE-1" not in sealed


async def test_the_refresh_lease_is_one_holders_until_released_or_expired(
    store: TokenStore, clock: OffsetClock
) -> None:
    assert await store.try_lock("wechat:wx1", "a", 10)
    assert not await store.try_lock("wechat:wx1", "b", 10)
    await store.unlock("wechat:wx1", "b")  # not b's to release
    assert not await store.try_lock("wechat:wx1", "b", 10)
    await store.unlock("wechat:wx1", "a")
    assert await store.try_lock("wechat:wx1", "b", 0.2)
    if isinstance(store, DatabaseTokenStore):
        clock.advance(seconds=1)
    else:
        await asyncio.sleep(0.3)
    assert await store.try_lock("wechat:wx1", "c", 10)  # b died holding it: it expired


async def test_a_refused_token_is_discarded_only_while_it_is_still_the_stored_one(
    store: TokenStore, clock: OffsetClock
) -> None:
    expires = clock.now().timestamp() + 7200
    await store.write("wechat:wx1", StoredToken("OLD", expires))
    await store.write("wechat:wx1", StoredToken("NEW", expires))
    assert not await store.discard("wechat:wx1", "OLD")  # replaced meanwhile: kept
    assert not await store.was_refused("wechat:wx1")
    assert (await store.read("wechat:wx1")) == StoredToken("NEW", expires)
    assert await store.discard("wechat:wx1", "NEW")
    assert await store.read("wechat:wx1") is None
    assert await store.was_refused("wechat:wx1")
    await store.write("wechat:wx1", StoredToken("NEWER", expires))
    assert not await store.was_refused("wechat:wx1")


async def test_a_tokens_status_tells_when_and_by_whom_it_was_fetched_and_who_holds_the_lease(
    store: TokenStore, clock: OffsetClock
) -> None:
    nothing = TokenStatus(None, None, None, None, None, False)
    assert await store.status("wechat:wx1") == nothing
    now = clock.now().timestamp()
    await store.write("wechat:wx1", StoredToken("V", now + 7200), refreshed_by="host:1:ab")
    assert await store.try_lock("wechat:wx1", "host:2:cd", 10)
    status = await store.status("wechat:wx1")
    assert (status.expires_at, status.refreshed_by) == (now + 7200, "host:1:ab")
    assert 0 <= (status.refreshed_at or 0) - now < 5
    assert status.lease_owner == "host:2:cd"
    assert 9 < (status.lease_until or 0) - now <= 10.5
    await store.unlock("wechat:wx1", "host:2:cd")
    await store.discard("wechat:wx1", "V")
    assert await store.status("wechat:wx1") == TokenStatus(None, None, None, None, None, True)
    await store.write("wechat:wx1", StoredToken("W", clock.now().timestamp() + 60))
    clock.advance(seconds=61)  # expired: Redis would drop it by now, so neither shows it
    assert await store.status("wechat:wx1") == nothing
