"""Nearby queries: a geo index on a geopoint field, then `$near` (within a distance, nearest
first) and `$geoWithin` a box, with other filters and the rules, kept by every write."""

from __future__ import annotations

import json
from typing import Any

import httpx

from minibase.rules.conditions import distance
from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, list_page, make_collection, records_url, walk_pages

FIELDS = {"name": {"type": "string"}, "place": {"type": "geopoint"}, "open": {"type": "boolean"}}
GEO = {"fields": ["place"], "geo": True}
PEOPLES_SQUARE = (121.4737, 31.2304)  # Shanghai
SHOPS = {  # name: (longitude, latitude)
    "at the square": (121.4737, 31.2304),
    "Nanjing Road": (121.4800, 31.2350),  # ~800 m
    "the Bund": (121.4903, 31.2400),  # ~1.9 km
    "Jing'an": (121.4470, 31.2240),  # ~2.6 km
    "Pudong airport": (121.8050, 31.1443),  # ~33 km
    "Beijing": (116.4074, 39.9042),
}


def point(name: str) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(SHOPS[name])}


def near(metres: float, least: float = 0) -> dict[str, Any]:
    return {
        "place": {
            "$near": {
                "$geometry": {"type": "Point", "coordinates": list(PEOPLES_SQUARE)},
                "$maxDistance": metres,
                "$minDistance": least,
            }
        }
    }


async def names(
    client: httpx.AsyncClient, headers: dict[str, str], where: dict[str, Any], **params: Any
) -> list[str]:
    page = await list_page(client, headers, "shops", filter=json.dumps(where), **params)
    return [item["name"] for item in page["items"]]


async def shops(client: httpx.AsyncClient, admin: Actor, **rules: Any) -> None:
    await make_collection(client, admin, "shops", FIELDS, indexes=[GEO], **rules)
    for name in SHOPS:
        await create(
            client,
            admin.headers,
            "shops",
            {"name": name, "place": point(name), "open": name != "the Bund"},
        )
    await create(client, admin.headers, "shops", {"name": "nowhere"})  # no place at all


async def test_near_finds_the_shops_within_a_distance_nearest_first(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await shops(client, admin)
    assert await names(client, admin.headers, near(3000)) == [
        "at the square",
        "Nanjing Road",
        "the Bund",
        "Jing'an",
    ]
    assert await names(client, admin.headers, near(3000, least=1000)) == ["the Bund", "Jing'an"]
    assert await names(client, admin.headers, near(50_000)) == [
        "at the square",
        "Nanjing Road",
        "the Bund",
        "Jing'an",
        "Pudong airport",
    ]
    assert await names(client, admin.headers, {**near(3000), "open": True}) == [
        "at the square",
        "Nanjing Road",
        "Jing'an",
    ]
    walked = await walk_pages(
        client, admin.headers, "shops", filter=json.dumps(near(3000)), limit="1"
    )
    assert [item["name"] for item in walked] == [
        "at the square",
        "Nanjing Road",
        "the Bund",
        "Jing'an",
    ]
    by_name = await names(client, admin.headers, near(3000), sort="name")
    assert by_name == ["Jing'an", "Nanjing Road", "at the square", "the Bund"]  # a sort wins
    # the same metres as MongoDB's $near measures them (a sphere of 6,378.1 km)
    bund = distance(*SHOPS["the Bund"], *PEOPLES_SQUARE)
    assert 1900 < bund < 2000
    assert (await names(client, admin.headers, near(bund + 0.01)))[-1] == "the Bund"
    assert "the Bund" not in await names(client, admin.headers, near(bund - 0.01))


async def test_geo_within_a_box_takes_its_edges(client: httpx.AsyncClient, admin: Actor) -> None:
    await shops(client, admin)
    box = {"place": {"$geoWithin": {"$box": [[121.44, 31.22], [121.4903, 31.2400]]}}}
    assert await names(client, admin.headers, box, sort="name") == [
        "Jing'an",
        "Nanjing Road",
        "at the square",
        "the Bund",  # on the north-east corner
    ]
    everywhere = {"place": {"$geoWithin": {"$box": [[-180, -90], [180, 90]]}}}
    assert len(await names(client, admin.headers, everywhere)) == len(SHOPS)


async def test_the_geo_index_follows_every_write_and_the_rules(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(
        client, admin, "shops", FIELDS, indexes=[GEO], rules={"preset": "owner_only"}
    )
    ann, bo = await make_user(), await make_user()
    mine = await create(client, ann.headers, "shops", {"name": "Ann's", "place": point("Beijing")})
    await create(client, bo.headers, "shops", {"name": "Bo's", "place": point("the Bund")})
    assert await names(client, ann.headers, near(5000)) == []
    moved = await client.patch(
        records_url("shops", f"/{mine['_id']}"),
        json={"place": point("Nanjing Road")},
        headers=ann.headers,
    )
    assert moved.status_code == 200, moved.text
    assert await names(client, ann.headers, near(5000)) == ["Ann's"]
    assert await names(client, bo.headers, near(5000)) == ["Bo's"]
    gone = await client.delete(records_url("shops", f"/{mine['_id']}"), headers=ann.headers)
    assert gone.status_code == 204
    assert await names(client, ann.headers, near(5000)) == []


async def test_a_geo_index_added_later_and_bad_queries(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "shops", FIELDS)
    await create(
        client, admin.headers, "shops", {"name": "at the square", "place": point("at the square")}
    )
    unindexed = await client.get(
        records_url("shops"), params={"filter": json.dumps(near(100))}, headers=admin.headers
    )
    assert (
        "no geo index on place" in assert_error(unindexed, 400, "records.invalid_filter")["message"]
    )
    added = await client.patch(
        "/api/admin/collections/shops", json={"indexes": [GEO]}, headers=admin.headers
    )
    assert added.status_code == 200, added.text
    assert await names(client, admin.headers, near(100)) == ["at the square"]
    for where, words in [
        (
            {"place": {"$near": {"$geometry": {"type": "Point", "coordinates": [121, 31]}}}},
            "$maxDistance",
        ),
        (
            {
                "place": {
                    "$near": {
                        "$geometry": {"type": "Point", "coordinates": [200, 31]},
                        "$maxDistance": 1,
                    }
                }
            },
            "-180..180",
        ),
        (
            {
                "place": {
                    "$near": {
                        "$geometry": {"type": "Point", "coordinates": [121, 31]},
                        "$maxDistance": 5,
                        "$minDistance": 9,
                    }
                }
            },
            "more than",
        ),
        ({"place": {"$geoWithin": {"$box": [[122, 31], [121, 32]]}}}, "west to east"),
    ]:
        response = await client.get(
            records_url("shops"), params={"filter": json.dumps(where)}, headers=admin.headers
        )
        assert words in assert_error(response, 400, "records.invalid_filter")["message"], where
    for indexes, words in [
        ([{"fields": ["name"], "geo": True}], "not a declared geopoint field"),
        ([{"fields": ["place", "name"], "geo": True}], "one geopoint field"),
    ]:
        refused = await client.patch(
            "/api/admin/collections/shops", json={"indexes": indexes}, headers=admin.headers
        )
        assert words in str(assert_error(refused, 400, "collections.invalid_definition")["details"])
    removed = await client.patch(
        "/api/admin/collections/shops", json={"indexes": []}, headers=admin.headers
    )
    assert removed.status_code == 200, removed.text
    await create(client, admin.headers, "shops", {"name": "after", "place": point("Beijing")})
