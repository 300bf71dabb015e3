"""Optimistic concurrency with `_version` / If-Match, and atomic operators under load."""

from __future__ import annotations

import asyncio

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, make_collection, read, records_url


async def test_a_stale_version_is_a_conflict_that_changes_nothing_and_the_current_one_passes(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "v1"})
    url = records_url("posts", f"/{record['_id']}")
    updated = await client.patch(url, headers=user.headers, json={"title": "v2", "_version": 1})
    assert updated.json()["_version"] == 2
    current = updated.json()

    stale = [
        client.put(url, headers=user.headers, json={"title": "x", "_version": 1}),
        client.patch(url, headers=user.headers, json={"title": "x", "_version": 1}),
        client.patch(url, headers=user.headers, json={"$set": {"title": "x"}, "_version": 3}),
        client.patch(url, headers={**user.headers, "If-Match": '"1"'}, json={"title": "x"}),
        client.put(url, headers={**user.headers, "If-Match": "1"}, json={"title": "x"}),
        client.put(url, headers={**user.headers, "If-Match": "1"}, json={"_version": None}),
        client.delete(url, headers={**user.headers, "If-Match": '"1"'}),
        client.delete(url, headers={**user.headers, "If-Match": 'W/"3"'}),
    ]
    for call in stale:
        body = assert_error(await call, 409, "records.version_conflict")
        assert body["details"]["current_version"] == 2

    assert await read(client, user.headers, "posts", record["_id"]) == current
    put = await client.put(url, headers=user.headers, json={"title": "v3", "_version": 2})
    patch = await client.patch(url, headers={**user.headers, "If-Match": '"3"'}, json={"n": 1})
    deleted = await client.delete(url, headers={**user.headers, "If-Match": '"4"'})
    assert put.json()["_version"] == 3
    assert patch.json()["_version"] == 4
    assert deleted.status_code == 204


async def test_an_if_match_that_is_not_a_version_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1})
    url = records_url("posts", f"/{record['_id']}")

    for value in ('"abc"', "*", "-1", "1.5", "\xb2", "9" * 5000):
        headers = [
            (b"authorization", f"Bearer {user.token}".encode()),
            (b"if-match", value.encode("latin-1")),
        ]
        assert_error(
            await client.patch(url, headers=headers, json={"n": 2}), 400, "request.invalid_query"
        )
        assert_error(await client.delete(url, headers=headers), 400, "request.invalid_query")
    for version in ("2", 1.0, True, [1]):
        response = await client.patch(url, headers=user.headers, json={"n": 2, "_version": version})
        assert_error(response, 400, "records.invalid_update")

    assert await read(client, user.headers, "posts", record["_id"]) == record


async def test_parallel_increments_are_atomic(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "counters", {"hits": {"type": "integer", "default": 0}})
    reader = await make_user()
    record = await create(client, admin.headers, "counters", {"_id": "page"})
    url = records_url("counters", "/page")

    responses = await asyncio.gather(
        *(
            client.patch(url, headers=admin.headers, json={"$inc": {"hits": n % 3 + 1}})
            for n in range(30)
        )
    )

    assert [r.status_code for r in responses] == [200] * 30
    final = await read(client, reader.headers, "counters", "page")
    assert final["hits"] == sum(n % 3 + 1 for n in range(30))
    assert final["_version"] == record["_version"] + 30
    assert sorted(r.json()["_version"] for r in responses) == list(range(2, 32))


async def test_parallel_guarded_updates_let_exactly_one_writer_win(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"owner_of_slot": None})
    url = records_url("posts", f"/{record['_id']}")

    responses = await asyncio.gather(
        *(
            client.patch(url, headers=user.headers, json={"owner_of_slot": n, "_version": 1})
            for n in range(10)
        )
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 9
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert await read(client, user.headers, "posts", record["_id"]) == winner
