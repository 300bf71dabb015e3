"""Several instances on one database: a change committed through any of them, or by a job,
reaches subscribers on every instance at once (PostgreSQL: NOTIFY at commit; SQLite: a
datagram to each process on the same file, or Redis when configured)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets
from tests.functions.conftest import run_jobs
from tests.http.records.conftest import create, make_collection
from tests.realtime.conftest import Connect

from minibase.app import create_app
from minibase.auth.caller import Caller
from minibase.clock import OffsetClock
from minibase.config import Settings
from minibase.data.records import create_record
from minibase.realtime.hub import Subscription
from minibase.rules.conditions import TRUE
from minibase.services import Services, attach_functions, open_services
from minibase.testing.plugin import Actor, MakeUser
from minibase.testing.sandbox import free_port


@pytest.fixture
async def other_instance(settings: Settings, clock: OffsetClock) -> AsyncIterator[str]:
    """A second server on the same database, with services of its own: its socket URL."""
    port = free_port()
    services = await open_services(settings.replace(port=port), clock=clock)
    app = create_app(services.settings, services=services)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    running.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(running.serve())
    while not running.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/api/realtime"
    running.should_exit = True
    await task
    await services.close()


async def test_a_change_through_one_instance_reaches_a_watcher_on_another(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    other_instance: str,
    services: Services,
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    ann = await make_user()
    async with websockets.connect(other_instance) as elsewhere:
        # the other instance learns of the new collection within a second, as of any schema change
        for attempt in range(30):
            frame = {"type": "subscribe", "id": f"f{attempt}", "collection": "posts"}
            await elsewhere.send(orjson.dumps(frame))
            answer = orjson.loads(await elsewhere.recv())
            if answer["type"] == "snapshot":
                break
            assert answer["code"] == "collections.not_found"
            await asyncio.sleep(0.1)
        assert answer["type"] == "snapshot"
        post = await create(client, ann.headers, "posts", {"title": "from instance one"})
        change = orjson.loads(await asyncio.wait_for(elsewhere.recv(), 5))
    assert (change["change"], change["doc"]["_id"]) == ("add", post["_id"])


async def test_a_write_by_a_job_reaches_watchers(
    client: httpx.AsyncClient, admin: Actor, connect: Connect, services: Services
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    folder = services.settings.functions_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jobs.py").write_text(JOB)
    attach_functions(services)
    watcher = await connect()
    await watcher.subscribe("f", "posts")
    await services.jobs.enqueue("write_post", {"title": "by a job"})
    assert await run_jobs(services) == 1
    change = await watcher.receive()
    assert (change["change"], change["doc"]["title"]) == ("add", "by a job")


JOB = """
from minibase.functions import job


@job("write_post")
async def write_post(ctx, payload):
    await ctx.records_as_admin.create("posts", {"title": payload["title"]})
"""


async def test_with_redis_configured_sqlite_processes_tell_each_other_at_once(
    client: httpx.AsyncClient,
    admin: Actor,
    settings: Settings,
    clock: OffsetClock,
    backend: str,
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's NOTIFY tells every instance; Redis is not needed for it")
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    redis = "redis://127.0.0.1:6379/0"
    # two processes' worth of services on one SQLite file, each reading the log only every
    # 30 s by itself: only Redis can bring the change within a second
    slow = {"realtime_poll_interval": 30.0, "cache_url": redis}
    writer = await open_services(settings.replace(**slow), clock=clock)
    reader = await open_services(settings.replace(**slow), clock=clock)
    try:
        received = await watch_everything(reader, "posts")
        await asyncio.sleep(0.2)  # its Redis subscription is up
        post = await create_record(writer, Caller(kind="admin"), "posts", {"title": "hi"})
        await arrival(received, within=2.0)
        assert [(m["change"], m["doc"]["_id"]) for m in received] == [("add", post["_id"])]
    finally:
        await writer.close()
        await reader.close()


async def watch_everything(services: Services, collection: str) -> list[dict[str, Any]]:
    """An admin's subscription to every record of `collection`: the messages, as they come."""
    received: list[dict[str, Any]] = []

    def deliver(message: dict[str, Any] | str) -> None:  # a change comes as its JSON
        received.append(orjson.loads(message) if isinstance(message, str) else message)

    watched = await services.collections.get(collection)
    await services.realtime.subscribe(
        Subscription("f", TRUE, Caller(kind="admin"), watched, deliver)
    )
    return received


async def arrival(received: list[dict[str, Any]], within: float) -> None:
    deadline = time.monotonic() + within
    while not received and time.monotonic() < deadline:  # noqa: ASYNC110 - a plain callback
        await asyncio.sleep(0.005)


WRITER = """
import asyncio, sys, time
from pathlib import Path

from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.data.records import create_record
from minibase.services import open_services


async def write() -> None:
    services = await open_services(Settings(data_dir=Path(sys.argv[1]), master_key=sys.argv[2]))
    try:
        post = await create_record(services, Caller(kind="admin"), "posts", {"title": "hi"})
        print(post["_id"], time.time(), flush=True)
    finally:
        await services.close()


asyncio.run(write())
"""


async def test_on_sqlite_a_commit_by_another_process_reaches_watchers_at_once_without_redis(
    client: httpx.AsyncClient,
    admin: Actor,
    settings: Settings,
    clock: OffsetClock,
    backend: str,
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's NOTIFY tells every instance")
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    # this process reads the log only every 30 s by itself: the news must come from the writer
    reader = await open_services(settings.replace(realtime_poll_interval=30.0), clock=clock)
    try:
        received = await watch_everything(reader, "posts")
        assert settings.master_key is not None
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            str(settings.data_dir),
            settings.master_key,
            stdout=asyncio.subprocess.PIPE,
        )
        assert writer.stdout is not None
        written = (await asyncio.wait_for(writer.stdout.readline(), 60)).split()
        assert written, "the writing process failed"
        await arrival(received, within=2.0)
        assert [(m["change"], m["doc"]["_id"]) for m in received] == [("add", written[0].decode())]
        assert await writer.wait() == 0
    finally:
        await reader.close()
