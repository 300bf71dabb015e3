"""Auth tests run on a frozen clock, so that they can move time past a token's expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.services import Services, open_services


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
