"""A sandbox per test on a frozen clock, reached through httpx as a real client would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.sandbox import Sandbox, create_sandbox


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(clock: FrozenClock) -> Sandbox:
    return create_sandbox(clock=clock, code_ttl=300, timeout_seconds=0.2)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        yield http
