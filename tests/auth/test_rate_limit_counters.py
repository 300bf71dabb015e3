"""The request rate limits' counters, in process, in a server's file and in Redis, count alike:
every hit of a key adds one inside its window and answers the count and the window's end, all
keys of a request in one call; an ended window starts afresh; Redis keys expire with their
window."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from minibase.auth.file_counters import FileCounterStore
from minibase.auth.rate_limits import CounterStore, MemoryCounterStore
from minibase.auth.throttle import Counted, RedisAttemptStore

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = 1_767_225_600.25


@pytest.fixture(params=["memory", "file", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounterStore()
        return
    if request.param == "file":
        file_store = FileCounterStore(tmp_path / "rate-limits")
        yield file_store
        await file_store.close()
        return
    redis_store = RedisAttemptStore(REDIS_URL, prefix=f"test-{secrets.token_hex(6)}")
    yield redis_store
    await redis_store.close()


async def test_hits_add_up_inside_a_window_and_start_afresh_after_it(store: CounterStore) -> None:
    assert await store.hit([("a", 60), ("b", 1)], NOW) == [
        Counted(1, NOW + 60),
        Counted(1, NOW + 1),
    ]
    assert await store.hit([("a", 60), ("b", 1)], NOW + 0.5) == [
        Counted(2, NOW + 60),
        Counted(2, NOW + 1),
    ]
    assert await store.hit([("a", 60), ("b", 1)], NOW + 1) == [
        Counted(3, NOW + 60),
        Counted(1, NOW + 2),
    ]
    assert await store.hit([("a", 60)], NOW + 60) == [Counted(1, NOW + 120)]


async def test_a_redis_counter_expires_with_its_window() -> None:
    store = RedisAttemptStore(REDIS_URL, prefix=f"test-{secrets.token_hex(6)}")
    try:
        await store.hit([("a", 60), ("b", 1)], NOW)
        assert 59_000 < await store._redis.pttl(store._name("a")) <= 60_000
        assert 0 < await store._redis.pttl(store._name("b")) <= 1_000
        await store.hit([("a", 60)], NOW + 30)  # a hit inside the window does not extend it
        assert await store._redis.pttl(store._name("a")) <= 60_000
    finally:
        await store.close()


async def test_the_process_store_drops_ended_windows_as_it_grows() -> None:
    store = MemoryCounterStore()
    await store.hit([(f"old-{n}", 1) for n in range(10_000)], NOW)
    await store.hit([("new", 60)], NOW + 5)
    assert len(store._counts) == 1
