"""Changes are numbered in commit order, even with many writers at once (PostgreSQL), and the
numbering never makes two transactions wait on each other in a cycle."""

from __future__ import annotations

import asyncio
import contextlib

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


async def hold_before_commit(
    services: Services, n: int, numbered: asyncio.Event, release: asyncio.Event, *, commit: bool
) -> None:
    """A transaction that writes a record and its change, then waits before COMMIT (as one
    does for the moment its commit takes) until `release`; then commits or rolls back."""

    class RolledBack(Exception):
        pass

    with contextlib.suppress(RolledBack):
        async with services.db.transaction() as conn:
            await create_record(services, ADMIN, "counters", {"n": n}, conn=conn)
            await conn.committing()  # the change is numbered now
            numbered.set()
            await release.wait()
            if not commit:
                raise RolledBack


@pytest.mark.parametrize("commit", [True, False], ids=["commits", "rolls_back"])
async def test_a_change_still_committing_holds_back_those_numbered_after_it(
    client: httpx.AsyncClient,
    admin: Actor,
    connect: Connect,
    services: Services,
    backend: str,
    commit: bool,
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: a later number never commits first")
    await make_collection(client, admin, "counters", {"n": {"type": "integer"}})
    watcher = await connect()
    await watcher.subscribe("c", "counters")
    numbered, release = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(hold_before_commit(services, 1, numbered, release, commit=commit))
    await numbered.wait()
    await create(client, admin.headers, "counters", {"n": 2})  # a later number, committed
    late = await connect()
    snapshot = await late.subscribe("c", "counters")  # taken while the first is in flight
    assert [doc["n"] for doc in snapshot["docs"]] == [2]
    await watcher.nothing_more()  # the later change waits for the earlier number to settle
    release.set()
    await held
    expected = [1, 2] if commit else [2]
    arrived = [await watcher.receive() for _ in expected]
    assert [change["doc"]["n"] for change in arrived] == expected
    assert arrived == sorted(arrived, key=lambda change: change["event"])
    await watcher.nothing_more()
    if commit:  # the one that subscribed meanwhile misses nothing either
        got = await late.receive()
        assert (got["change"], got["doc"]["n"]) == ("add", 1)
    await late.nothing_more(0.1)


async def test_the_first_watch_of_a_process_waits_for_a_change_still_committing(
    client: httpx.AsyncClient, admin: Actor, connect: Connect, services: Services, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: a later number never commits first")
    await make_collection(client, admin, "counters", {"n": {"type": "integer"}})
    numbered, release = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(hold_before_commit(services, 1, numbered, release, commit=True))
    await numbered.wait()
    await create(client, admin.headers, "counters", {"n": 2})
    watcher = await connect()
    # the process's log reader starts now, among writers: it waits for the one in flight
    subscribing = asyncio.create_task(watcher.subscribe("c", "counters"))
    await asyncio.sleep(0.2)
    assert not subscribing.done()
    release.set()
    await held
    snapshot = await subscribing
    assert [doc["n"] for doc in snapshot["docs"]] == [1, 2]
    await watcher.nothing_more(0.1)
