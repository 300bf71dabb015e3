"""Creating records: system fields, owners, custom ids."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, read, records_url


async def test_a_user_creates_a_record_that_carries_system_fields_and_names_them_owner(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    user = await make_user()

    record = await create(client, user.headers, "posts", {"title": "hello", "extra": [1, 2]})

    assert record["title"] == "hello"
    assert record["extra"] == [1, 2]
    assert record["_owner"] == user.id
    assert record["_version"] == 1
    assert record["_created"] == record["_updated"]
    assert record["_created"].endswith("Z")
    assert isinstance(record["_id"], str)
    assert record["_id"]
    assert await read(client, user.headers, "posts", record["_id"]) == record
    later = [(await create(client, user.headers, "posts", {"n": n}))["_id"] for n in range(5)]
    assert [record["_id"], *later] == sorted({record["_id"], *later})  # time-ordered ids


async def test_an_admin_created_record_has_no_owner_unless_the_admin_sets_one(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()

    ownerless = await create(client, admin.headers, "posts", {"title": "a"})
    given = await create(client, admin.headers, "posts", {"title": "b", "_owner": user.id})
    explicit_none = await create(client, admin.headers, "posts", {"title": "c", "_owner": None})

    assert ownerless["_owner"] is None
    assert given["_owner"] == user.id
    assert explicit_none["_owner"] is None
    # the owner an admin sets is a real owner: the user may now change the record
    response = await client.patch(
        records_url("posts", f"/{given['_id']}"), headers=user.headers, json={"title": "mine"}
    )
    assert response.status_code == 200, response.text


async def test_only_admins_may_set_the_owner_and_a_refused_create_stores_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user, other = await make_user(), await make_user()

    response = await client.post(
        records_url("posts"), headers=user.headers, json={"title": "x", "_owner": other.id}
    )

    assert_error(response, 400, "records.invalid")
    for owner in (5, "", "not an id"):
        response = await client.post(
            records_url("posts"), headers=admin.headers, json={"_owner": owner}
        )
        assert_error(response, 400, "records.invalid")
    response = await client.post(
        records_url("posts"), headers=admin.headers, json={"_owner": "a\u0000b"}
    )
    assert_error(response, 400, "request.nul_character")
    assert await all_records(client, admin, "posts") == []


async def test_a_client_may_choose_the_id_and_a_taken_id_is_a_conflict(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user, other = await make_user(), await make_user()

    record = await create(client, user.headers, "posts", {"_id": "my-first_post", "n": 1})
    taken = await client.post(
        records_url("posts"), headers=other.headers, json={"_id": "my-first_post", "n": 2}
    )

    assert record["_id"] == "my-first_post"
    assert_error(taken, 409, "records.exists")
    assert (await read(client, user.headers, "posts", "my-first_post"))["n"] == 1


async def test_an_id_that_is_not_1_to_64_url_safe_characters_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()

    for bad_id in ("", "a b", "a/b", "x" * 65, "trailing\n", "é", 42, ["a"]):
        response = await client.post(
            records_url("posts"), headers=user.headers, json={"_id": bad_id}
        )
        assert_error(response, 400, "records.invalid")
    assert await all_records(client, admin, "posts") == []


async def test_system_fields_in_a_new_record_come_from_the_server_not_the_client(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()

    record = await create(client, user.headers, "posts", {"title": "x", "_version": 7})
    for field in ("_created", "_updated", "_secret"):
        response = await client.post(
            records_url("posts"), headers=user.headers, json={field: "2020-01-01T00:00:00Z"}
        )
        body = assert_error(response, 400, "records.invalid")
        assert body["details"]["problems"][0]["field"] == field

    assert record["_version"] == 1
    assert len(await all_records(client, admin, "posts")) == 1
