"""Declared indexes serve the list queries they were declared for: the database plans an
index scan (no sort step) for the same SQL that `GET .../records` runs."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.auth.caller import ANONYMOUS
from minibase.data.access import rule_condition
from minibase.data.listing import order_by, parse_list_query, sort_keys
from minibase.rules.conditions import all_of
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.query import ConditionCompiler
from minibase.testing.plugin import Actor


def list_statement(
    services: Services, collection: Collection, params: dict[str, str]
) -> tuple[str, list[Any]]:
    """The page query of `data.records.list_records`, built from the same public pieces."""
    dialect = services.db.dialect
    query = parse_list_query(params, 20, 100)
    condition = all_of(query.filter.condition, rule_condition(ANONYMOUS, collection, "list"))
    compiled = ConditionCompiler(dialect, collection.kind_of).compile(condition)
    keys = sort_keys(query)
    columns = ", ".join(dialect.field(path) for path, _ in keys)
    sql = (
        f"SELECT data, {columns} FROM {collection.table} WHERE {compiled.sql}"
        f" ORDER BY {order_by(dialect, keys)} LIMIT ?"
    )
    return sql, [*compiled.params, query.limit + 1]


async def query_plan(services: Services, sql: str, params: list[Any]) -> str:
    if services.db.dialect.name == "sqlite":
        rows = await services.db.fetch_all(f"EXPLAIN QUERY PLAN {sql}", *params)
        return "\n".join(str(row[3]) for row in rows)
    async with services.db.transaction() as conn:
        # A few rows fit in one page, where scanning and sorting them is cheaper than any
        # index: rule that out, so the plan shows whether the index matches the query at all.
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        rows = await conn.fetch_all(f"EXPLAIN {sql}", *params)
    return "\n".join(str(row[0]) for row in rows)


def assert_index_scan_without_sort(services: Services, plan: str, index: str) -> None:
    assert index in plan, plan
    if services.db.dialect.name == "sqlite":
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        assert "Sort" not in plan, plan


async def test_a_declared_index_serves_a_filtered_sorted_list(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    response = await client.post(
        "/api/admin/collections",
        json={
            "name": "scores",
            "fields": {"player": {"type": "string"}, "score": {"type": "integer"}},
            "indexes": [{"fields": ["-score"]}, {"fields": ["player", "-score"]}],
            "rules": {"preset": "public_read_admin_write"},
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    records = [{"player": p, "score": s} for p, s in [("a", 3), ("b", 9), ("a", 7), ("b", 6)]]
    await client.post(
        "/api/collections/scores/records/bulk-create",
        json={"records": records},
        headers=admin.headers,
    )
    collection = await services.collections.get("scores")
    by_score, by_player = (collection.index_name(index).strip('"') for index in collection.indexes)

    params = {"filter": '{"score": {"$gt": 5}}', "sort": "-score"}
    listed = await client.get("/api/collections/scores/records", params=params)
    assert [r["score"] for r in listed.json()["items"]] == [9, 7, 6]
    plan = await query_plan(services, *list_statement(services, collection, params))
    assert_index_scan_without_sort(services, plan, by_score)

    params = {"filter": '{"player": "a"}', "sort": "-score"}
    listed = await client.get("/api/collections/scores/records", params=params)
    assert [r["score"] for r in listed.json()["items"]] == [7, 3]
    plan = await query_plan(services, *list_statement(services, collection, params))
    assert_index_scan_without_sort(services, plan, by_player)
