"""`/api/ready` (readiness) beside `/api/live` (liveness): a load balancer sends traffic only
to an instance whose database answers and is at the code's schema version, and stops before
the instance does; the process may be alive and still not ready. An orchestrator restarts only
a process that stops answering, never one whose database is down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibase import __version__
from minibase.app import create_app
from minibase.config import Settings
from minibase.observability.draining import FLAG
from minibase.server_folder import SERVER_FOLDER
from minibase.services import Services
from minibase.store.migrations import MIGRATIONS


async def test_a_ready_instance_answers_200(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/ready")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "version": __version__}


async def test_an_instance_shutting_down_is_alive_but_not_ready(
    client: httpx.AsyncClient, services: Services
) -> None:
    services.shutting_down = True
    answer = await client.get("/api/ready")
    assert (answer.status_code, answer.json()["code"]) == (503, "server.shutting_down")
    assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert (await client.get("/api/health")).status_code == 200  # liveness: still up


async def test_an_instance_whose_server_drains_is_not_ready(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SERVER_FOLDER, str(tmp_path))  # as the server's main process sets it
    flag = tmp_path / FLAG
    assert (await client.get("/api/ready")).status_code == 200
    flag.touch()  # SIGTERM reached the main process
    answer = await client.get("/api/ready")
    assert (answer.status_code, answer.json()["code"]) == (503, "server.shutting_down")


async def test_an_unreachable_database_makes_the_instance_unready_but_leaves_it_alive(
    client: httpx.AsyncClient, services: Services
) -> None:
    await services.db.close()
    answer = await client.get("/api/ready")
    assert (answer.status_code, answer.json()["code"]) == (503, "server.unavailable")
    assert (await client.get("/api/health")).status_code == 503  # the operator's view
    alive = await client.get("/api/live")
    assert alive.status_code == 200
    assert alive.json() == {"status": "alive", "version": __version__}


async def test_pending_migrations_make_the_instance_unready(
    client: httpx.AsyncClient, services: Services
) -> None:
    latest = MIGRATIONS[-1].version
    async with services.db.transaction() as conn:
        await conn.execute("DELETE FROM schema_migrations WHERE version = ?", latest)
    answer = await client.get("/api/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["code"] == "server.migrations_pending"
    assert body["details"] == {"schema_version": latest - 1, "latest_known": latest}


async def _lifespan(app: Any, inbox: asyncio.Queue[dict[str, str]]) -> list[str]:
    """Drive an ASGI server's lifespan: startup, then whatever the test puts in `inbox`."""
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return await inbox.get()

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


async def test_the_server_stopping_marks_its_services_shutting_down(settings: Settings) -> None:
    app = create_app(settings.replace(run_jobs=False))
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    running = asyncio.create_task(_lifespan(app, inbox))
    while app.state.services is None:
        await asyncio.sleep(0.01)
        assert not running.done(), running.result()
    services: Services = app.state.services
    assert services.shutting_down is False
    await inbox.put({"type": "lifespan.shutdown"})
    assert await running == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert services.shutting_down is True
