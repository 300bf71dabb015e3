"""Realtime against `minibase serve` as shipped (granian): a watcher survives a restart of the
server by resuming from the last event it received — what changed while it was away arrives,
nothing is lost, nothing arrives twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from tests.e2e.conftest import ADMIN_PW, admin_headers, start_server, stop_server

ORDERS = {"name": "orders", "fields": {"n": {"type": "integer"}}, "rules": {"preset": "admin_only"}}


async def create(http: httpx.AsyncClient, n: int) -> str:
    answer = await http.post("/api/collections/orders/records", json={"n": n})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["_id"])


async def receive(socket: websockets.ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
    return frame


async def test_a_watcher_resumes_after_the_server_restarts(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    admin = admin_headers(running)
    async with httpx.AsyncClient(base_url=running.url, headers=admin) as http:
        assert (await http.post("/api/admin/collections", json=ORDERS)).status_code == 201
        socket_url = running.url.replace("http://", "ws://") + "/api/realtime"
        async with websockets.connect(socket_url, additional_headers=admin) as socket:
            assert (await receive(socket))["type"] == "authenticated"
            await socket.send(
                orjson.dumps({"type": "subscribe", "id": "o", "collection": "orders"})
            )
            assert (await receive(socket))["docs"] == []
            await create(http, 1)
            last = (await receive(socket))["event"]
            stop_server(running)  # the socket drops with the server
            await asyncio.wait_for(socket.wait_closed(), 15)

    running = start_server(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=running.url) as http:
            login = {"email": "me@example.com", "password": ADMIN_PW}
            token = (await http.post("/api/admin/login", json=login)).json()["token"]
            http.headers["Authorization"] = f"Bearer {token}"
            missed = [await create(http, 2), await create(http, 3)]
            socket_url = running.url.replace("http://", "ws://") + "/api/realtime"
            async with websockets.connect(socket_url, additional_headers=http.headers) as socket:
                await receive(socket)  # authenticated
                resume = {"type": "subscribe", "id": "o", "collection": "orders", "since": last}
                await socket.send(orjson.dumps(resume))
                assert await receive(socket) == {"type": "resumed", "id": "o", "event": last}
                got = [await receive(socket) for _ in missed]
                assert [(c["change"], c["doc"]["_id"]) for c in got] == [("add", i) for i in missed]
                await create(http, 4)
                fourth = await receive(socket)
                assert fourth["doc"]["n"] == 4
                assert last < got[0]["event"] < got[1]["event"] < fourth["event"]
    finally:
        stop_server(running)
