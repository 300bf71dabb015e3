"""What the change log's statements cost concurrent writes on PostgreSQL, without minibase.

    .venv/bin/python bench/realtime_pg_probe.py [--seconds 5] [--concurrency 10]

On a fresh database (MINIBASE_BENCH_POSTGRES_URL's server), `--concurrency` tasks (minibase's
default pool holds 10 connections) each commit one transaction after another for `--seconds`,
per variant: the record's INSERT alone (as before the change log), then with what
`minibase.data.changes.log_change` adds to it one part at a time — the change's INSERT, the
ordering lock (`pg_advisory_xact_lock`), the `pg_notify` — all three as main does (three round
trips with the lock held, then COMMIT), and the three in one statement (one round trip).
Prints transactions per second per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
from processes import scratch_postgres

DOC = '{"title": "created by the benchmark", "body": "' + "x" * 200 + '", "score": 0}'
VARIANTS = {
    "record only (before the change log)": (),
    "+ change row": ("log",),
    "+ change row + ordering lock": ("lock", "log"),
    "+ change row + NOTIFY": ("log", "notify"),
    "+ lock + change row + NOTIFY (main)": ("lock", "log", "notify"),
    "the same three in one statement": ("one",),
}
ONE_STATEMENT = (
    "WITH ordered AS (SELECT pg_advisory_xact_lock(7246190419)),"
    " told AS (SELECT pg_notify('minibase_changes', ''))"
    " INSERT INTO changes (doc) SELECT $1::jsonb FROM ordered, told"
)


async def _transaction(conn: asyncpg.Connection, parts: tuple[str, ...]) -> None:
    async with conn.transaction():
        await conn.execute("INSERT INTO records (doc) VALUES ($1::jsonb)", DOC)
        if "lock" in parts:
            await conn.execute("SELECT pg_advisory_xact_lock(7246190419)")
        if "log" in parts:
            await conn.execute("INSERT INTO changes (doc) VALUES ($1::jsonb)", DOC)
        if "notify" in parts:
            await conn.execute("SELECT pg_notify('minibase_changes', '')")
        if "one" in parts:
            await conn.execute(ONE_STATEMENT, DOC)


async def _rate(pool: asyncpg.Pool, parts: tuple[str, ...], seconds: float, tasks: int) -> float:
    done = 0
    began = time.monotonic()

    async def loop() -> None:
        nonlocal done
        while time.monotonic() - began < seconds:
            async with pool.acquire() as conn:
                await _transaction(conn, parts)
            done += 1

    await asyncio.gather(*(loop() for _ in range(tasks)))
    return done / (time.monotonic() - began)


async def main(seconds: float, tasks: int) -> None:
    async with scratch_postgres("mb_bench_pg_probe") as url:
        pool = await asyncpg.create_pool(url, min_size=tasks, max_size=tasks)
        try:
            await pool.execute(
                "CREATE TABLE records (id bigserial PRIMARY KEY, doc jsonb);"
                "CREATE TABLE changes (seq bigserial PRIMARY KEY, doc jsonb)"
            )
            for name, parts in VARIANTS.items():
                await _rate(pool, parts, 1.0, tasks)  # warm-up
                print(f"{name:<40} {await _rate(pool, parts, seconds, tasks):8,.0f} tx/s")
        finally:
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency))
