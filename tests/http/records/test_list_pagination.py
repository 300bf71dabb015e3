"""Listing: sort, projection, limits, totals and cursor pagination that stays stable."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from minibase.testing.plugin import Actor

from .conftest import assert_error, list_page, make_collection, records_url, walk_pages

WORDS = ["kiwi", "lime", "fig", "pear", "plum"]


async def _bulk(
    client: httpx.AsyncClient, admin: Actor, collection: str, bodies: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    response = await client.post(
        records_url(collection, "/bulk-create"), headers=admin.headers, json={"records": bodies}
    )
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["_id"] for item in items]


async def test_the_page_size_is_20_by_default_and_at_most_100(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts")
    await _bulk(client, admin, "posts", [{"n": n} for n in range(101)])

    default = await list_page(client, admin.headers, "posts")
    largest = await list_page(client, admin.headers, "posts", limit="100")
    one = await list_page(client, admin.headers, "posts", limit="1")

    assert len(default["items"]) == 20
    assert default["next_cursor"]
    assert len(largest["items"]) == 100
    assert len(one["items"]) == 1
    for limit in ("101", "0", "-1", "abc", "1.5", "\xb2", "\uff11", "9" * 5000):
        response = await client.get(records_url("posts"), params={"limit": limit})
        assert_error(response, 400, "request.invalid_query")


async def test_walking_every_page_returns_each_record_once_in_sort_order_despite_ties(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    records = await _bulk(
        client,
        admin,
        "posts",
        [{"score": n % 4, "title": WORDS[n % 5], "n": n} for n in range(45)],
    )

    by_score_then_title = await walk_pages(
        client, admin.headers, "posts", sort="-score,title", limit="7"
    )
    by_title_descending = await walk_pages(client, admin.headers, "posts", sort="-title", limit="4")
    by_id_first = await walk_pages(client, admin.headers, "posts", sort="_id,score", limit="10")

    expected = sorted(records, key=lambda r: (-r["score"], r["title"], r["_id"]))
    assert _ids(by_score_then_title) == _ids(expected)
    by_title = sorted(records, key=lambda r: (r["title"], r["_id"]), reverse=True)
    assert _ids(by_title_descending) == _ids(by_title)
    assert _ids(by_id_first) == sorted(_ids(records))


async def test_null_and_missing_values_sort_first_ascending_last_descending_and_page_fully(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"rank": {"type": "number"}})
    bodies: list[dict[str, Any]] = [{"rank": [3, 1.5, 2, None][n % 4]} for n in range(14)]
    bodies += [{"other": n} for n in range(5)]  # rank missing altogether
    records = await _bulk(client, admin, "posts", bodies)
    unranked = {r["_id"] for r in records if r.get("rank") is None}

    for sort, limit in (("rank", "3"), ("-rank", "3"), ("rank", "1"), ("-rank,_id", "4")):
        walked = await walk_pages(client, admin.headers, "posts", sort=sort, limit=limit)
        single = await list_page(client, admin.headers, "posts", sort=sort, limit="100")

        assert _ids(walked) == _ids(single["items"]), sort
        assert sorted(_ids(walked)) == sorted(_ids(records))
        ranked = [item["rank"] for item in walked if item["_id"] not in unranked]
        assert ranked == sorted(ranked, reverse=sort.startswith("-"))
        nulls_at = [i for i, item in enumerate(walked) if item["_id"] in unranked]
        first = 0 if sort.startswith("rank") else len(records) - len(unranked)
        assert nulls_at == list(range(first, first + len(unranked))), sort


async def test_records_added_or_removed_between_pages_do_not_disturb_the_others(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    records = await _bulk(client, admin, "posts", [{"score": n * 10} for n in range(30)])
    by_score = {r["score"]: r["_id"] for r in records}
    added: list[str] = []

    async def meddle(page_number: int) -> None:
        if page_number != 1:
            return
        # after 10 records (scores 0..90) were served:
        for score in (50, 250):  # one already seen, one still ahead
            url = records_url("posts", f"/{by_score[score]}")
            assert (await client.delete(url, headers=admin.headers)).status_code == 204
        for score in (55, 255):  # one behind the cursor, one ahead of it
            new = await _bulk(client, admin, "posts", [{"score": score}])
            added.append(new[0]["_id"])

    walked = await walk_pages(
        client, admin.headers, "posts", between_pages=meddle, sort="score", limit="5"
    )

    scores = [item["score"] for item in walked]
    assert len(set(_ids(walked))) == len(walked)
    assert scores == sorted(scores)
    assert 250 not in scores
    assert 55 not in scores  # inserted behind the cursor: not shown, and nothing repeats
    assert 255 in scores
    assert 50 in scores  # served before it was deleted
    assert set(scores) == {n * 10 for n in range(30)} - {250} | {255}


async def test_a_cursor_only_works_with_the_sort_it_came_from(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    await _bulk(client, admin, "posts", [{"score": n, "title": f"t{n}"} for n in range(10)])
    page = await list_page(client, admin.headers, "posts", sort="-score", limit="3")
    cursor = page["next_cursor"]

    for sort in ("score", "-title", "", "-score,title"):
        response = await client.get(
            records_url("posts"), params={"sort": sort, "cursor": cursor, "limit": "3"}
        )
        assert_error(response, 400, "records.invalid_cursor")
    same = await list_page(client, admin.headers, "posts", sort="-score", cursor=cursor, limit="3")
    assert [item["score"] for item in same["items"]] == [6, 5, 4]


async def test_a_garbled_or_forged_cursor_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    await _bulk(client, admin, "posts", [{"score": n} for n in range(5)])
    page = await list_page(client, admin.headers, "posts", sort="-score", limit="2")
    payload = orjson.loads(base64.urlsafe_b64decode(page["next_cursor"] + "=="))

    def forged(*values: Any) -> str:
        raw = orjson.dumps({"k": payload["k"], "v": list(values)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    garbled = ["garbage", "!!!", "é", "e30", "W10", "bnVsbA", page["next_cursor"][:-3]]
    forgeries = [
        forged(3),
        forged(3, None),
        forged(3, 5),
        forged("3", ["x"]),
        forged(2**63, "x"),
        forged("\u0000", "x"),
        forged(True, "x"),
        forged({"a": 1}, "x"),
    ]
    for cursor in garbled + forgeries:
        response = await client.get(
            records_url("posts"), params={"sort": "-score", "cursor": cursor, "limit": "2"}
        )
        assert_error(response, 400, "records.invalid_cursor")
    # Values that only PostgreSQL's cursors (JSON text) cannot hold: harmless, never a 500.
    for cursor in (forged('"\\u0000"', "x"), forged("{not json", "x")):
        response = await client.get(
            records_url("posts"), params={"sort": "-score", "cursor": cursor}
        )
        assert response.status_code in (200, 400), response.text
    system = await list_page(client, admin.headers, "posts", sort="-_version", limit="2")
    raw = orjson.loads(base64.urlsafe_b64decode(system["next_cursor"] + "=="))
    for values in ([1.5, "x"], [2**40, "x"], ["1", "x"], [1, 5]):
        bad = base64.urlsafe_b64encode(orjson.dumps({"k": raw["k"], "v": values})).decode()
        response = await client.get(
            records_url("posts"), params={"sort": "-_version", "cursor": bad, "limit": "2"}
        )
        assert_error(response, 400, "records.invalid_cursor")


async def test_count_gives_the_total_of_all_pages(client: httpx.AsyncClient, admin: Actor) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    await _bulk(client, admin, "posts", [{"score": n} for n in range(25)])
    where = '{"score": {"$gte": 5}}'

    first = await list_page(client, admin.headers, "posts", filter=where, count="true", limit="6")
    later = await list_page(
        client, admin.headers, "posts", filter=where, count="1", cursor=first["next_cursor"]
    )
    uncounted = await list_page(client, admin.headers, "posts", filter=where)

    assert first["total"] == later["total"] == 20
    assert "total" not in uncounted
    response = await client.get(records_url("posts"), params={"count": "maybe"})
    assert_error(response, 400, "request.invalid_query")


async def test_sort_and_fields_are_checked_and_fields_project_every_page(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "posts", {"score": {"type": "integer"}})
    await _bulk(client, admin, "posts", [{"score": n, "title": f"t{n}", "x": 1} for n in range(9)])

    walked = await walk_pages(
        client, admin.headers, "posts", sort="-score", fields="title,score", limit="4"
    )

    assert [item["score"] for item in walked] == list(range(8, -1, -1))
    assert all(set(item) == {"_id", "title", "score"} for item in walked)
    for sort in (",", "a..b", "score,score", "-score,-x", "a,b,c,d,e", "_secret", "-", "a b"):
        if sort == "-score,-x":
            continue  # two distinct keys are fine
        response = await client.get(records_url("posts"), params={"sort": sort})
        assert_error(response, 400, "records.invalid_sort")
    response = await client.get(records_url("posts"), params={"fields": "a..b"})
    assert_error(response, 400, "request.invalid_query")
