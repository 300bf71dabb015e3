"""Changes are numbered in commit order, even with many writers at once (PostgreSQL), and the
numbering never makes two transactions wait on each other in a cycle."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.http.records.conftest import create, make_collection
from tests.realtime.conftest import Connect

from minibase.auth.caller import Caller
from minibase.data.records import create_record, update_record
from minibase.services import Services
from minibase.testing.plugin import Actor

ADMIN = Caller(kind="admin")


async def test_concurrent_updates_of_one_record_arrive_in_the_order_they_committed(
    client: httpx.AsyncClient, admin: Actor, connect: Connect, services: Services
) -> None:
    await make_collection(client, admin, "counters", {"n": {"type": "integer"}})
    counter = await create(client, admin.headers, "counters", {"n": 0})
    watcher = await connect()
    await watcher.subscribe("c", "counters")

    async def bump(n: int) -> None:
        await update_record(services, ADMIN, "counters", counter["_id"], {"n": n}, replace=False)

    await asyncio.gather(*(bump(n) for n in range(1, 21)))
    changes = [await watcher.receive() for _ in range(20)]
    versions = [change["doc"]["_version"] for change in changes]
    assert versions == sorted(versions) == list(range(2, 22))  # each after the one before it
    events = [change["event"] for change in changes]
    assert events == sorted(events)


async def test_two_transactions_writing_in_opposite_orders_both_commit(
    client: httpx.AsyncClient, admin: Actor, services: Services, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: transactions never interleave")
    await make_collection(client, admin, "a", {"n": {"type": "integer"}})
    await make_collection(client, admin, "b", {"n": {"type": "integer"}})
    shared = await create(client, admin.headers, "a", {"n": 0})
    first_wrote = asyncio.Event()

    async def one() -> None:  # a change first, then the shared record
        async with services.db.transaction() as conn:
            await create_record(services, ADMIN, "b", {"n": 1}, conn=conn)
            first_wrote.set()
            await asyncio.sleep(0.1)  # the other takes the shared record meanwhile
            await update_record(
                services, ADMIN, "a", shared["_id"], {"n": 1}, replace=False, conn=conn
            )

    async def two() -> None:  # the shared record first, then a change of its own
        await first_wrote.wait()
        async with services.db.transaction() as conn:
            await update_record(
                services, ADMIN, "a", shared["_id"], {"n": 2}, replace=False, conn=conn
            )
            await asyncio.sleep(0.2)
            await create_record(services, ADMIN, "b", {"n": 2}, conn=conn)

    await asyncio.wait_for(asyncio.gather(one(), two()), 20)
    logged = await services.db.fetch_all(
        "SELECT collection, action FROM record_changes ORDER BY seq"
    )
    assert sorted((row[0], row[1]) for row in logged) == sorted(
        [("a", "create"), ("b", "create"), ("a", "update"), ("b", "create"), ("a", "update")]
    )


async def test_a_bulk_write_is_numbered_in_the_order_of_its_records(
    client: httpx.AsyncClient, admin: Actor, connect: Connect
) -> None:
    await make_collection(client, admin, "counters", {"n": {"type": "integer"}})
    watcher = await connect()
    await watcher.subscribe("c", "counters")
    records = [{"n": n} for n in range(1000)]  # two INSERTs of the change log (500 rows each)
    bulk = await client.post(
        "/api/collections/counters/records/bulk-create",
        headers=admin.headers,
        json={"records": records},
    )
    assert bulk.status_code == 201, bulk.text
    changes = [await watcher.receive() for _ in range(1000)]
    assert [c["doc"]["n"] for c in changes] == list(range(1000))
    events = [c["event"] for c in changes]
    assert events == sorted(set(events))
