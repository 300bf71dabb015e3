"""Bulk create, update and delete: all or nothing, bounded, and under the same rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, records_url

FIELDS = {"title": {"type": "string", "required": True}, "score": {"type": "integer"}}
SmallClient = Callable[..., httpx.AsyncClient]


async def _bulk(
    client: httpx.AsyncClient, actor: Actor, action: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        records_url("posts", f"/bulk-{action}"), headers=actor.headers, json=body
    )


async def test_bulk_create_stores_every_record_with_its_owner(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    bodies = [{"title": f"t{n}", "score": n} for n in range(10)] + [{"_id": "mine", "title": "x"}]

    response = await _bulk(client, user, "create", {"records": bodies})

    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [item["title"] for item in items] == [b["title"] for b in bodies]
    assert all(item["_owner"] == user.id and item["_version"] == 1 for item in items)
    assert items[-1]["_id"] == "mine"
    assert await all_records(client, admin, "posts") == sorted(items, key=lambda r: r["_id"])


async def test_bulk_create_is_all_or_nothing_and_names_the_bad_record(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    await create(client, user.headers, "posts", {"_id": "taken", "title": "first"})
    good = [{"title": f"t{n}"} for n in range(4)]
    bad_records: list[Any] = [{"score": 1}, {"title": 5}, "text", {"_id": "a b", "title": "x"}]

    for bad in bad_records:
        response = await _bulk(client, user, "create", {"records": [*good[:2], bad, *good[2:]]})
        assert response.status_code == 400, response.text
        assert response.json()["details"]["index"] == 2, bad
    duplicate = await _bulk(
        client, user, "create", {"records": [*good, {"_id": "taken", "title": "x"}]}
    )
    twice = await _bulk(
        client,
        user,
        "create",
        {"records": [{"_id": "twin", "title": "a"}, {"_id": "twin", "title": "b"}]},
    )
    assert_error(duplicate, 409, "records.exists")
    assert_error(twice, 409, "records.exists")
    not_a_list: list[dict[str, Any]] = [{"records": []}, {"records": {"t": 1}}, {}, {"items": good}]
    for body in not_a_list:
        assert_error(await _bulk(client, user, "create", body), 400, "request.invalid_body")

    assert [r["_id"] for r in await all_records(client, admin, "posts")] == ["taken"]


async def test_bulk_update_changes_every_match_and_reports_counts(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    for n in range(6):
        await create(client, user.headers, "posts", {"title": f"t{n}", "score": n})

    response = await _bulk(
        client,
        user,
        "update",
        {
            "filter": {"score": {"$gte": 3}},
            "update": {"$inc": {"score": 10}, "$set": {"hot": True}},
        },
    )

    assert response.json() == {"matched": 3, "updated": 3, "skipped": 0}
    stored = await all_records(client, admin, "posts")
    assert [r["score"] for r in stored] == [0, 1, 2, 13, 14, 15]
    assert [r["_version"] for r in stored] == [1, 1, 1, 2, 2, 2]
    assert [r.get("hot") for r in stored] == [None, None, None, True, True, True]


async def test_bulk_update_that_breaks_one_record_changes_none(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    for n in range(4):
        await create(client, user.headers, "posts", {"title": f"t{n}", "score": n})
    await create(client, user.headers, "posts", {"title": "odd", "extra": "text"})
    before = await all_records(client, admin, "posts")

    broken = await _bulk(client, user, "update", {"filter": {}, "update": {"$inc": {"extra": 1}}})
    no_update = await _bulk(client, user, "update", {"filter": {}})
    bad_filter = await _bulk(client, user, "update", {"filter": {"$x": 1}, "update": {"a": 1}})
    no_filter = await _bulk(client, user, "delete", {"update": {"a": 1}})

    assert_error(broken, 400, "records.invalid_update")
    assert_error(no_update, 400, "records.invalid_update")
    assert_error(bad_filter, 400, "records.invalid_filter")
    assert_error(no_filter, 400, "request.invalid_body")
    assert await all_records(client, admin, "posts") == before


async def test_bulk_delete_removes_every_match(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    for n in range(6):
        await create(client, user.headers, "posts", {"title": f"t{n}", "score": n % 2})

    response = await _bulk(client, user, "delete", {"filter": {"score": 1}})

    assert response.json() == {"deleted": 3}
    assert [r["title"] for r in await all_records(client, admin, "posts")] == ["t0", "t2", "t4"]


async def test_bulk_operations_over_the_limit_change_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, client_with: SmallClient
) -> None:
    small = client_with(bulk_max_records=5)
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    for n in range(6):
        await create(client, user.headers, "posts", {"title": f"t{n}", "score": n})
    before = await all_records(client, admin, "posts")
    six = [{"title": f"n{n}"} for n in range(6)]

    too_many_new = await _bulk(small, user, "create", {"records": six})
    update_all = await _bulk(small, user, "update", {"filter": {}, "update": {"score": 0}})
    delete_all = await _bulk(small, admin, "delete", {"filter": {"score": {"$gte": 0}}})
    five = await _bulk(small, user, "delete", {"filter": {"score": {"$lt": 5}}})

    assert_error(too_many_new, 400, "records.bulk_too_large")
    assert_error(update_all, 400, "records.bulk_too_large")
    body = assert_error(delete_all, 400, "records.bulk_too_large")
    assert body["details"]["limit"] == 5
    assert five.json() == {"deleted": 5}
    assert await all_records(client, admin, "posts") == before[5:]


async def test_bulk_operations_respect_the_rules(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, client_with: SmallClient
) -> None:
    small = client_with(bulk_max_records=3)
    await make_collection(client, admin, "posts", FIELDS)
    alice, bob = await make_user(), await make_user()
    for n in range(3):
        await create(client, alice.headers, "posts", {"title": f"a{n}", "score": n})
        await create(client, bob.headers, "posts", {"title": f"b{n}", "score": n})

    update = await _bulk(client, alice, "update", {"filter": {}, "update": {"$set": {"seen": 1}}})
    delete = await _bulk(client, alice, "delete", {"filter": {"score": {"$lte": 1}}})
    anonymous = await client.post(
        records_url("posts", "/bulk-create"), json={"records": [{"title": "x"}]}
    )

    assert update.json() == {"matched": 6, "updated": 3, "skipped": 3}
    assert delete.json() == {"deleted": 2}
    assert_error(anonymous, 401, "auth.required")
    stored = await all_records(client, admin, "posts")
    assert sorted(r["title"] for r in stored) == ["a2", "b0", "b1", "b2"]
    assert {r["title"]: r.get("seen") for r in stored} == {
        "a2": 1,
        "b0": None,
        "b1": None,
        "b2": None,
    }

    await make_collection(client, admin, "notes", FIELDS, rules={"preset": "owner_only"})
    for n in range(3):
        await create(client, alice.headers, "notes", {"title": f"a{n}"})
        await create(client, bob.headers, "notes", {"title": f"b{n}"})
    # only the 3 records Alice can list count against the limit of 3
    url = records_url("notes", "/bulk-delete")
    response = await small.post(url, headers=alice.headers, json={"filter": {}})
    assert response.json() == {"deleted": 3}
    assert sorted(r["title"] for r in await all_records(client, admin, "notes")) == [
        "b0",
        "b1",
        "b2",
    ]
