"""A record's shape is bounded on every write: the length of a field name, the fields of one
object and the keys of all its objects together (settings record_max_*). Past a limit the
answer is 400 `records.limit_exceeded` naming the limit, its value and where; nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, records_url

LONG_NAME = "n" * 100_000


def _refused(response: httpx.Response, limit: str, most: int, path: str) -> dict[str, Any]:
    body = assert_error(response, 400, "records.limit_exceeded")
    assert {key: body["details"][key] for key in ("limit", "max", "path")} == {
        "limit": limit,
        "max": most,
        "path": path,
    }
    assert limit in body["message"]
    assert str(most) in body["message"]
    return body


async def test_a_field_name_longer_than_the_limit_is_refused_on_every_write(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1, "meta": {}})
    one = records_url("posts", f"/{record['_id']}")
    writes: list[tuple[str, str, Any, str]] = [
        ("POST", records_url("posts"), {LONG_NAME: 1}, ""),
        ("PUT", one, {"meta": {LONG_NAME: 1}}, "meta"),
        ("PATCH", one, {"meta": {"deep": [{LONG_NAME: 1}]}}, "meta.deep.0"),
        ("PATCH", one, {"$set": {"meta.inner": {LONG_NAME: 1}}}, "meta.inner"),
        ("PATCH", one, {"$push": {"items": {LONG_NAME: 1}}}, "items.0"),
        ("POST", records_url("posts", "/bulk-create"), {"records": [{"n": 2}, {LONG_NAME: 1}]}, ""),
        (
            "POST",
            records_url("posts", "/bulk-update"),
            {"filter": {}, "update": {"$set": {"meta": {LONG_NAME: 1}}}},
            "meta",
        ),
    ]

    for method, url, body, path in writes:
        response = await client.request(method, url, headers=user.headers, json=body)
        refused = _refused(response, "record_max_name_length", 128, path)
        assert len(response.content) < 2000  # the name is not echoed back whole
        if url.endswith("bulk-create"):
            assert refused["details"]["index"] == 1

    assert await all_records(client, admin, "posts") == [record]
    longest = await client.post(records_url("posts"), headers=user.headers, json={"a" * 128: 1})
    assert longest.status_code == 201, longest.text


async def test_an_object_with_more_fields_than_the_limit_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    wide = {f"f{i}": i for i in range(10_000)}

    top = await client.post(records_url("posts"), headers=user.headers, json=wide)
    nested = await client.post(
        records_url("posts"),
        headers=user.headers,
        json={"a": {"b": dict(list(wide.items())[:1001])}},
    )

    _refused(top, "record_max_fields_per_object", 1000, "")
    _refused(nested, "record_max_fields_per_object", 1000, "a.b")
    assert await all_records(client, admin, "posts") == []
    at_the_limit = dict(list(wide.items())[:1000])
    assert (await create(client, user.headers, "posts", at_the_limit))["f999"] == 999


async def test_a_record_with_more_keys_in_all_than_the_limit_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    groups = {f"g{i}": {f"k{j}": j for j in range(500)} for i in range(100)}  # 50,100 keys

    response = await client.post(records_url("posts"), headers=user.headers, json=groups)

    _refused(response, "record_max_keys", 10_000, "")
    assert await all_records(client, admin, "posts") == []
    nineteen = {f"g{i}": {f"k{j}": j for j in range(500)} for i in range(19)}  # 9,519 keys
    assert (await create(client, user.headers, "posts", nineteen))["g18"]["k499"] == 499


async def test_the_limits_are_settings_and_an_update_that_adds_keys_is_held_to_them(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    client_with: Callable[..., httpx.AsyncClient],
) -> None:
    small = client_with(record_max_name_length=5, record_max_fields_per_object=3, record_max_keys=6)
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(small, user.headers, "posts", {"a": 1, "b": {"c": 1, "d": 2}})
    one = records_url("posts", f"/{record['_id']}")

    named = await small.post(records_url("posts"), headers=user.headers, json={"sixsix": 1})
    wide = await small.post(records_url("posts"), headers=user.headers, json=dict.fromkeys("wxyz"))
    grown = await small.patch(one, headers=user.headers, json={"$set": {"e": {"f": 1, "g": 2}}})
    pushed = await small.patch(one, headers=user.headers, json={"$push": {"h": {"i": 1, "j": 2}}})

    _refused(named, "record_max_name_length", 5, "")
    _refused(wide, "record_max_fields_per_object", 3, "")
    _refused(grown, "record_max_keys", 6, "")
    _refused(pushed, "record_max_keys", 6, "")
    assert await all_records(client, admin, "posts") == [record]
    fits = await small.patch(one, headers=user.headers, json={"$set": {"e": {"f": 1}}})
    assert fits.status_code == 200, fits.text
