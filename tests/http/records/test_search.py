"""Text search: a collection declares a search index on string fields, and a filter's
`$search` finds the records whose fields hold the text: two Chinese characters or more, ASCII
letters in either case, with other filters and the rules, kept by every write."""

from __future__ import annotations

import json
from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import (
    ANONYMOUS,
    assert_error,
    create,
    list_page,
    make_collection,
    records_url,
    walk_pages,
)

FIELDS = {
    "title": {"type": "string"},
    "body": {"type": "string"},
    "shop": {"type": "object", "fields": {"name": {"type": "string"}}},
    "price": {"type": "number"},
}
SEARCH = {"fields": ["title", "body", "shop.name"], "search": True}


async def titles(
    client: httpx.AsyncClient, headers: dict[str, str], text: str, **params: Any
) -> list[str]:
    filter_ = params.pop("filter", {})
    page = await list_page(
        client,
        headers,
        "goods",
        filter=json.dumps({"$search": text, **filter_}),
        sort="title",
        limit="100",
        **params,
    )
    return [item["title"] for item in page["items"]]


async def test_search_finds_two_chinese_characters_or_more_in_any_indexed_field(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "goods", FIELDS, indexes=[SEARCH])
    for title, body, shop in [
        ("冰拿铁", "a cold latte", "咖啡小馆"),
        ("热美式", "hot Americano, 拿铁 on request", "Bean There"),
        ("抹茶", "matcha", "茶屋"),
        ("LATTE ART cup", "ceramic", "咖啡 Tools"),
    ]:
        await create(
            client, admin.headers, "goods", {"title": title, "body": body, "shop": {"name": shop}}
        )

    assert await titles(client, admin.headers, "拿铁") == ["冰拿铁", "热美式"]
    assert await titles(client, admin.headers, "咖啡") == ["LATTE ART cup", "冰拿铁"]
    assert await titles(client, admin.headers, "咖啡小") == ["冰拿铁"]
    assert await titles(client, admin.headers, "latte") == ["LATTE ART cup", "冰拿铁"]
    assert await titles(client, admin.headers, "Latte A") == ["LATTE ART cup"]
    assert await titles(client, admin.headers, "ho") == ["热美式"]  # "hot", in the body
    assert await titles(client, admin.headers, "乌龙茶") == []
    assert await titles(client, admin.headers, 'a "quoted" %_ *?[') == []  # taken as text
    one = await client.get(
        records_url("goods"), params={"filter": '{"$search": "茶"}'}, headers=admin.headers
    )
    assert "2 to 100 characters" in assert_error(one, 400, "records.invalid_filter")["message"]


async def test_search_goes_with_other_filters_and_the_rules(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(
        client, admin, "goods", FIELDS, indexes=[SEARCH], rules={"preset": "owner_only"}
    )
    alice, bob = await make_user(), await make_user()
    await create(client, alice.headers, "goods", {"title": "拿铁 grande", "price": 32})
    await create(client, alice.headers, "goods", {"title": "拿铁 tall", "price": 25})
    await create(client, alice.headers, "goods", {"title": "美式 tall", "price": 20})
    await create(client, bob.headers, "goods", {"title": "拿铁 bob's", "price": 10})

    assert await titles(client, alice.headers, "拿铁") == ["拿铁 grande", "拿铁 tall"]
    assert await titles(client, bob.headers, "拿铁") == ["拿铁 bob's"]
    assert await titles(client, ANONYMOUS, "拿铁") == []
    cheap = {"price": {"$lt": 30}}
    assert await titles(client, alice.headers, "拿铁", filter=cheap) == ["拿铁 tall"]
    page = await list_page(
        client,
        alice.headers,
        "goods",
        filter=json.dumps({"$or": [{"$search": "美式"}, {"price": {"$gt": 30}}]}),
        sort="price",
        count="true",
    )
    assert [item["title"] for item in page["items"]] == ["美式 tall", "拿铁 grande"]
    assert page["total"] == 2
    unsearched = await list_page(
        client, alice.headers, "goods", filter=json.dumps({"$nor": [{"$search": "tall"}]})
    )
    assert [item["title"] for item in unsearched["items"]] == ["拿铁 grande"]
    aggregated = await client.post(
        "/api/collections/goods/aggregate",
        headers=alice.headers,
        json={"pipeline": [{"$match": {"$search": "拿铁"}}, {"$count": "n"}]},
    )
    assert aggregated.json() == {"items": [{"n": 2}]}
    late = await client.post(
        "/api/collections/goods/aggregate",
        headers=alice.headers,
        json={"pipeline": [{"$sort": {"price": 1}}, {"$match": {"$search": "拿铁"}}]},
    )
    assert_error(late, 400, "aggregate.invalid_pipeline")


async def test_every_write_keeps_the_search_index(client: httpx.AsyncClient, admin: Actor) -> None:
    await make_collection(client, admin, "goods", FIELDS, indexes=[SEARCH])
    made = await create(client, admin.headers, "goods", {"title": "冰拿铁"})
    other = await create(client, admin.headers, "goods", {"title": "拿铁 two"})
    url = records_url("goods", f"/{made['_id']}")

    changed = await client.patch(url, json={"title": "冰美式"}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert await titles(client, admin.headers, "拿铁") == ["拿铁 two"]
    assert await titles(client, admin.headers, "美式") == ["冰美式"]
    emptied = await client.patch(url, json={"$unset": {"title": True}}, headers=admin.headers)
    assert emptied.status_code == 200, emptied.text
    assert await titles(client, admin.headers, "美式") == []
    bulk = await client.post(
        records_url("goods", "/bulk-update"),
        json={"filter": {"$search": "two"}, "update": {"$set": {"title": "拿铁 three"}}},
        headers=admin.headers,
    )
    assert bulk.json()["updated"] == 1, bulk.text
    assert await titles(client, admin.headers, "three") == ["拿铁 three"]
    deleted = await client.delete(records_url("goods", f"/{other['_id']}"), headers=admin.headers)
    assert deleted.status_code == 204
    assert await titles(client, admin.headers, "拿铁") == []


async def test_a_search_index_added_later_finds_the_records_already_there(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "goods", FIELDS)
    await create(client, admin.headers, "goods", {"title": "冰拿铁"})
    before = await client.get(
        records_url("goods"), params={"filter": '{"$search": "拿铁"}'}, headers=admin.headers
    )
    assert "no search index" in assert_error(before, 400, "records.invalid_filter")["message"]

    added = await client.patch(
        "/api/admin/collections/goods", json={"indexes": [SEARCH]}, headers=admin.headers
    )
    assert added.status_code == 200, added.text
    assert added.json()["indexes"] == [SEARCH]
    assert await titles(client, admin.headers, "拿铁") == ["冰拿铁"]
    await create(client, admin.headers, "goods", {"title": "热拿铁"})
    assert await titles(client, admin.headers, "拿铁") == ["冰拿铁", "热拿铁"]

    removed = await client.patch(
        "/api/admin/collections/goods", json={"indexes": []}, headers=admin.headers
    )
    assert removed.status_code == 200, removed.text
    await create(client, admin.headers, "goods", {"title": "冷拿铁"})  # no trigger left behind
    dropped = await client.delete("/api/admin/collections/goods", headers=admin.headers)
    assert dropped.status_code == 204, dropped.text
    await make_collection(client, admin, "goods", FIELDS, indexes=[SEARCH])
    await create(client, admin.headers, "goods", {"title": "拿铁 again"})
    assert await titles(client, admin.headers, "拿铁") == ["拿铁 again"]


async def test_a_search_index_reads_declared_string_fields_only(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for indexes, words in [
        ([{"fields": ["price"], "search": True}], "price is not a declared string field"),
        ([{"fields": ["notes"], "search": True}], "notes is not a declared string field"),
        ([SEARCH, {"fields": ["title"], "search": True}], "one search index at most"),
        ([{"fields": ["title"], "search": True, "unique": True}], "not unique"),
        ([{"fields": ["-title"], "search": True}], "no order"),
    ]:
        response = await client.post(
            "/api/admin/collections",
            headers=admin.headers,
            json={"name": "goods", "fields": FIELDS, "indexes": indexes},
        )
        body = assert_error(response, 400, "collections.invalid_definition")
        assert words in str(body["details"]), body


async def test_without_a_sort_the_most_relevant_come_first_and_page_by_cursor(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    """Relevance: a match in an earlier field of the index first (title, then body, then the
    shop's name), then a match earlier in it, then `_id`."""
    await make_collection(client, admin, "goods", FIELDS, indexes=[SEARCH])
    made = {}
    for key, title, body, shop in [
        ("shop", "tea", "no", "拿铁 corner"),
        ("late title", "iced 拿铁", "", ""),
        ("body", "espresso", "拿铁 inside", ""),
        ("early title", "拿铁", "", ""),
        ("early title too", "拿铁 big", "拿铁", ""),
        ("nothing", "water", "", ""),
    ]:
        record = {"title": title, "body": body, "shop": {"name": shop}}
        made[key] = (await create(client, admin.headers, "goods", record))["_id"]
    expected = ["early title", "early title too", "late title", "body", "shop"]
    ids = {value: key for key, value in made.items()}

    first = await list_page(
        client, admin.headers, "goods", filter='{"$search": "拿铁"}', limit="2", count="true"
    )
    assert [ids[item["_id"]] for item in first["items"]] == expected[:2]
    assert first["total"] == 5
    walked = await walk_pages(
        client, admin.headers, "goods", filter='{"$search": "拿铁"}', limit="2"
    )
    assert [ids[item["_id"]] for item in walked] == expected
    sorted_ = await list_page(
        client, admin.headers, "goods", filter='{"$search": "拿铁"}', sort="-_id", limit="100"
    )
    assert [item["_id"] for item in sorted_["items"]] == sorted(
        (made[key] for key in expected), reverse=True
    )  # a sort asked for wins over relevance
    forged = await client.get(
        records_url("goods"),
        params={"filter": '{"$search": "拿铁"}', "cursor": first["next_cursor"], "sort": "title"},
        headers=admin.headers,
    )
    assert_error(forged, 400, "records.invalid_cursor")


async def test_a_search_index_of_one_field_ranks_by_where_the_text_is(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    title_only = {"fields": ["title"], "search": True}
    await make_collection(client, admin, "goods", FIELDS, indexes=[title_only])
    for title in ("大杯拿铁", "拿铁", "冰的拿铁"):
        await create(client, admin.headers, "goods", {"title": title})
    page = await list_page(client, admin.headers, "goods", filter='{"$search": "拿铁"}')
    assert [item["title"] for item in page["items"]] == ["拿铁", "大杯拿铁", "冰的拿铁"]
