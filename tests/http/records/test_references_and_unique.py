"""Reference fields must point at existing records; unique indexes refuse duplicates."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, read, records_url

BOOK_FIELDS = {
    "title": {"type": "string"},
    "author": {"type": "reference", "collection": "authors"},
    "editors": {"type": "array", "items": {"type": "reference", "collection": "authors"}},
}


async def test_a_reference_must_name_an_existing_record_on_create_update_and_bulk(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "authors", {"name": {"type": "string"}})
    await make_collection(client, admin, "books", BOOK_FIELDS)
    user = await make_user()
    await create(client, user.headers, "authors", {"_id": "lu-xun", "name": "Lu Xun"})
    book = await create(client, user.headers, "books", {"title": "a", "author": "lu-xun"})
    url = records_url("books", f"/{book['_id']}")

    missing = await client.post(
        records_url("books"), headers=user.headers, json={"title": "b", "author": "nobody"}
    )
    missing_item = await client.post(
        records_url("books"), headers=user.headers, json={"editors": ["lu-xun", "ghost"]}
    )
    patched = await client.patch(url, headers=user.headers, json={"author": "ghost"})
    pushed = await client.patch(url, headers=user.headers, json={"$push": {"editors": "ghost"}})
    bulk = await client.post(
        records_url("books", "/bulk-create"),
        headers=user.headers,
        json={"records": [{"author": "lu-xun"}, {"author": "ghost"}]},
    )
    malformed = await client.post(
        records_url("books"), headers=user.headers, json={"author": "not an id"}
    )

    body = assert_error(missing, 400, "records.reference_not_found")
    assert body["details"] == {"field": "author", "missing": ["nobody"]}
    assert assert_error(missing_item, 400, "records.reference_not_found")["details"] == {
        "field": "editors",
        "missing": ["ghost"],
    }
    for response in (patched, pushed, bulk):
        assert_error(response, 400, "records.reference_not_found")
    assert_error(malformed, 400, "records.invalid")
    assert await all_records(client, admin, "books") == [book]
    assert await read(client, user.headers, "books", book["_id"]) == book


async def test_a_record_may_reference_its_own_collection_in_the_same_bulk_create(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    fields = {"parent": {"type": "reference", "collection": "nodes"}}
    await make_collection(client, admin, "nodes", fields)
    user = await make_user()

    response = await client.post(
        records_url("nodes", "/bulk-create"),
        headers=user.headers,
        json={"records": [{"_id": "root"}, {"_id": "leaf", "parent": "root"}]},
    )
    orphan = await client.post(records_url("nodes"), headers=user.headers, json={"parent": "x"})

    assert response.status_code == 201, response.text
    assert_error(orphan, 400, "records.reference_not_found")
    assert len(await all_records(client, admin, "nodes")) == 2


async def test_a_unique_index_refuses_duplicates_on_create_update_and_bulk(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(
        client,
        admin,
        "users_extra",
        {"email": {"type": "string"}, "team": {"type": "string"}, "seat": {"type": "integer"}},
        indexes=[
            {"fields": ["email"], "unique": True},
            {"fields": ["team", "seat"], "unique": True},
        ],
    )
    user = await make_user()
    first = await create(
        client, user.headers, "users_extra", {"email": "a@x", "team": "t", "seat": 1}
    )
    second = await create(
        client, user.headers, "users_extra", {"email": "b@x", "team": "t", "seat": 2}
    )
    url = records_url("users_extra", f"/{second['_id']}")

    same_email = await client.post(
        records_url("users_extra"), headers=user.headers, json={"email": "a@x"}
    )
    same_seat = await client.post(
        records_url("users_extra"), headers=user.headers, json={"team": "t", "seat": 1}
    )
    moved = await client.patch(url, headers=user.headers, json={"email": "a@x"})
    bulk = await client.post(
        records_url("users_extra", "/bulk-create"),
        headers=user.headers,
        json={"records": [{"email": "c@x"}, {"email": "c@x"}]},
    )
    other_team = await create(client, user.headers, "users_extra", {"team": "u", "seat": 1})

    assert assert_error(same_email, 409, "records.unique_violation")["details"] == {
        "fields": ["email"]
    }
    assert assert_error(same_seat, 409, "records.unique_violation")["details"] == {
        "fields": ["team", "seat"]
    }
    assert_error(moved, 409, "records.unique_violation")
    assert_error(bulk, 409, "records.unique_violation")
    stored = await all_records(client, admin, "users_extra")
    assert stored == [first, second, other_team]
