"""Access-token lookups per second, in one process, against a standalone sandbox on loopback.

    .venv/bin/python bench/tokens.py [--seconds 3]

- hot: `AccessTokens.get` with the token fresh in this process (the path every platform call
  takes): no network call, no query.
- shared: the process's copy is gone (a new worker, or another instance's refresh), so the
  token is read from the shared store: the database (SQLite; PostgreSQL with
  MINIBASE_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test) or Redis
  (redis://127.0.0.1:6379/0).
The sandbox's call counter shows how many fetches reached the platform (one per store).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from processes import scratch_postgres, standalone_sandbox

from minibase.auth.apps import check_app, save_app
from minibase.config import Settings
from minibase.messaging.access_tokens import AccessTokens
from minibase.messaging.token_store import DatabaseTokenStore, RedisTokenStore, TokenStore
from minibase.services import Services, open_services

REDIS = "redis://127.0.0.1:6379/0"


async def _rate(seconds: float, work: Callable[[], Awaitable[object]]) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            await work()
        done += 100
    return done / elapsed


async def _measure(services: Services, store: TokenStore, sandbox: str, seconds: float) -> str:
    async with services.db.transaction() as conn:
        values = check_app({"platform": "wechat", "appid": "wx-bench", "secret": "bench-secret"})
        await save_app(conn, services.apps, services.clock, services.ids, values)
    await services.apps.load()
    app = await services.apps.get("wechat", "wx-bench")
    tokens = AccessTokens(services.platforms, services.clock, store)
    await tokens.get(app)
    hot = await _rate(seconds, lambda: tokens.get(app))

    async def cold() -> str:
        tokens._cache.clear()  # what a new process starts with
        return await tokens.get(app)

    shared = await _rate(seconds, cold)
    async with httpx.AsyncClient() as http:
        calls = (await http.get(f"{sandbox}/control/calls")).json()["wechat"]
    fetches = calls.get("/cgi-bin/stable_token", 0)
    return f"hot {hot:,.0f}/s, shared store {shared:,.0f}/s, platform fetches {fetches}"


async def _with_services(settings: Settings, sandbox: str, kind: str, seconds: float) -> str:
    services = await open_services(settings)
    try:
        if kind == "redis":
            store: TokenStore = RedisTokenStore(
                REDIS, services.vault, services.clock, prefix=f"bench-{secrets.token_hex(4)}"
            )
        else:
            store = DatabaseTokenStore(services.db, services.vault, services.clock)
        async with httpx.AsyncClient() as http:
            await http.post(f"{sandbox}/control/reset")
            await http.post(
                f"{sandbox}/control/apps",
                json={"platform": "wechat", "appid": "wx-bench", "secret": "bench-secret"},
            )
        result = await _measure(services, store, sandbox, seconds)
        await store.close()
        return result
    finally:
        await services.close()


async def _run(sandbox: str, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Settings(
            data_dir=Path(folder),
            master_key=base64.b64encode(os.urandom(32)).decode(),
            auto_migrate=True,
            sandbox_url=sandbox,
        )
        print("SQLite:", await _with_services(base, sandbox, "database", seconds))
        async with scratch_postgres("mb_bench_tokens") as url:
            pg = base.replace(database_url=url, data_dir=Path(folder) / "pg")
            print("PostgreSQL:", await _with_services(pg, sandbox, "database", seconds))
        redis_base = base.replace(data_dir=Path(folder) / "redis")
        print("Redis:", await _with_services(redis_base, sandbox, "redis", seconds))


def main(seconds: float) -> None:
    with standalone_sandbox() as sandbox:
        asyncio.run(_run(sandbox, seconds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    main(parser.parse_args().seconds)
