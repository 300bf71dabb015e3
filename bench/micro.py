"""Micro benchmark: where a request's time goes inside minibase, without HTTP.

    .venv/bin/python bench/micro.py [--records 10000] [--seconds 1.0]

Builds services on a temporary SQLite database with the load benchmark's `priv` collection
(same fields, indexes, owner rule, 10,000 records), then times each step a records request
takes: token verify, rule bind (+ compile to SQL), schema validate, list-query parsing, one
get-by-id / list / create through `minibase.data.records`, and raw sqlite3 for reference.
It also prints the SQL those calls issue and SQLite's plan for it, and times the list again
after `ANALYZE` (which minibase does not run) to show what planner statistics change.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataset import Dataset, new_record
from minibase_target import FIELDS, INDEXES, LIST_QUERY, PRIV_RULES

from minibase.auth.caller import Caller
from minibase.auth.users import insert_user
from minibase.config import Settings
from minibase.data.access import rule_condition
from minibase.data.definitions import create_collection
from minibase.data.listing import parse_list_query
from minibase.data.records import create_record, create_records, get_record, list_records
from minibase.services import Services, open_services
from minibase.store.database import Connection, Database, Row
from minibase.store.query import ConditionCompiler

ADMIN = Caller(kind="admin", id="bench-admin")


def report(name: str, ops: int, seconds: float) -> None:
    per_op = seconds / ops * 1e6
    print(f"  {name:<48} {per_op:>9.1f} us/op {ops / seconds:>11,.0f} ops/s")


def time_sync(name: str, work: Callable[[], object], seconds: float) -> None:
    ops, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            work()
        ops += 100
        now = time.perf_counter()
        if now >= deadline:
            break
    report(name, ops, now - started)


async def time_async(
    name: str, work: Callable[[], Awaitable[object]], seconds: float, concurrency: int = 1
) -> None:
    """`concurrency` coroutines awaiting `work` in a loop, as many requests in one worker do."""
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            await work()
            counts[i] += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    ops = sum(counts)
    report(name, ops, time.perf_counter() - started)
    # below the wall time when the process waits (on PostgreSQL, or a thread on a lock)
    print(f"  {'':<48} {(time.process_time() - cpu) / ops * 1e6:>9.1f} us/op of this process's CPU")


class RecordingDatabase:
    """Wraps the real database and keeps the SQL it is given, to show and EXPLAIN it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.dialect = db.dialect
        self.statements: list[tuple[str, Sequence[Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        self.statements.append((sql, params))
        return await self._db.fetch_one(sql, *params)

    def reader(self) -> AbstractAsyncContextManager[Connection]:
        return self._recording(self._db.reader())

    @asynccontextmanager
    async def _recording(
        self, inner: AbstractAsyncContextManager[Connection]
    ) -> AsyncIterator[Connection]:
        async with inner as conn:
            recorder = self

            class Recorded:
                dialect = conn.dialect

                def __getattr__(self, name: str) -> Any:
                    return getattr(conn, name)

                async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
                    recorder.statements.append((sql, params))
                    return await conn.fetch_all(sql, *params)

            yield Recorded()


async def prepare(
    data_dir: Path, records: int, database_url: str | None = None
) -> tuple[Services, Caller, str]:
    # a new database either way (a temporary folder, or a scratch PostgreSQL one): migrated
    settings = Settings(data_dir=data_dir, database_url=database_url)
    services = await open_services(settings, migrate_now=True)
    definition = {"name": "priv", "fields": FIELDS, "indexes": INDEXES, "rules": PRIV_RULES}
    await create_collection(services, definition)
    async with services.db.transaction() as conn:
        user = await insert_user(conn, services.clock, services.ids)
    bodies = [{**r, "_owner": user.id} for r in Dataset.generate(records).with_owners([user.id])]
    for start in range(0, len(bodies), 1000):
        await create_records(services, ADMIN, "priv", bodies[start : start + 1000])
    caller = Caller(kind="user", id=user.id)
    return services, caller, services.signer.issue(caller, 3600)


def explain(path: Path, statements: list[tuple[str, Sequence[Any]]]) -> None:
    conn = sqlite3.connect(path)
    try:
        for sql, params in statements:
            print(f"  SQL: {sql}")
            print(f"  params: {list(params)}")
            for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params):
                print(f"    plan: {row[-1]}")
    finally:
        conn.close()


async def main(records: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="minibase-micro-") as tmp:
        data_dir = Path(tmp)
        print(f"seeding {records:,} records into priv ...")
        services, caller, token = await prepare(data_dir, records)
        try:
            await run(services, caller, token, data_dir, seconds)
        finally:
            await services.close()


async def run(
    services: Services, caller: Caller, token: str, data_dir: Path, seconds: float
) -> None:
    collection = await services.collections.get("priv")
    compiler = ConditionCompiler(services.db.dialect, collection.kind_of)
    body = new_record(caller.id or "")
    query = parse_list_query(LIST_QUERY, 20, 100)
    page = await list_records(services, caller, "priv", query)
    ids = [item["_id"] for item in page["items"]]
    record_id = ids[0]

    print("pure Python steps (one core, no I/O):")
    time_sync("token verify (HS256 + claims)", lambda: services.signer.verify(token), seconds)
    time_sync(
        "rule bind: read rule for a user",
        lambda: rule_condition(caller, collection, "read"),
        seconds,
    )
    time_sync(
        "rule bind + compile to SQL",
        lambda: compiler.compile(rule_condition(caller, collection, "read")),
        seconds,
    )
    time_sync(
        "schema validate (create body)",
        lambda: collection.schema.validate(body, apply_defaults=True),
        seconds,
    )
    time_sync("list query parse", lambda: parse_list_query(LIST_QUERY, 20, 100), seconds)

    print("through minibase.data.records on SQLite (thread pool hop included):")
    for concurrency in (1, 64):
        await time_async(
            f"get_record, owner rule, {concurrency} in flight",
            lambda: get_record(services, caller, "priv", record_id),
            seconds,
            concurrency,
        )
    await time_async(
        "list_records 20, score > 500, sort -score, rule",
        lambda: list_records(services, caller, "priv", query),
        seconds,
    )
    await time_async(
        "create_record, user token", lambda: create_record(services, caller, "priv", body), seconds
    )

    print("raw sqlite3 on the same file (reference):")
    raw = sqlite3.connect(services.settings.sqlite_path)
    table = collection.table
    time_sync(
        "SELECT data WHERE _id = ? (same thread)",
        lambda: raw.execute(f"SELECT data FROM {table} WHERE _id = ?", (record_id,)).fetchone(),
        seconds,
    )
    raw.close()

    print("SQL issued (and SQLite's plan):")
    recording = RecordingDatabase(services.db)
    recorded = replace(services, db=recording)
    await get_record(recorded, caller, "priv", record_id)
    await list_records(recorded, caller, "priv", query)
    explain(services.settings.sqlite_path, recording.statements)

    # minibase does not gather planner statistics; without them SQLite prefers the equality on
    # the owner index (all 10,000 rows here) over the score index that also gives the order.
    print("the same list after ANALYZE (planner statistics), for comparison:")
    raw = sqlite3.connect(services.settings.sqlite_path)
    raw.execute("ANALYZE")
    raw.close()
    await time_async(
        "list_records after ANALYZE",
        lambda: list_records(services, caller, "priv", query),
        seconds,
    )
    recording.statements.clear()
    await list_records(recorded, caller, "priv", query)
    explain(services.settings.sqlite_path, recording.statements)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    asyncio.run(main(args.records, args.seconds))
