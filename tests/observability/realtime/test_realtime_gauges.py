"""The realtime gauges over real sockets: a server on a port of the test's own (the realtime
tests' fixtures), scraped over loopback HTTP as a Prometheus on the same machine would."""

from __future__ import annotations

import asyncio

import httpx

from minibase.testing.plugin import Actor
from tests.http.records.conftest import make_collection
from tests.observability.conftest import Scraped, parse, value
from tests.realtime.conftest import Connect


async def _scrape(port: int) -> Scraped:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


async def test_open_sockets_and_watched_queries_are_gauges_of_this_process(
    client: httpx.AsyncClient, admin: Actor, connect: Connect, port: int
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    before = await _scrape(port)
    assert value(before, "minibase_realtime_connections") == 0

    watcher, idle = await connect(), await connect()
    assert (await watcher.subscribe("feed", "posts"))["type"] == "snapshot"
    scraped = await _scrape(port)
    assert value(scraped, "minibase_realtime_connections") == 2
    assert value(scraped, "minibase_realtime_subscriptions") == 1

    await idle.connection.close()
    for _ in range(100):  # the server notices the close on its own time
        if value(await _scrape(port), "minibase_realtime_connections") == 1:
            break
        await asyncio.sleep(0.02)
    assert value(await _scrape(port), "minibase_realtime_connections") == 1
