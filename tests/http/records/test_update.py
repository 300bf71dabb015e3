"""Changing records: PUT replaces the fields, PATCH merges them or applies operators."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, make_collection, read, records_url

FIELDS = {
    "title": {"type": "string", "required": True, "max": 20},
    "score": {"type": "integer", "default": 0},
    "meta": {"type": "object", "fields": {"views": {"type": "integer"}}},
    "tags": {"type": "array", "items": {"type": "string"}},
}


async def _patch(
    client: httpx.AsyncClient, actor: Actor, record_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(
        records_url("posts", f"/{record_id}"), headers=actor.headers, json=body
    )


async def test_put_replaces_the_user_fields_and_keeps_the_system_fields(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a", "score": 5, "note": "x"})

    response = await client.put(
        records_url("posts", f"/{record['_id']}"), headers=user.headers, json={"title": "b"}
    )

    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["title"] == "b"
    assert replaced["score"] == 0  # back to the default: PUT is not a merge
    assert "note" not in replaced
    for field in ("_id", "_owner", "_created"):
        assert replaced[field] == record[field]
    assert replaced["_version"] == 2
    assert replaced["_updated"] >= record["_updated"]
    assert await read(client, user.headers, "posts", record["_id"]) == replaced


async def test_put_refuses_system_fields_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a"})
    url = records_url("posts", f"/{record['_id']}")

    for field, value in (("_id", "other"), ("_owner", None), ("_created", "2020-01-01T00:00:00Z")):
        response = await client.put(url, headers=admin.headers, json={"title": "b", field: value})
        assert_error(response, 400, "records.invalid")

    assert await read(client, user.headers, "posts", record["_id"]) == record


async def test_patch_merges_the_given_fields_and_counts_the_version_up(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a", "score": 1, "note": "x"})

    first = await _patch(client, user, record["_id"], {"score": 2})
    second = await _patch(client, user, record["_id"], {"note": None, "meta.views": 7})

    assert first.json()["_version"] == 2
    merged = second.json()
    assert merged["_version"] == 3
    assert merged["title"] == "a"
    assert merged["score"] == 2
    assert merged["note"] is None
    assert merged["meta"] == {"views": 7}


async def test_operators_set_unset_inc_push_and_pull_including_dotted_paths(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(
        client,
        user.headers,
        "posts",
        {"title": "a", "score": 10, "tags": ["a", "b", "c", "b"], "draft": True, "deep": {}},
    )
    seven = ["a", "b", "c", "b", "d", "e", "f"]
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"$set": {"meta.views": 1, "deep.x.y": "z"}},
         {"meta": {"views": 1}, "deep": {"x": {"y": "z"}}}),
        ({"$inc": {"score": -3, "meta.views": 2, "fresh": 1.5}},
         {"score": 7, "meta": {"views": 3}, "fresh": 1.5}),
        ({"$unset": {"draft": True, "deep.x": ""}}, {"deep": {}}),
        ({"$push": {"tags": "d"}}, {"tags": seven[:5]}),
        ({"$push": {"tags": {"$each": ["e", "f"]}, "list": 1}}, {"tags": seven, "list": [1]}),
        ({"$pull": {"tags": "b"}}, {"tags": ["a", "c", "d", "e", "f"]}),
        ({"$pull": {"tags": {"$in": ["a", "f", "zz"]}}}, {"tags": ["c", "d", "e"]}),
        ({"$set": {"title": "b"}, "$inc": {"score": 1}}, {"title": "b", "score": 8}),
    ]  # fmt: skip

    for version, (update, expected) in enumerate(steps, start=2):
        response = await _patch(client, user, record["_id"], update)
        assert response.status_code == 200, (update, response.text)
        result = response.json()
        assert result["_version"] == version
        for field, value in expected.items():
            assert result[field] == value, update
    assert "draft" not in result
    assert await read(client, user.headers, "posts", record["_id"]) == result


async def test_malformed_updates_are_refused_and_change_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a", "tags": ["x"]})
    malformed: list[dict[str, Any]] = [
        {},
        {"$set": {"title": "b"}, "title": "c"},
        {"$rename": {"title": "name"}},
        {"$set": {}},
        {"$set": ["title"]},
        {"$inc": {"score": "1"}},
        {"$inc": {"score": True}},
        {"$set": {"meta": {}}, "$inc": {"meta.views": 1}},
        {"$set": {"_owner": "me"}},
        {"$set": {"tags.0": "y"}},
        {"$set": {"a..b": 1}},
        {"$inc": {"title": 1}},
        {"$push": {"title": "x"}},
        {"$pull": {"title": "x"}},
        {"$set": {"title.sub": 1}},
        {"$pull": {"tags": {"a": 1}}},
        {"$push": {"tags": {"$each": "x"}}},
        {"$push": {"tags": {"$each": list(range(101))}}},
        {"_version": "1", "title": "b"},
    ]

    for update in malformed:
        response = await _patch(client, user, record["_id"], update)
        assert_error(response, 400, "records.invalid_update")

    assert await read(client, user.headers, "posts", record["_id"]) == record


async def test_an_update_whose_result_breaks_the_schema_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a", "score": 1})
    invalid: list[dict[str, Any]] = [
        {"$unset": {"title": True}},
        {"title": None},
        {"$set": {"title": "x" * 21}},
        {"$inc": {"score": 0.5}},
        {"$push": {"tags": 5}},
        {"$set": {"meta.views": "many"}},
    ]

    for update in invalid:
        response = await _patch(client, user, record["_id"], update)
        body = assert_error(response, 400, "records.invalid")
        assert body["details"]["problems"], update
    put = await client.put(
        records_url("posts", f"/{record['_id']}"), headers=user.headers, json={"score": 3}
    )
    assert_error(put, 400, "records.invalid")
    nul = await _patch(client, user, record["_id"], {"$set": {"text": "nul \u0000 inside"}})
    assert assert_error(nul, 400, "request.nul_character")["details"] == {"path": "$set.text"}

    assert await read(client, user.headers, "posts", record["_id"]) == record


async def test_an_inc_whose_result_leaves_64_bit_integers_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    fields = {"title": "a", "score": 2**63 - 1, "low": -(2**63), "huge": 1.5e308}
    record = await create(client, user.headers, "posts", fields)
    overflowing = {"score": 1, "low": -1, "huge": 1e308}

    for field, step in overflowing.items():
        response = await _patch(client, user, record["_id"], {"$inc": {field: step}})
        body = assert_error(response, 400, "records.invalid_update")
        assert body["details"] == {"at": field}
        assert "$inc" in body["message"]

    after = await read(client, user.headers, "posts", record["_id"])
    assert (after["_version"], after["score"], after["low"]) == (1, 2**63 - 1, -(2**63))
    assert float(after["huge"]) == 1.5e308  # PostgreSQL writes it out in digits
    fine = await _patch(client, user, record["_id"], {"$inc": {"score": -1, "low": 1}})
    assert fine.status_code == 200, fine.text
    assert (fine.json()["score"], fine.json()["low"]) == (2**63 - 2, -(2**63) + 1)


async def test_delete_removes_the_record_once_and_unknown_ids_are_not_found(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    user = await make_user()
    record = await create(client, user.headers, "posts", {"title": "a"})
    url = records_url("posts", f"/{record['_id']}")

    deleted = await client.delete(url, headers=user.headers)
    again = await client.delete(url, headers=user.headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(again, 404, "records.not_found")
    assert_error(await client.get(url), 404, "records.not_found")
    unknown = records_url("posts", "/nope")
    patch = await _patch(client, user, "nope", {"title": "x"})
    assert_error(patch, 404, "records.not_found")
    put = await client.put(unknown, headers=user.headers, json={"title": "x"})
    assert_error(put, 404, "records.not_found")
    assert_error(await client.delete(unknown, headers=user.headers), 404, "records.not_found")
