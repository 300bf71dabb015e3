"""Job tests run on a frozen clock, so that they can move time past a run_at or a lease."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.jobs import JobQueue
from minibase.services import Services, open_services


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def queue(services: Services) -> JobQueue:
    return JobQueue(services.db, services.clock, services.ids)
