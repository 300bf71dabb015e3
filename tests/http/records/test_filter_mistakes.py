"""Mistakes that would look like empty data are refused, saying what was meant: a filter, sort
or projection (`fields`) on a path no record can hold (a field a closed collection does not
declare), and an operator written without its `$`."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from minibase.errors import ApiError
from minibase.functions.context import ADMIN, RecordsAPI
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, list_page, make_collection, records_url

SCORES = {
    "name": {"type": "string"},
    "score": {"type": "integer"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "size": {
        "type": "object",
        "additional": False,
        "fields": {"width": {"type": "integer"}, "height": {"type": "integer"}},
    },
    "extra": {"type": "object"},  # open: any key may be in it
    "place": {"type": "geopoint"},
    "lines": {
        "type": "array",
        "items": {"type": "object", "additional": False, "fields": {"sku": {"type": "string"}}},
    },
}


async def _scores(client: httpx.AsyncClient, admin: Actor, make_user: MakeUser) -> Actor:
    await make_collection(client, admin, "scores", SCORES, additional=False)
    await make_collection(client, admin, "notes", {"score": {"type": "integer"}})  # open
    user = await make_user()
    record = {
        "name": "ann",
        "score": 7,
        "tags": ["a"],
        "size": {"width": 3, "height": 4},
        "extra": {"colour": "red"},
        "place": {"type": "Point", "coordinates": [120.1, 30.2]},
        "lines": [{"sku": "x1"}],
    }
    await create(client, user.headers, "scores", record)
    await create(client, user.headers, "notes", {"score": 7, "scroe": 7})
    return user


async def _listed(
    client: httpx.AsyncClient, actor: Actor, collection: str, **params: Any
) -> httpx.Response:
    if "filter" in params:
        params["filter"] = orjson.dumps(params["filter"]).decode()
    return await client.get(records_url(collection), headers=actor.headers, params=params)


async def test_a_filter_on_an_undeclared_field_of_a_closed_collection_names_the_closest(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    cases = [
        ({"scroe": {"$gte": 5}}, "scroe", "score"),
        ({"$or": [{"name": "ann"}, {"Name": "bob"}]}, "Name", "name"),
        ({"created": {"$gt": "2024"}}, "created", "_created"),  # a system field, without its _
        ({"size.widht": 3}, "size.widht", "size.width"),  # a closed object inside
        ({"lines.0.skus": "x1"}, "lines.0.skus", "lines.0.sku"),  # in an array's items
        ({"place.lat": 30}, "place.lat", None),
        ({"colour": "red"}, "colour", None),
    ]
    for where, field, meant in cases:
        response = await _listed(client, user, "scores", filter=where, count="true")
        body = assert_error(response, 400, "records.invalid_filter")
        assert body["details"] == {"field": field, "did_you_mean": meant}, where
        assert repr(field) in body["message"], body
        if meant is not None:
            assert f"did you mean {meant!r}?" in body["message"], body
    nothing_close = await _listed(client, user, "scores", filter={"colour": "red"})
    assert nothing_close.json()["message"] == (
        "scores has no field 'colour': its fields are extra, lines, name, place, score, size, tags"
    )


async def test_a_typo_under_an_empty_list_is_refused_though_the_list_decides_the_answer(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    for where in (
        {"scroe": {"$in": []}},  # matches nothing, whatever the field
        {"scroe": {"$all": []}},  # matches everything, whatever the field
        {"scroe": {"$nin": []}},
        {"$or": [{"name": {"$all": []}}, {"scroe": 7}]},  # the $or is decided by its first part
    ):
        response = await _listed(client, user, "scores", filter=where)
        body = assert_error(response, 400, "records.invalid_filter")
        assert body["details"] == {"field": "scroe", "did_you_mean": "score"}, where
    bulk = records_url("scores", "/bulk-delete")
    deleted = await client.post(
        bulk, headers=user.headers, json={"filter": {"scroe": {"$all": []}}}
    )
    assert_error(deleted, 400, "records.invalid_filter")
    assert (await list_page(client, user.headers, "scores"))["items"]  # nothing was deleted
    assert (await _listed(client, user, "scores", filter={"score": {"$in": []}})).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_a_projection_of_an_undeclared_field_is_refused_rather_than_left_out(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    user = await _scores(client, admin, make_user)
    (record,) = (await list_page(client, user.headers, "scores"))["items"]
    one = records_url("scores", f"/{record['_id']}")
    for fields, field, meant in (
        ("name,scroe", "scroe", "score"),
        ("size.widht", "size.widht", "size.width"),
        ("created", "created", "_created"),
        ("colour", "colour", None),
    ):
        for url in (records_url("scores"), one):
            response = await client.get(url, headers=user.headers, params={"fields": fields})
            body = assert_error(response, 400, "request.invalid_query")
            assert body["details"] == {"field": field, "did_you_mean": meant}, (url, fields)
            assert body["message"].startswith(f"scores has no field {field!r}"), body
    records = RecordsAPI(services, ADMIN, None)
    with pytest.raises(ApiError) as refused:
        await records.list("scores", fields=["name", "scroe"])
    assert (refused.value.code, refused.value.details["did_you_mean"]) == (
        "request.invalid_query",
        "score",
    )
    # declared fields, system fields and the open parts still project
    fields = "name,size.width,extra.colour,_owner,place.type"
    shown = await client.get(one, headers=user.headers, params={"fields": fields})
    assert shown.json() == {
        "_id": record["_id"],
        "name": "ann",
        "size": {"width": 3},
        "extra": {"colour": "red"},
        "_owner": user.id,
        "place": {"type": "Point"},
    }
    open_page = await list_page(client, user.headers, "notes", fields="scroe")
    assert [item["scroe"] for item in open_page["items"]] == [7]


async def test_a_path_into_a_value_without_fields_is_refused_saying_what_it_is(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    for where, said in (
        ({"name.first": "ann"}, "name is a string, with no fields"),
        ({"score.value": 7}, "score is an integer, with no fields"),
        ({"tags.first": "a"}, "tags is an array: name an item by its position, as in tags.0"),
    ):
        response = await _listed(client, user, "scores", filter=where)
        body = assert_error(response, 400, "records.invalid_filter")
        assert body["message"].endswith(said), body


async def test_declared_paths_system_fields_and_open_parts_still_filter(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    for where in (
        {"score": 7},
        {"_owner": user.id, "_version": 1, "_id": {"$exists": True}},
        {"_created": {"$gt": "2000"}, "_updated": {"$gt": "2000"}},
        {"size.width": 3},
        {"extra.colour": "red", "extra.shade.depth": {"$exists": False}},  # open object
        {"place.coordinates.0": {"$gt": 120}, "place.type": "Point"},
        {"tags.0": "a", "lines.0.sku": "x1"},
    ):
        page = await _listed(client, user, "scores", filter=where, sort="-score,size.height")
        assert page.status_code == 200, (where, page.text)
        assert [item["name"] for item in page.json()["items"]] == ["ann"], where
    # an open collection may hold any field: an undeclared one filters as before
    assert (await list_page(client, user.headers, "notes", filter='{"scroe": 7}'))["items"]
    assert (await list_page(client, user.headers, "notes", sort="-scroe"))["items"]


async def test_a_sort_on_an_undeclared_field_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    response = await _listed(client, user, "scores", sort="-scroe")
    body = assert_error(response, 400, "records.invalid_sort")
    assert body["details"] == {"field": "scroe", "did_you_mean": "score"}
    nested = await _listed(client, user, "scores", sort="name,size.area")
    body = assert_error(nested, 400, "records.invalid_sort")
    assert body["message"] == "scores has no field 'size.area': size holds height, width"


async def test_bulk_operations_and_functions_refuse_an_undeclared_field_and_change_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    user = await _scores(client, admin, make_user)
    bulk = records_url("scores", "/bulk-{}")
    update = {"filter": {"scroe": 7}, "update": {"$set": {"score": 8}}}
    updated = await client.post(bulk.format("update"), headers=user.headers, json=update)
    assert_error(updated, 400, "records.invalid_filter")
    deleted = await client.post(
        bulk.format("delete"), headers=user.headers, json={"filter": {"scroe": 7}}
    )
    assert_error(deleted, 400, "records.invalid_filter")
    records = RecordsAPI(services, ADMIN, None)
    with pytest.raises(ApiError) as refused:
        await records.list("scores", filter={"size.widht": 3})
    assert refused.value.details == {"field": "size.widht", "did_you_mean": "size.width"}
    with pytest.raises(ApiError) as refused:
        await records.list("scores", sort="scroe")
    assert refused.value.code == "records.invalid_sort"
    (kept,) = (await records.list("scores"))["items"]
    assert kept["score"] == 7


async def test_an_operator_without_its_dollar_is_refused_naming_the_operator(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await _scores(client, admin, make_user)
    for collection in ("scores", "notes"):
        for where, meant, at in (
            ({"score": {"gte": 5}}, "$gte", "score"),
            ({"score": {"gt": 1, "lt": 9}}, "$gt, $lt", "score"),
            ({"score": {"$gt": 1, "lt": 9}}, "$lt", "score.lt"),
            ({"tags": {"in": ["a"]}}, "$in", "tags"),
            ({"or": [{"score": 7}]}, "$or", "or"),
            ({"not": {"score": 7}}, "$not", "not"),
        ):
            response = await _listed(client, user, collection, filter=where)
            body = assert_error(response, 400, "records.invalid_filter")
            assert body["message"] == f"operators start with $: did you mean {meant}?", body
            assert body["details"]["at"] == at
    other = await _listed(client, user, "notes", filter={"score": {"value": 7}})
    assert "use dotted paths" in assert_error(other, 400, "records.invalid_filter")["message"]
