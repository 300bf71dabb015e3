"""The collection schema applied to records on every write."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, records_url

FIELDS: dict[str, Any] = {
    "title": {"type": "string", "required": True, "min": 1, "max": 10, "pattern": "^[a-z ]+$"},
    "score": {"type": "integer", "min": 0, "max": 100, "default": 0},
    "ratio": {"type": "number", "min": -1, "max": 1},
    "done": {"type": "boolean", "default": False},
    "status": {"type": "enum", "values": ["draft", "published"], "default": "draft"},
    "due": {"type": "datetime"},
    "place": {"type": "geopoint"},
    "tags": {"type": "array", "items": {"type": "string"}, "max": 3, "unique": True},
    "meta": {"type": "object", "fields": {"words": {"type": "integer"}}, "additional": False},
    "note": {"type": "string"},
}


async def _problems(
    client: httpx.AsyncClient, user: Actor, body: dict[str, Any]
) -> list[tuple[str, str]]:
    response = await client.post(records_url("things"), headers=user.headers, json=body)
    problems = assert_error(response, 400, "records.invalid")["details"]["problems"]
    return [(p["field"], p["code"]) for p in problems]


async def test_defaults_fill_absent_fields_and_datetimes_are_stored_in_utc(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "things", FIELDS, additional=False)
    user = await make_user()

    record = await create(
        client,
        user.headers,
        "things",
        {
            "title": "hello",
            "due": "2026-03-01T08:30:00+08:00",
            "place": {"coordinates": [121.47, 31.23], "type": "Point"},
            "ratio": -0.5,
            "score": None,
        },
    )

    assert record["score"] is None  # null is a value: only absent fields get the default
    assert record["done"] is False
    assert record["status"] == "draft"
    assert record["due"] == "2026-03-01T00:30:00.000000Z"
    assert record["place"] == {"type": "Point", "coordinates": [121.47, 31.23]}


async def test_each_kind_of_schema_problem_is_reported_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "things", FIELDS, additional=False)
    user = await make_user()
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({}, [("title", "required")]),
        ({"title": None}, [("title", "required")]),
        ({"title": 5}, [("title", "type")]),
        ({"title": ""}, [("title", "min"), ("title", "pattern")]),
        ({"title": "much too long"}, [("title", "max")]),
        ({"title": "UPPER"}, [("title", "pattern")]),
        ({"title": "a", "score": "1"}, [("score", "type")]),
        ({"title": "a", "score": 1.5}, [("score", "type")]),
        ({"title": "a", "score": True}, [("score", "type")]),
        ({"title": "a", "score": 101}, [("score", "max")]),
        ({"title": "a", "score": -1}, [("score", "min")]),
        ({"title": "a", "ratio": 2}, [("ratio", "max")]),
        ({"title": "a", "done": "yes"}, [("done", "type")]),
        ({"title": "a", "status": "archived"}, [("status", "enum")]),
        ({"title": "a", "due": "2026-03-01 08:30"}, [("due", "format")]),
        ({"title": "a", "due": "2026-02-30T00:00:00Z"}, [("due", "format")]),
        (
            {"title": "a", "place": {"type": "Point", "coordinates": [200, 0]}},
            [("place", "format")],
        ),
        ({"title": "a", "place": [1, 2]}, [("place", "type")]),
        ({"title": "a", "tags": ["x", "x"]}, [("tags.1", "unique")]),
        ({"title": "a", "tags": ["a", "b", "c", "d"]}, [("tags", "max")]),
        ({"title": "a", "tags": ["a", 1]}, [("tags.1", "type")]),
        ({"title": "a", "meta": {"words": 1, "lang": "en"}}, [("meta.lang", "unknown_field")]),
        ({"title": "a", "colour": "red"}, [("colour", "unknown_field")]),
        ({"title": 5, "score": "x"}, [("title", "type"), ("score", "type")]),
    ]

    wrong = {}
    for body, expected in cases:
        found = await _problems(client, user, body)
        if found != expected:
            wrong[repr(body)] = found
    assert not wrong, wrong
    assert await all_records(client, admin, "things") == []


async def test_schemaless_collections_keep_any_json_but_refuse_what_cannot_be_stored(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "bag")
    user = await make_user()
    anything = {"a": [1, "two", None, {"b": [True, 2.5]}], "c": {"d": {}}, "e": "中文"}

    record = await create(client, user.headers, "bag", anything)
    refused = [
        ({"nested": {"name\u0000": 1}}, "nested.name\\u0000"),
        ({"deep": [[[[["x\u0000"]]]]]}, "deep.0.0.0.0.0"),
    ]
    for body, path in refused:
        response = await client.post(records_url("bag"), headers=user.headers, json=body)
        assert assert_error(response, 400, "request.nul_character")["details"] == {"path": path}
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    too_deep = await client.post(records_url("bag"), headers=user.headers, json={"x": deep})

    assert_error(too_deep, 400, "records.invalid")
    assert {k: record[k] for k in anything} == anything
    assert await all_records(client, admin, "bag") == [record]
