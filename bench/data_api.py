"""The data API's heavier reads, timed one at a time: aggregations over the whole collection,
text searches, nearby queries and expands.

    .venv/bin/python bench/data_api.py [--records 10000 --records 100000] [--requests 30]
                                       [--postgres]

Seeds an `orders` collection (a status of four, an amount, one of 1,000 buyers, a paid time
spread over 90 days, a title of three to six Chinese words of 40; indexed on status and paid_at,
a search index on the title, a shop's place around Shanghai (a geo index); 1,000 buyers the
orders reference) on a temporary SQLite database (with
--postgres, a scratch database beside MINIBASE_BENCH_POSTGRES_URL's), then calls the whole
ASGI app in process, one request at a time as an admin (every record counts), and prints each
pipeline's latency: p50, p99 and the slowest, in milliseconds. One request at a time because
each is one statement over many rows: what a dashboard waits for, not a rate.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop
from processes import scratch_postgres

from minibase.app import create_app
from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.data.records import create_records
from minibase.services import open_services

ADMIN = Caller(kind="admin", id="bench")
STATUSES = ("new", "paid", "shipped", "refunded")
ORDERS = {
    "name": "orders",
    "fields": {
        "status": {"type": "enum", "values": list(STATUSES)},
        "amount": {"type": "number"},
        "buyer": {"type": "reference", "collection": "buyers"},
        "shop": {"type": "geopoint"},
        "paid_at": {"type": "datetime"},
        "title": {"type": "string"},
    },
    "indexes": [
        {"fields": ["status"]},
        {"fields": ["paid_at"]},
        {"fields": ["title"], "search": True},
        {"fields": ["shop"], "geo": True},
        {"fields": ["buyer"]},
    ],
    "rules": {"preset": "admin_only"},
}
PIPELINES: dict[str, list[dict[str, Any]]] = {
    "group by status: $sum, $avg, count": [
        {
            "$group": {
                "_id": "$status",
                "total": {"$sum": "$amount"},
                "mean": {"$avg": "$amount"},
                "orders": {"$sum": 1},
            }
        }
    ],
    "sales by day in Asia/Shanghai": [
        {"$match": {"status": "paid"}},
        {
            "$group": {
                "_id": {
                    "$dateToString": {
                        "format": "%Y-%m-%d",
                        "date": "$paid_at",
                        "timezone": "Asia/Shanghai",
                    }
                },
                "sales": {"$sum": "$amount"},
            }
        },
        {"$sort": {"_id": 1}},
    ],
    "top 10 buyers of 1,000": [
        {"$group": {"_id": "$buyer", "spent": {"$sum": "$amount"}}},
        {"$sort": {"spent": -1}},
        {"$limit": 10},
    ],
    "one week, $match on the paid_at index, $count": [
        {"$match": {"paid_at": {"$gte": "2026-10-01", "$lt": "2026-10-08"}}},
        {"$count": "orders"},
    ],
}


WORDS = (
    "拿铁",
    "美式",
    "摩卡",
    "抹茶",
    "乌龙",
    "红茶",
    "绿茶",
    "奶茶",
    "果汁",
    "可乐",
    "蛋糕",
    "面包",
    "饼干",
    "巧克力",
    "冰淇淋",
    "三明治",
    "沙拉",
    "披萨",
    "汉堡",
    "薯条",
    "鸡翅",
    "牛排",
    "寿司",
    "拉面",
    "米饭",
    "饺子",
    "包子",
    "馒头",
    "豆浆",
    "油条",
    "咖啡",
    "冰块",
    "大杯",
    "中杯",
    "小杯",
    "热饮",
    "冷饮",
    "套餐",
    "特价",
    "新品",
)
BUYERS = {
    "name": "buyers",
    "fields": {"name": {"type": "string"}, "city": {"type": "string"}},
    "rules": {"preset": "admin_only"},
}
NEAR = '{"shop": {"$near": {"$geometry": {"type": "Point", "coordinates": [121.47, 31.23]},'
SEARCHES: dict[str, dict[str, str]] = {
    "search 2 characters (拿铁), 20 most relevant": {"filter": '{"$search": "拿铁"}'},
    "search 3 characters (巧克力), 20 most relevant": {"filter": '{"$search": "巧克力"}'},
    "search 4 characters (拿铁 美), sorted by amount": {
        "filter": '{"$search": "拿铁 美", "status": "paid"}',
        "sort": "-amount",
    },
    "$near 2 km, 20 nearest of ~0.4% within": {"filter": NEAR + ' "$maxDistance": 2000}}}'},
    "$near 10 km and paid, 20 nearest": {
        "filter": NEAR + ' "$maxDistance": 10000}}, "status": "paid"}'
    },
    "20 orders, expand=buyer (1,000 buyers)": {"expand": "buyer", "sort": "-paid_at"},
    "20 orders of a buyer, expand=buyer": {"filter": '{"buyer": "b7"}', "expand": "buyer"},
}


def _orders(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261208)
    start = time.mktime((2026, 9, 1, 0, 0, 0, 0, 0, 0))
    out = []
    for _ in range(count):
        paid = start + rng.random() * 90 * 86400
        out.append(
            {
                "status": rng.choice(STATUSES),
                "amount": round(rng.uniform(1, 500), 2),
                "buyer": f"b{rng.randrange(1000)}",
                "shop": {
                    "type": "Point",
                    "coordinates": [
                        121.47 + rng.uniform(-0.5, 0.5),
                        31.23 + rng.uniform(-0.5, 0.5),
                    ],
                },
                "paid_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(paid)),
                "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))),
            }
        )
    return out


async def measure(records: int, requests: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="minibase-data-api-") as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=database_url, aggregate_budget=60.0)
        services = await open_services(settings, migrate_now=True)
        try:
            await create_collection(services, BUYERS)
            await create_collection(services, ORDERS)
            buyers = [{"_id": f"b{n}", "name": f"buyer {n}", "city": "上海"} for n in range(1000)]
            await create_records(services, ADMIN, "buyers", buyers)
            bodies = _orders(records)
            for start in range(0, len(bodies), 1000):
                await create_records(services, ADMIN, "orders", bodies[start : start + 1000])
            token = services.signer.issue(ADMIN, 3600)
            app = create_app(settings, services=services)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
                print(f"{records:,} orders ({'PostgreSQL' if database_url else 'SQLite'}):")
                for title, pipeline in PIPELINES.items():
                    body = orjson.dumps({"pipeline": pipeline})
                    await _time(
                        title,
                        requests,
                        lambda body=body: client.post(
                            "/api/collections/orders/aggregate", content=body, headers=headers
                        ),
                    )
                for title, params in SEARCHES.items():
                    await _time(
                        title,
                        requests,
                        lambda params=params: client.get(
                            "/api/collections/orders/records", params=params, headers=headers
                        ),
                    )
        finally:
            await services.close()


async def _time(title: str, requests: int, call: Callable[[], Awaitable[httpx.Response]]) -> None:
    took: list[float] = []
    for _ in range(requests + 2):  # two unrecorded first
        began = time.perf_counter()
        response = await call()
        took.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    took = sorted(took[2:])
    p99 = took[min(len(took) - 1, round(0.99 * (len(took) - 1)))]
    print(
        f"  {title:<48} p50 {statistics.median(took):8.1f} ms   p99 {p99:8.1f} ms"
        f"   max {took[-1]:8.1f} ms   ({len(response.json()['items'])} documents)"
    )


async def main(args: argparse.Namespace) -> None:
    for records in args.records or [10_000, 100_000]:
        async with contextlib.AsyncExitStack() as stack:
            url = (
                await stack.enter_async_context(scratch_postgres("data_api"))
                if args.postgres
                else None
            )
            await measure(records, args.requests, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, action="append", help="(repeatable)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests a pipeline")
    parser.add_argument("--postgres", action="store_true", help="on a scratch PostgreSQL database")
    uvloop.run(main(parser.parse_args()))
