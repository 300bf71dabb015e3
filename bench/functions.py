"""Cloud function calls per second, and jobs per second through the durable queue.

    .venv/bin/python bench/functions.py [--duration 10] [--jobs 5000]

1. A trivial public function (`return input`) over HTTP: wrk -t2 -c64 against `minibase serve`
   on the embedded default.
2. Jobs per second: N jobs enqueued, then drained by the workers; on SQLite with one
   `minibase worker`, and on the local PostgreSQL with two `minibase worker` processes
   (MINIBASE_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; a fresh
   database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import asyncpg
import httpx
from loadgen import Load, run_wrk
from processes import ServerProcess, clean_environment, free_port

from minibase.config import Settings
from minibase.services import open_services

FUNCTIONS = """
from minibase.functions import function, job

@function(auth="public")
async def echo(ctx, input):
    return input

@job("noop")
async def noop(ctx, payload):
    return None
"""
KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _folder(workdir: Path) -> Path:
    folder = workdir / "functions"
    folder.mkdir(exist_ok=True)
    (folder / "bench.py").write_text(textwrap.dedent(FUNCTIONS))
    return folder


def function_calls(duration: int, connections: int) -> None:
    with tempfile.TemporaryDirectory(prefix="minibase-fn-bench-") as tmp:
        workdir = Path(tmp)
        _folder(workdir)
        port = free_port()
        env = clean_environment({"MINIBASE_MASTER_KEY": KEY})
        server = ServerProcess(
            "minibase", [_bin("minibase"), "serve", "--port", str(port)], workdir, env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            server.wait_until_healthy(url + "/api/health")
            check = httpx.post(url + "/api/functions/echo", json={"n": 1})
            if check.json() != {"result": {"n": 1}}:
                raise SystemExit(f"the function endpoint is broken: {check.text}")
            measured = run_wrk(
                Load(url=url + "/api/functions/echo", script="post_json.lua", body='{"n": 1}'),
                duration=duration,
                connections=connections,
            )
            print(
                f"function calls: {measured.rps:,.0f}/s, p50 {measured.p50:.1f} ms, "
                f"p99 {measured.p99:.1f} ms, errors {measured.errors}"
            )
        finally:
            server.stop()


async def _enqueue(settings: Settings, count: int) -> None:
    services = await open_services(settings)
    try:
        for start in range(0, count, 500):
            async with services.db.transaction() as conn:
                for i in range(start, min(start + 500, count)):
                    await services.jobs.enqueue("noop", {"i": i}, conn=conn)
    finally:
        await services.close()


async def _remaining(settings: Settings) -> int:
    services = await open_services(settings)
    try:
        value = await services.db.fetch_value(
            "SELECT COUNT(*) FROM jobs WHERE state <> 'succeeded'"
        )
        return int(value)
    finally:
        await services.close()


def jobs_per_second(
    label: str, settings: Settings, env: dict[str, str], workers: int, count: int, workdir: Path
) -> None:
    asyncio.run(_enqueue(settings, count))
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [_bin("minibase"), "worker", "--concurrency", "8"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while asyncio.run(_remaining(settings)) > 0:
            if time.perf_counter() - started > 600:
                raise SystemExit("the queue did not drain in 10 minutes")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"jobs, {label}: {count / elapsed:,.0f}/s ({count} jobs in {elapsed:.1f} s, "
        f"including worker start-up)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    function_calls(args.duration, args.connections)
    with tempfile.TemporaryDirectory(prefix="minibase-jobs-bench-") as tmp:
        workdir = Path(tmp)
        folder = _folder(workdir)
        settings = Settings(data_dir=workdir / "data", master_key=KEY, functions_dir=folder)
        env = clean_environment({"MINIBASE_MASTER_KEY": KEY})
        jobs_per_second("SQLite, 1 worker", settings, env, 1, args.jobs, workdir)
        admin_url = os.environ.get(
            "MINIBASE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
        name = f"minibase_bench_{os.getpid()}"

        async def create(sql: str) -> None:
            conn = await asyncpg.connect(admin_url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(create(f'CREATE DATABASE "{name}"'))
        try:
            url = admin_url.rsplit("/", 1)[0] + "/" + name
            pg = settings.replace(database_url=url, auto_migrate=True)
            jobs_per_second(
                "PostgreSQL, 2 workers",
                pg,
                {**env, "MINIBASE_DATABASE_URL": url},
                2,
                args.jobs,
                workdir,
            )
        finally:
            asyncio.run(create(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
