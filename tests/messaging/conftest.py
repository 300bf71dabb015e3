"""Services on a clock that a test may move (real time plus an offset: the sandbox's tokens
expire by its own clock), and the local Redis for the shared-cache tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibase.clock import OffsetClock
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor

REDIS_URL = "redis://127.0.0.1:6379/0"

__all__ = ["REDIS_URL", "OffsetClock"]


@pytest.fixture
def clock() -> OffsetClock:  # type: ignore[override]
    return OffsetClock()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.replace(functions_dir=tmp_path / "functions")


@pytest.fixture
async def services(settings: Settings, clock: OffsetClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def message_status(
    client: httpx.AsyncClient, admin: Actor, message_id: str
) -> dict[str, Any]:
    """A subscribe message as admins read it: its state, errcode and last error."""
    found: dict[str, Any] = (
        await client.get(f"/api/admin/messages/{message_id}", headers=admin.headers)
    ).json()
    return found
