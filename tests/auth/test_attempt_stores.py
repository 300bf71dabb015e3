"""The failed-attempt stores, the database's and Redis's, count alike: failures add up inside a
window, an ended window is ignored and the next failure starts a new one, a success clears a
key, and nothing outlives its window for long (rows pruned, Redis keys expiring)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from minibase.auth.throttle import (
    AttemptStore,
    Counted,
    DatabaseAttemptStore,
    RedisAttemptStore,
)
from minibase.services import Services

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = 1_767_225_600.25


@pytest.fixture(params=["database", "redis"])
async def store(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[AttemptStore]:
    if request.param == "database":
        yield DatabaseAttemptStore(services.db)
        return
    redis_store = RedisAttemptStore(REDIS_URL, prefix=f"test-{secrets.token_hex(6)}")
    yield redis_store
    await redis_store.close()


async def test_failures_add_up_inside_a_window_and_start_afresh_after_it(
    store: AttemptStore,
) -> None:
    assert await store.read(["a", "b"], NOW) == {}
    await store.add([("a", 60), ("b", 900)], NOW)
    await store.add([("a", 60)], NOW + 30)
    assert await store.read(["a", "b"], NOW + 30) == {
        "a": Counted(2, NOW + 60),
        "b": Counted(1, NOW + 900),
    }
    assert await store.read(["a", "b"], NOW + 60) == {"b": Counted(1, NOW + 900)}
    await store.add([("a", 60)], NOW + 61)
    assert await store.read(["a"], NOW + 61) == {"a": Counted(1, NOW + 121)}


async def test_clearing_a_key_forgets_its_failures_only(store: AttemptStore) -> None:
    await store.add([("a", 60), ("b", 60)], NOW)
    await store.clear(["a"])
    assert await store.read(["a", "b"], NOW) == {"b": Counted(1, NOW + 60)}


async def test_nothing_outlives_its_window_for_long(
    store: AttemptStore, services: Services
) -> None:
    await store.add([("a", 60)], NOW)
    if isinstance(store, DatabaseAttemptStore):
        await store.add([("b", 60)], NOW + 60)  # the next failure prunes ended windows
        rows = await services.db.fetch_all("SELECT key FROM auth_attempts")
        assert [row[0] for row in rows] == ["b"]
    else:
        assert isinstance(store, RedisAttemptStore)
        ttl = await store._redis.pttl(store._name("a"))
        assert 0 < ttl <= 60_000
