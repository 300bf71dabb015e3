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


async def test_a_record_hidden_from_the_writer_cannot_be_referenced_and_reads_as_missing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """Else a reference would tell a user which hidden ids exist (an existence oracle)."""
    await make_collection(
        client, admin, "authors", {"name": {"type": "string"}}, rules={"preset": "owner_only"}
    )
    await make_collection(client, admin, "books", BOOK_FIELDS)
    alice, mallory = await make_user(), await make_user()
    await create(client, alice.headers, "authors", {"_id": "alice-pen", "name": "A"})
    mine = await create(client, mallory.headers, "authors", {"_id": "mallory-pen"})
    book = await create(client, mallory.headers, "books", {"author": mine["_id"]})
    url = records_url("books", f"/{book['_id']}")

    hidden = await client.post(
        records_url("books"), headers=mallory.headers, json={"author": "alice-pen"}
    )
    missing = await client.post(
        records_url("books"), headers=mallory.headers, json={"author": "no-pen"}
    )
    hidden_in_list = await client.patch(
        url, headers=mallory.headers, json={"editors": ["mallory-pen", "alice-pen"]}
    )
    hidden_in_bulk = await client.post(
        records_url("books", "/bulk-create"),
        headers=mallory.headers,
        json={"records": [{"author": "alice-pen"}]},
    )
    by_admin = await client.post(
        records_url("books"), headers=admin.headers, json={"author": "alice-pen"}
    )

    assert assert_error(hidden, 400, "records.reference_not_found")["details"] == {
        "field": "author",
        "missing": ["alice-pen"],
    }
    assert hidden.json()["message"] == missing.json()["message"].replace("no-pen", "alice-pen")
    assert assert_error(hidden_in_list, 400, "records.reference_not_found")["details"] == {
        "field": "editors",
        "missing": ["alice-pen"],
    }
    assert_error(hidden_in_bulk, 400, "records.reference_not_found")
    assert by_admin.status_code == 201, by_admin.text  # admins see every record
    assert await read(client, mallory.headers, "books", book["_id"]) == book


async def test_a_reference_that_became_hidden_does_not_block_other_changes(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """Only the references a write brings are checked against the writer's read rule."""
    await make_collection(
        client,
        admin,
        "authors",
        {"name": {"type": "string"}, "public": {"type": "boolean"}},
        rules={"preset": "owner_only", "read": "doc.public || doc._owner == auth.id"},
    )
    await make_collection(client, admin, "books", BOOK_FIELDS)
    alice, bob = await make_user(), await make_user()
    await create(client, alice.headers, "authors", {"_id": "alice-pen", "public": True})
    book = await create(client, bob.headers, "books", {"title": "a", "author": "alice-pen"})
    hide = await client.patch(
        records_url("authors", "/alice-pen"), headers=alice.headers, json={"public": False}
    )
    assert hide.status_code == 200, hide.text

    retitled = await client.patch(
        records_url("books", f"/{book['_id']}"), headers=bob.headers, json={"title": "b"}
    )

    assert retitled.status_code == 200, retitled.text
    assert retitled.json()["author"] == "alice-pen"


async def test_a_unique_index_scoped_per_owner_lets_each_user_reuse_a_value(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """A plain unique index spans every owner (a 409 tells a value is taken somewhere);
    with `_owner` first, each user has values of their own and learns nothing of others'."""
    await make_collection(
        client,
        admin,
        "notes",
        {"title": {"type": "string"}},
        rules={"preset": "owner_only"},
        indexes=[{"fields": ["_owner", "title"], "unique": True}],
    )
    alice, bob = await make_user(), await make_user()
    await create(client, alice.headers, "notes", {"title": "groceries"})

    bobs = await client.post(records_url("notes"), headers=bob.headers, json={"title": "groceries"})
    again = await client.post(
        records_url("notes"), headers=alice.headers, json={"title": "groceries"}
    )

    assert bobs.status_code == 201, bobs.text
    assert assert_error(again, 409, "records.unique_violation")["details"] == {
        "fields": ["_owner", "title"]
    }


async def test_a_client_chosen_id_held_by_a_hidden_record_answers_409_as_documented(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "diary", rules={"preset": "owner_only"})
    alice, bob = await make_user(), await make_user()
    await create(client, alice.headers, "diary", {"_id": "2026-12-06"})

    read_it = await client.get(records_url("diary", "/2026-12-06"), headers=bob.headers)
    take_it = await client.post(
        records_url("diary"), headers=bob.headers, json={"_id": "2026-12-06"}
    )

    assert_error(read_it, 404, "records.not_found")
    assert_error(take_it, 409, "records.exists")
