"""Reading one record: the stored JSON, or a projection of it."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import ANONYMOUS, assert_error, create, make_collection, records_url


async def test_get_returns_the_record_as_stored(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "中文 'quoted'", "n": 1.5})

    response = await client.get(records_url("posts", f"/{record['_id']}"), headers=ANONYMOUS)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == record


async def test_fields_returns_only_the_named_paths_and_always_the_id(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(
        client,
        user.headers,
        "posts",
        {"title": "t", "body": "long", "meta": {"words": 3, "lang": "en"}, "gone": None},
    )
    url = records_url("posts", f"/{record['_id']}")

    response = await client.get(url, params={"fields": "title,meta.words,gone,missing,_version"})

    assert response.json() == {
        "_id": record["_id"],
        "title": "t",
        "meta": {"words": 3},
        "gone": None,
        "_version": 1,
    }


async def test_an_unknown_id_is_not_found_and_unknown_parameters_are_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    record = await create(client, admin.headers, "posts", {"title": "t"})
    url = records_url("posts", f"/{record['_id']}")

    for record_id in ("nope", "x" * 65, "%C3%A9"):
        response = await client.get(records_url("posts", f"/{record_id}"))
        assert_error(response, 404, "records.not_found")
    nul = await client.get(records_url("posts", "/a%00b"))
    assert_error(nul, 400, "request.nul_character")

    assert_error(await client.get(url, params={"filter": "{}"}), 400, "request.invalid_query")
    assert_error(await client.get(url, params={"fields": "a..b"}), 400, "request.invalid_query")
    assert_error(await client.get(url, params={"fields": "_secret"}), 400, "request.invalid_query")
