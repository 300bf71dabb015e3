"""The filter language of `GET .../records?filter=...`: every operator, on both engines."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, list_page, make_collection, records_url

FIELDS = {
    "title": {"type": "string"},
    "score": {"type": "integer"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "meta": {
        "type": "object",
        "fields": {"words": {"type": "integer"}, "lang": {"type": "string"}},
    },
    "published": {"type": "boolean"},
}
FRUIT: list[dict[str, Any]] = [
    {"title": "apple", "score": 10, "tags": ["red", "fruit"], "price": 1.5,
     "meta": {"words": 100, "lang": "en"}, "published": True},
    {"title": "Banana", "score": 5, "tags": ["yellow", "fruit"],
     "meta": {"words": 50, "lang": "en"}, "published": False},
    {"title": "cherry", "score": 20, "tags": ["red"], "meta": {"words": 10, "lang": "fr"},
     "published": True},
    {"title": "date", "score": None, "tags": [], "meta": {"lang": "zh"}},
    {"title": "elder 100%", "tags": ["fruit"], "note": "it's"},
    {"title": "fig_1", "score": 5, "published": True, "extra": "5"},
]  # fmt: skip
ALL = {"apple", "Banana", "cherry", "date", "elder 100%", "fig_1"}


async def _fruit(client: httpx.AsyncClient, admin: Actor, make_user: MakeUser) -> Actor:
    await make_collection(client, admin, "fruit", FIELDS)
    user = await make_user()
    for body in FRUIT:
        await create(client, user.headers, "fruit", body)
    return user


async def _titles(client: httpx.AsyncClient, actor: Actor, where: dict[str, Any]) -> set[str]:
    page = await list_page(
        client, actor.headers, "fruit", filter=orjson.dumps(where).decode(), count="true"
    )
    titles = {item["title"] for item in page["items"]}
    assert page["total"] == len(titles), where
    return titles


async def _expect(
    client: httpx.AsyncClient, actor: Actor, cases: list[tuple[dict[str, Any], set[str]]]
) -> None:
    wrong = {}
    for where, expected in cases:
        found = await _titles(client, actor, where)
        if found != expected:
            wrong[orjson.dumps(where).decode()] = (sorted(found), sorted(expected))
    assert not wrong, wrong


async def test_comparison_operators_never_cross_types(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _fruit(client, admin, make_user)
    await _expect(client, user, [
        ({}, ALL),
        ({"score": 5}, {"Banana", "fig_1"}),
        ({"score": {"$eq": 5}}, {"Banana", "fig_1"}),
        ({"score": {"$ne": 5}}, {"apple", "cherry", "date", "elder 100%"}),
        ({"score": {"$gt": 5}}, {"apple", "cherry"}),
        ({"score": {"$gte": 10}}, {"apple", "cherry"}),
        ({"score": {"$lt": 10}}, {"Banana", "fig_1"}),
        ({"score": {"$lte": 5}}, {"Banana", "fig_1"}),
        ({"score": {"$gt": 5, "$lt": 20}}, {"apple"}),
        ({"score": {"$in": [5, 20]}}, {"Banana", "cherry", "fig_1"}),
        ({"score": {"$nin": [5, 20]}}, {"apple", "date", "elder 100%"}),
        ({"score": "5"}, set()),
        ({"score": {"$gt": "1"}}, set()),
        ({"extra": 5}, set()),
        ({"extra": "5"}, {"fig_1"}),
        ({"price": {"$gt": 1}}, {"apple"}),
        ({"price": 1.5}, {"apple"}),
        ({"published": True}, {"apple", "cherry", "fig_1"}),
        ({"published": False}, {"Banana"}),
        ({"published": 1}, set()),
        ({"title": {"$gte": "c", "$lt": "e"}}, {"cherry", "date"}),
        ({"note": "it's"}, {"elder 100%"}),
        ({"title": "x'; DROP TABLE users; --"}, set()),
    ])  # fmt: skip


async def test_null_exists_and_dotted_paths(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _fruit(client, admin, make_user)
    await _expect(client, user, [
        ({"score": None}, {"date", "elder 100%"}),
        ({"score": {"$ne": None}}, {"apple", "Banana", "cherry", "fig_1"}),
        ({"score": {"$exists": True}}, {"apple", "Banana", "cherry", "date", "fig_1"}),
        ({"score": {"$exists": False}}, {"elder 100%"}),
        ({"meta.words": {"$gte": 50}}, {"apple", "Banana"}),
        ({"meta.lang": "en"}, {"apple", "Banana"}),
        ({"meta.words": None}, {"date", "elder 100%", "fig_1"}),
        ({"meta.lang": {"$in": ["fr", "zh"]}}, {"cherry", "date"}),
        ({"tags.0": "red"}, {"apple", "cherry"}),
        ({"tags.1": {"$exists": True}}, {"apple", "Banana"}),
        ({"meta.missing.deeper": {"$exists": True}}, set()),
    ])  # fmt: skip


async def test_text_patterns_and_arrays(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _fruit(client, admin, make_user)
    await _expect(client, user, [
        ({"title": {"$regex": "^[a-c]"}}, {"apple", "cherry"}),
        ({"title": {"$regex": "^b", "$options": "i"}}, {"Banana"}),
        ({"title": {"$regex": "an{1,2}a$"}}, {"Banana"}),
        ({"title": {"$regex": "\\d"}}, {"elder 100%", "fig_1"}),
        ({"title": {"$regex": "(?:er|rr)y?$"}}, {"cherry"}),
        ({"score": {"$regex": "5"}}, set()),
        ({"title": {"$like": "%e%"}}, {"apple", "cherry", "date", "elder 100%"}),
        ({"title": {"$like": "A%"}}, set()),
        ({"title": {"$like": "_ate"}}, {"date"}),
        ({"title": {"$like": "fig\\_1"}}, {"fig_1"}),
        ({"title": {"$like": "elder 100\\%"}}, {"elder 100%"}),
        ({"title": {"$like": "elder\\"}}, set()),
        ({"tags": {"$all": ["red"]}}, {"apple", "cherry"}),
        ({"tags": {"$all": ["red", "fruit"]}}, {"apple"}),
        ({"tags": {"$all": []}}, ALL),
        ({"tags": {"$all": [5]}}, set()),
    ])  # fmt: skip


async def test_logical_operators_and_system_fields(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _fruit(client, admin, make_user)
    other = await make_user()
    await create(client, other.headers, "fruit", {"title": "grape", "score": 1})
    await _expect(client, user, [
        ({"$or": [{"score": 20}, {"meta.lang": "zh"}]}, {"cherry", "date"}),
        ({"$and": [{"published": True}, {"score": {"$gte": 10}}]}, {"apple", "cherry"}),
        ({"$nor": [{"published": True}, {"score": None}]}, {"Banana", "grape"}),
        ({"$not": {"published": True}}, {"Banana", "date", "elder 100%", "grape"}),
        ({"score": {"$not": {"$gt": 5}}}, {"Banana", "date", "elder 100%", "fig_1", "grape"}),
        ({"published": True, "score": 5}, {"fig_1"}),
        ({"_owner": other.id}, {"grape"}),
        ({"_owner": {"$ne": other.id}, "_version": 1}, ALL),
        ({"_version": 1.5}, set()),
        ({"_version": {"$gt": 0.5, "$lt": 3000000000}}, ALL | {"grape"}),
        ({"_created": {"$gt": "2000-01-01"}}, ALL | {"grape"}),
    ])  # fmt: skip


async def test_an_invalid_filter_is_refused_saying_where(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _fruit(client, admin, make_user)
    too_deep: dict[str, Any] = {"score": 1}
    for _ in range(14):
        too_deep = {"$not": too_deep}
    cases: list[tuple[Any, str | None]] = [
        ("not json", None),
        ([{"score": 1}], ""),
        ("score", ""),
        ({"score": {"$foo": 1}}, "score.$foo"),
        ({"$where": "1 == 1"}, "$where"),
        ({"a..b": 1}, "a..b"),
        ({"_secret": 1}, "_secret"),
        ({"0": 1}, "0"),
        ({"title; DROP TABLE x": 1}, "title; DROP TABLE x"),
        ({"$or": []}, "$or"),
        ({"$or": [{"x": {"$bad": 1}}]}, "$or.0.x.$bad"),
        ({"score": {"$gt": None}}, "score.$gt"),
        ({"score": {"$gt": True}}, "score.$gt"),
        ({"score": {"$in": 5}}, "score.$in"),
        ({"score": {"$in": list(range(101))}}, "score.$in"),
        ({"score": {"$exists": 1}}, "score.$exists"),
        ({"meta": {"words": 1}}, "meta"),
        ({"tags": ["red"]}, "tags"),
        ({"title": {"$regex": "("}}, "title.$regex"),
        ({"title": {"$regex": "a{1,1000}"}}, "title.$regex"),
        ({"title": {"$regex": "(?P<x>a)"}}, "title.$regex"),
        ({"title": {"$regex": "a", "$options": "x"}}, "title.$regex"),
        ({"title": {"$options": "i"}}, "title.$options"),
        ({"title": {"$like": 5}}, "title.$like"),
        ({"title": "x" * 5000}, "title"),
    ]
    for where, at in cases:
        text = where if where == "not json" else orjson.dumps(where).decode()
        response = await client.get(records_url("fruit"), params={"filter": text})
        body = assert_error(response, 400, "records.invalid_filter")
        if at is not None:
            assert body.get("details", {}).get("at") == at, (where, body)
    deep = await client.get(
        records_url("fruit"), params={"filter": orjson.dumps(too_deep).decode()}
    )
    assert_error(deep, 400, "records.invalid_filter")
    assert await _titles(client, user, {}) == ALL
