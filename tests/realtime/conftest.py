"""Realtime over a real socket: the app served by uvicorn on a port of the test's own, in the
test's event loop (so the test's services and clock are the server's), and clients speaking
the protocol with the `websockets` library, as any WebSocket client would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from minibase.app import create_app
from minibase.clock import OffsetClock
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing.sandbox import free_port

WAIT = 5.0


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def clock() -> OffsetClock:  # type: ignore[override]
    return OffsetClock()


@pytest.fixture
async def services(settings: Settings, clock: OffsetClock) -> AsyncIterator[Services]:
    """The test's services on a clock a test may move (token expiry, retention)."""
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    # a quick log reader: the tests do not wait for the half-second default
    return settings.replace(port=port, realtime_poll_interval=0.05)


@pytest.fixture
async def server(services: Services, settings: Settings, port: int) -> AsyncIterator[str]:
    app = create_app(settings, services=services)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    running.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    yield f"ws://127.0.0.1:{port}/api/realtime"
    running.should_exit = True
    await task


class Socket:
    """A client's socket: send frames, receive them as dicts."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(frame).decode())

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.connection.recv(), WAIT)
        frame: dict[str, Any] = orjson.loads(message)
        return frame

    async def nothing_more(self, seconds: float = 0.3) -> None:
        """Nothing arrives within `seconds`."""
        try:
            frame = await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return
        pytest.fail(f"unexpected frame {frame!r}")

    async def subscribe(self, sub_id: str, collection: str, **query: Any) -> dict[str, Any]:
        """Subscribe and return the first answer (the snapshot, or an error)."""
        await self.send({"type": "subscribe", "id": sub_id, "collection": collection, **query})
        return await self.receive()


Connect = Callable[..., Awaitable[Socket]]


@pytest.fixture
async def connect(server: str) -> AsyncIterator[Connect]:
    opened: list[ClientConnection] = []

    async def open_socket(token: str | None = None) -> Socket:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        connection = await websockets.connect(server, additional_headers=headers)
        opened.append(connection)
        return Socket(connection)

    yield open_socket
    for connection in opened:
        await connection.close()
