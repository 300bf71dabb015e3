"""Cloud function calls per second, and jobs per second through the durable queue.

    .venv/bin/python bench/functions.py [--duration 10] [--jobs 5000]

1. A trivial public function (`return input`) over HTTP: wrk -t2 -c64 against `minibase serve`
   on the embedded default, then the same against a PocketBase JS route (pb_hooks), one at a
   time on the same cores.
2. Jobs per second: N jobs enqueued, then drained by the workers; on SQLite with one
   `minibase worker`, and on the local PostgreSQL with two `minibase worker` processes
   (MINIBASE_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; a fresh
   database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import asyncpg
import httpx
from loadgen import Load, run_wrk
from pocketbase_target import pocketbase_binary
from processes import ServerProcess, clean_environment, free_port

from minibase.clock import parse_iso
from minibase.config import Settings
from minibase.services import Services, open_services

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


PB_ECHO = """
routerAdd("POST", "/api/echo", function (e) {
    return e.json(200, { result: e.requestInfo().body });
});
"""


def _measure_echo(name: str, url: str, duration: int, connections: int) -> None:
    check = httpx.post(url, json={"n": 1})
    if check.json() != {"result": {"n": 1}}:
        raise SystemExit(f"{name}'s echo endpoint is broken: {check.text}")
    measured = run_wrk(
        Load(url=url, script="post_json.lua", body='{"n": 1}'),
        duration=duration,
        connections=connections,
    )
    print(
        f"function calls, {name}: {measured.rps:,.0f}/s, p50 {measured.p50:.1f} ms, "
        f"p99 {measured.p99:.1f} ms, errors {measured.errors}"
    )


def function_calls(duration: int, connections: int) -> None:
    """minibase's `@function` echo, then PocketBase's JS route doing the same, one at a time."""
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
            _measure_echo("minibase", url + "/api/functions/echo", duration, connections)
        finally:
            server.stop()

        hooks = workdir / "pb_hooks"
        hooks.mkdir()
        (hooks / "echo.pb.js").write_text(PB_ECHO)
        port = free_port()
        command = [
            pocketbase_binary(),
            "serve",
            "--http",
            f"127.0.0.1:{port}",
            "--dir",
            str(workdir / "pb_data"),
            "--hooksDir",
            str(hooks),
        ]
        server = ServerProcess("pocketbase", command, workdir, clean_environment())
        url = f"http://127.0.0.1:{port}"
        try:
            server.wait_until_healthy(url + "/api/health")
            _measure_echo("PocketBase (pb_hooks route)", url + "/api/echo", duration, connections)
        finally:
            server.stop()


async def _enqueue(services: Services, count: int) -> None:
    for start in range(0, count, 500):
        async with services.db.transaction() as conn:
            for i in range(start, min(start + 500, count)):
                await services.jobs.enqueue("noop", {"i": i}, conn=conn)


async def _drain(services: Services, processes: int, env: dict[str, str], cwd: Path) -> float:
    """Start the workers, wait until no job is left; the wall time, start-up included."""
    started = time.perf_counter()
    workers = [
        await asyncio.create_subprocess_exec(
            _bin("minibase"),
            "worker",
            "--concurrency",
            "8",
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    try:
        left = "SELECT COUNT(*) FROM jobs WHERE state <> 'succeeded'"
        while await services.db.fetch_value(left) > 0:
            if time.perf_counter() - started > 600:
                raise SystemExit("the queue did not drain in 10 minutes")
            await asyncio.sleep(0.2)
        return time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 30)


async def _jobs(
    label: str, settings: Settings, env: dict[str, str], processes: int, count: int, cwd: Path
) -> None:
    services = await open_services(settings)
    try:
        await _enqueue(services, count)
        wall = await _drain(services, processes, env, cwd)
        first, last = await services.db.fetch_one(
            "SELECT MIN(finished_at), MAX(finished_at) FROM jobs"
        ) or (None, None)
    finally:
        await services.close()
    steady = (parse_iso(last) - parse_iso(first)).total_seconds()
    print(
        f"jobs, {label}: {count / steady:,.0f}/s between the first and the last completion; "
        f"{count / wall:,.0f}/s with the workers' start-up ({count} jobs in {wall:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--only", choices=["calls", "jobs"], help="one half only")
    args = parser.parse_args()
    if args.only != "jobs":
        function_calls(args.duration, args.connections)
    if args.only == "calls":
        return
    with tempfile.TemporaryDirectory(prefix="minibase-jobs-bench-") as tmp:
        workdir = Path(tmp)
        folder = _folder(workdir)
        settings = Settings(data_dir=workdir / "data", master_key=KEY, functions_dir=folder)
        env = clean_environment(
            {"MINIBASE_MASTER_KEY": KEY, "MINIBASE_DATA_DIR": str(settings.data_dir)}
        )
        asyncio.run(_jobs("SQLite, 1 worker", settings, env, 1, args.jobs, workdir))
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
            pg_env = {**env, "MINIBASE_DATABASE_URL": url}
            asyncio.run(_jobs("PostgreSQL, 2 workers", pg, pg_env, 2, args.jobs, workdir))
        finally:
            asyncio.run(create(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
