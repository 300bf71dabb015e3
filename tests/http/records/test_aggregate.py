"""Aggregations: `POST /api/collections/{name}/aggregate` with a pipeline in MongoDB's form,
through the list rule of every collection it reads, bounded in time and size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import ANONYMOUS, assert_error, create, make_collection


def aggregate_url(collection: str) -> str:
    return f"/api/collections/{collection}/aggregate"


async def aggregate(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, pipeline: list[Any]
) -> list[dict[str, Any]]:
    response = await client.post(
        aggregate_url(collection), headers=headers, json={"pipeline": pipeline}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


ORDER_FIELDS = {
    "status": {"type": "enum", "values": ["new", "paid", "refunded"]},
    "amount": {"type": "number"},
    "buyer": {"type": "reference", "collection": "buyers"},
    "paid_at": {"type": "datetime"},
    "items": {"type": "array", "items": {"type": "object"}},
}


async def test_totals_by_status_count_only_what_each_caller_may_list(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS, rules={"preset": "owner_only"})
    alice, bob = await make_user(), await make_user()
    for status, amount in [("paid", 10), ("paid", 5.5), ("new", 3)]:
        await create(client, alice.headers, "orders", {"status": status, "amount": amount})
    await create(client, bob.headers, "orders", {"status": "paid", "amount": 100})
    by_status = [
        {"$group": {"_id": "$status", "total": {"$sum": "$amount"}, "orders": {"$sum": 1}}},
        {"$sort": {"total": -1}},
    ]

    assert await aggregate(client, alice.headers, "orders", by_status) == [
        {"_id": "paid", "total": 15.5, "orders": 2},
        {"_id": "new", "total": 3, "orders": 1},
    ]
    assert await aggregate(client, bob.headers, "orders", by_status) == [
        {"_id": "paid", "total": 100, "orders": 1}
    ]
    assert await aggregate(client, ANONYMOUS, "orders", by_status) == []
    everything = await aggregate(client, admin.headers, "orders", by_status)
    assert [(d["_id"], d["total"]) for d in everything] == [("paid", 115.5), ("new", 3)]
    counted = [{"$match": {"amount": {"$gt": 4}}}, {"$count": "big"}]
    assert await aggregate(client, alice.headers, "orders", counted) == [{"big": 2}]


async def test_a_lookup_brings_in_only_the_records_its_collection_lets_the_caller_list(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(
        client,
        admin,
        "buyers",
        {"name": {"type": "string"}, "listed": {"type": "boolean"}},
        rules={"preset": "public_read_admin_write", "list": "doc.listed == true"},
    )
    await make_collection(client, admin, "orders", ORDER_FIELDS)
    await make_collection(client, admin, "secrets", {}, rules={"preset": "admin_only"})
    shown = await create(client, admin.headers, "buyers", {"name": "Ann", "listed": True})
    hidden = await create(client, admin.headers, "buyers", {"name": "Hal", "listed": False})
    user = await make_user()
    await create(client, user.headers, "orders", {"amount": 1, "buyer": shown["_id"]})
    await create(client, user.headers, "orders", {"amount": 2, "buyer": hidden["_id"]})
    pipeline = [
        {"$sort": {"amount": 1}},
        {"$lookup": {"from": "buyers", "localField": "buyer", "foreignField": "_id", "as": "by"}},
        {"$project": {"_id": 0, "amount": 1, "by": 1}},
    ]

    assert await aggregate(client, user.headers, "orders", pipeline) == [
        {"amount": 1, "by": [shown]},
        {"amount": 2, "by": []},  # the hidden buyer is simply absent
    ]
    as_admin = await aggregate(client, admin.headers, "orders", pipeline)
    assert [d["by"] for d in as_admin] == [[shown], [hidden]]
    into_secrets = [
        {"$lookup": {"from": "secrets", "localField": "buyer", "foreignField": "_id", "as": "s"}}
    ]
    refused = await client.post(
        aggregate_url("orders"), headers=user.headers, json={"pipeline": into_secrets}
    )
    assert_error(refused, 403, "auth.forbidden")
    into_nothing = [
        {"$lookup": {"from": "nothing", "localField": "buyer", "foreignField": "_id", "as": "s"}}
    ]
    missing = await client.post(
        aggregate_url("orders"), headers=user.headers, json={"pipeline": into_nothing}
    )
    assert_error(missing, 404, "collections.not_found")


async def test_days_are_counted_in_the_time_zone_asked_for(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS)
    for paid_at, amount in [
        ("2026-12-07T15:00:00Z", 1),  # 23:00 in Shanghai
        ("2026-12-07T17:30:00+00:00", 2),  # 01:30 on the 8th in Shanghai
        ("2026-12-08T09:00:00+08:00", 4),  # the 8th, written in Shanghai's time
    ]:
        await create(client, admin.headers, "orders", {"paid_at": paid_at, "amount": amount})

    def by_day(zone: str) -> list[dict[str, Any]]:
        day = {"$dateToString": {"format": "%Y-%m-%d", "date": "$paid_at", "timezone": zone}}
        return [
            {"$group": {"_id": day, "sales": {"$sum": "$amount"}}},
            {"$sort": {"_id": 1}},
        ]

    assert await aggregate(client, admin.headers, "orders", by_day("Asia/Shanghai")) == [
        {"_id": "2026-12-07", "sales": 1},
        {"_id": "2026-12-08", "sales": 6},
    ]
    assert await aggregate(client, admin.headers, "orders", by_day("UTC")) == [
        {"_id": "2026-12-07", "sales": 3},
        {"_id": "2026-12-08", "sales": 4},
    ]
    assert await aggregate(client, admin.headers, "orders", by_day("-10:00")) == [
        {"_id": "2026-12-07", "sales": 7},
    ]


async def test_unwind_and_push_list_an_orders_lines(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS)
    lines = [{"sku": "tea", "qty": 2}, {"sku": "cup", "qty": 1}]
    await create(client, admin.headers, "orders", {"items": lines, "status": "paid"})
    await create(client, admin.headers, "orders", {"items": [], "status": "new"})
    pipeline = [
        {"$unwind": {"path": "$items", "includeArrayIndex": "line"}},
        {
            "$group": {
                "_id": "$status",
                "skus": {"$push": "$items.sku"},
                "qty": {"$sum": "$items.qty"},
            }
        },
    ]
    assert await aggregate(client, admin.headers, "orders", pipeline) == [
        {"_id": "paid", "skus": ["tea", "cup"], "qty": 3}
    ]


async def test_a_pipeline_that_cannot_run_is_refused_saying_where(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS, additional=False)
    cases: list[tuple[Any, str, str]] = [
        ([], "pipeline", "non-empty list"),
        ([{"$grup": {"_id": None}}], "pipeline.0.$grup", "unknown stage"),
        ([{"group": {"_id": None}}], "pipeline.0.group", "did you mean $group"),
        ([{"$group": {"total": {"$sum": 1}}}], "pipeline.0.$group", "needs an _id"),
        (
            [{"$group": {"_id": None, "t": {"$total": 1}}}],
            "pipeline.0.$group.t.$total",
            "unknown accumulator",
        ),
        ([{"$match": {"amount": {"gt": 1}}}], "pipeline.0.$match.amount", "did you mean $gt"),
        ([{"$match": {"amont": 1}}], "pipeline.0", "did you mean 'amount'"),
        ([{"$sort": {"amount": 2}}], "pipeline.0.$sort.amount", "sort 1"),
        ([{"$limit": 0}], "pipeline.0.$limit", "whole number"),
        ([{"$project": {"amount": 1, "status": 0}}], "pipeline.0.$project", "either keeps"),
        (
            [{"$group": {"_id": {"$dateToString": {"date": "$status", "format": "%Y"}}}}],
            "pipeline.0.$group._id.$dateToString",
            "status is not one",
        ),
        (
            [{"$group": {"_id": {"$dateToString": {"date": "$paid_at", "timezone": "Mars/Base"}}}}],
            "pipeline.0.$group._id.$dateToString",
            "timezone",
        ),
        (
            [
                {"$group": {"_id": "$status"}},
                {"$group": {"_id": {"$dateToString": {"date": "$_id"}}}},
            ],
            "pipeline.1.$group._id.$dateToString",
            "before stages that reshape",
        ),
        ([{"$unwind": "items"}], "pipeline.0.$unwind", "field reference"),
        (
            [{"$lookup": {"from": "buyers", "localField": "buyer"}}],
            "pipeline.0.$lookup",
            "takes from",
        ),
    ]
    for pipeline, at, words in cases:
        response = await client.post(
            aggregate_url("orders"), headers=admin.headers, json={"pipeline": pipeline}
        )
        body = assert_error(response, 400, "aggregate.invalid_pipeline")
        assert body["details"]["at"] == at, (pipeline, body)
        assert words in body["message"], (pipeline, body)
    no_pipeline = await client.post(aggregate_url("orders"), headers=admin.headers, json={})
    assert_error(no_pipeline, 400, "aggregate.invalid_pipeline")
    unknown = await client.post(
        aggregate_url("nothing"), headers=admin.headers, json={"pipeline": [{"$count": "n"}]}
    )
    assert_error(unknown, 404, "collections.not_found")


async def test_an_answer_too_large_or_too_slow_is_refused(
    client: httpx.AsyncClient,
    admin: Actor,
    client_with: Callable[..., httpx.AsyncClient],
) -> None:
    await make_collection(client, admin, "rows", {"k": {"type": "integer"}})
    body = {"records": [{"k": 1, "text": "x" * 100} for _ in range(300)]}
    created = await client.post(
        "/api/collections/rows/records/bulk-create", headers=admin.headers, json=body
    )
    assert created.status_code == 201, created.text
    small = client_with(aggregate_max_results=50, aggregate_max_bytes=5000)
    many = await small.post(
        aggregate_url("rows"), headers=admin.headers, json={"pipeline": [{"$limit": 51}]}
    )
    assert assert_error(many, 400, "aggregate.too_large")["details"] == {"max_results": 50}
    heavy = await small.post(
        aggregate_url("rows"), headers=admin.headers, json={"pipeline": [{"$limit": 30}]}
    )
    assert assert_error(heavy, 400, "aggregate.too_large")["details"] == {"max_bytes": 5000}
    assert len(await aggregate(small, admin.headers, "rows", [{"$limit": 10}])) == 10

    # every row joined with every row: 90,000 documents made, far past 10 ms
    cross = [
        {"$lookup": {"from": "rows", "localField": "k", "foreignField": "k", "as": "all"}},
        {"$unwind": "$all"},
        {"$count": "n"},
    ]
    hurried = client_with(aggregate_budget=0.01)
    slow = await hurried.post(
        aggregate_url("rows"), headers=admin.headers, json={"pipeline": cross}
    )
    assert assert_error(slow, 400, "aggregate.too_slow")["details"] == {"budget_ms": 10}
    patient = client_with(aggregate_budget=30.0)
    assert await aggregate(patient, admin.headers, "rows", cross) == [{"n": 90_000}]


async def test_a_sum_past_64_bit_integers_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "big", {"n": {"type": "integer"}})
    for _ in range(3):
        await create(client, admin.headers, "big", {"n": 2**63 - 1})
    response = await client.post(
        aggregate_url("big"),
        headers=admin.headers,
        json={"pipeline": [{"$group": {"_id": None, "s": {"$sum": "$n"}}}]},
    )
    assert_error(response, 400, "aggregate.out_of_range")
    within = [{"$limit": 1}, {"$group": {"_id": None, "s": {"$sum": "$n"}}}]
    assert await aggregate(client, admin.headers, "big", within) == [{"_id": None, "s": 2**63 - 1}]


async def test_numbers_come_back_as_python_writes_them_and_times_to_the_millisecond(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS)
    for amount in (1, 1, 2):
        await create(
            client,
            admin.headers,
            "orders",
            {"amount": amount / 10, "paid_at": "2026-12-07T15:00:00.1239Z", "status": "new"},
        )
    pipeline = [
        {
            "$group": {
                "_id": {"$dateToString": {"date": "$paid_at", "timezone": "+08:00"}},
                "third": {"$avg": {"$divide": ["$amount", 3]}},
            }
        }
    ]
    assert await aggregate(client, admin.headers, "orders", pipeline) == [
        {
            "_id": "2026-12-07T23:00:00.123Z",  # MongoDB's default format, in the zone asked
            "third": (0.1 / 3 + 0.1 / 3 + 0.2 / 3) / 3,  # every digit of the double
        }
    ]
    kept = [{"$limit": 1}, {"$project": {"_id": 0, "status": 5}}]
    assert await aggregate(client, admin.headers, "orders", kept) == [{"status": "new"}]


async def test_the_longest_pipeline_and_the_deepest_expression_run_on_both_engines(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(client, admin, "buyers", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", ORDER_FIELDS)
    await create(client, admin.headers, "orders", {"amount": 2, "status": "paid"})
    deep: Any = "$amount"
    for _ in range(4):  # expressions nest at most 8 levels: 4 of $add and $multiply
        deep = {"$add": [1, {"$multiply": [deep, 1]}]}
    pipeline = [
        *({"$project": {"amount": 1, "status": 1, "_id": 0}} for _ in range(8)),
        *({"$group": {"_id": "$status", "amount": {"$max": "$amount"}}} for _ in range(1)),
        *({"$project": {"_id": 1, "amount": 1}} for _ in range(8)),
        {"$project": {"_id": 0, "deep": deep}},
        {"$unwind": {"path": "$nothing", "preserveNullAndEmptyArrays": True}},
    ]
    assert len(pipeline) == 19
    assert await aggregate(client, admin.headers, "orders", [*pipeline, {"$count": "n"}]) == [
        {"n": 1}
    ]
    assert await aggregate(client, admin.headers, "orders", pipeline) == [{"deep": 6}]
