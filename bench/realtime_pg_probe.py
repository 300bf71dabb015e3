"""What the change log's statements cost concurrent writes on PostgreSQL, without minibase.

    .venv/bin/python bench/realtime_pg_probe.py [--seconds 3] [--concurrency 10] [--rounds 3]

On a fresh database (MINIBASE_BENCH_POSTGRES_URL's server), `--concurrency` tasks (minibase's
default pool holds 10 connections) each commit one transaction after another for `--seconds`,
per variant, the variants taking turns for `--rounds` rounds: the record's INSERT alone (as
before the change log), then with what `minibase.data.changes.log_change` adds to it one part
at a time — the change's INSERT, the ordering lock (`pg_advisory_xact_lock`), the `pg_notify`
— all three as main does (three round trips with the lock held, then COMMIT), and the three in
one statement (one round trip). Prints transactions per second per variant: the median, and
each round's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
from processes import scratch_postgres

DOC = '{"title": "created by the benchmark", "body": "' + "x" * 200 + '", "score": 0}'
VARIANTS = {
    "record only (before the change log)": (),
    "+ change row": ("log",),
    "+ change row + ordering lock": ("lock", "log"),
    "+ change row + NOTIFY": ("log", "notify"),
    "+ lock + change row + NOTIFY, 3 round trips (main)": ("lock", "log", "notify"),
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


async def main(seconds: float, tasks: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    async with scratch_postgres("mb_bench_pg_probe") as url:
        pool = await asyncpg.create_pool(url, min_size=tasks, max_size=tasks)
        try:
            await pool.execute(
                "CREATE TABLE records (id bigserial PRIMARY KEY, doc jsonb);"
                "CREATE TABLE changes (seq bigserial PRIMARY KEY, doc jsonb)"
            )
            for _ in range(rounds):  # the variants take turns: the disk's moods hit them all
                for name, parts in VARIANTS.items():
                    await _rate(pool, parts, 1.0, tasks)  # warm-up
                    rates[name].append(await _rate(pool, parts, seconds, tasks))
        finally:
            await pool.close()
    for name, measured in rates.items():
        each = " ".join(f"{rate:,.0f}" for rate in measured)
        print(f"{name:<52} median {statistics.median(measured):6,.0f} tx/s  ({each})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per variant and round (3)")
    parser.add_argument("--concurrency", type=int, default=10, help="connections (10)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every variant (3)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.rounds))
