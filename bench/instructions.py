"""Instructions a get by id costs, counted: the whole ASGI app in process, under callgrind.

    .venv/bin/python bench/instructions.py [--app minibase --app bare --app null] [--requests 2000]

Wall-clock rates on this machine move 10-20% from one run to the next (other tenants of the host,
the two cores shared with the load generator), more than most changes to one request's path are
worth. Instructions do not move: each app serves `--requests` gets by id, 64 in flight as
granian runs them (a task a request), after 500 unrecorded ones; it runs twice under valgrind's
callgrind, with 1,000 and with 1,000 + `--requests`, and the difference, divided, is one
request's instructions, with what both runs share (start, seeding) taken out. Apps:

- `minibase`: `bench/inprocess.py`'s, the `priv` collection with the owner rule and a user
  token, with the collector set as a served worker sets it (`minibase.server`);
- `bare`: `bench/bare_app.py`, the ceiling;
- `null`: an app that answers `{}` at once: what the driving loop itself costs;
- `minibase-postgres`: `minibase` on a scratch database of the local PostgreSQL
  (MINIBASE_BENCH_POSTGRES_URL): the server's own work is not counted, only this process's.

Instructions are not time: a system call, a wait for the GIL or a cache miss costs time and few
instructions (read `perf` for those). Compare two versions of the code with PYTHONPATH pointing
at each. Needs valgrind (`bench/install-deps`); each app takes about two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

APPS = ("minibase", "bare", "null", "minibase-postgres")
IN_FLIGHT = 64
WARMUP = 500
BASE = 1000
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _minibase(
    data_dir: Path, database_url: str | None = None
) -> tuple[ASGIApp, str, str, Callable[[], Awaitable[None]]]:
    from micro import prepare

    from minibase.app import create_app
    from minibase.server import tune_garbage_collection

    services, caller, token = await prepare(data_dir, 2000, database_url)
    table = (await services.collections.get("priv")).table
    row = await services.db.fetch_one(f"SELECT _id FROM {table} WHERE _owner = ?", caller.id)
    assert row is not None, "the seeded records are there"
    tune_garbage_collection()
    app = create_app(services.settings, services=services)
    return app, f"/api/collections/priv/records/{row[0]}", token, services.close


async def _minibase_postgres(
    data_dir: Path,
) -> tuple[ASGIApp, str, str, Callable[[], Awaitable[None]]]:
    from processes import scratch_postgres

    database = scratch_postgres("instructions")
    app, path, token, close = await _minibase(data_dir, await database.__aenter__())

    async def close_both() -> None:
        await close()
        await database.__aexit__(None, None, None)

    return app, path, token, close_both


async def _bare(data_dir: Path) -> tuple[ASGIApp, str, str, Callable[[], Awaitable[None]]]:
    from bare_app import create_app, create_schema, new_id

    path = data_dir / "bare.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        create_schema(conn)
        ids = [new_id() for _ in range(2000)]
        conn.executemany(
            "INSERT INTO priv VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i, "t", "b" * 200, "u1", n % 1000, "2026-12-07T00:00:00+00:00")
                for n, i in enumerate(ids)
            ],
        )
        conn.execute("INSERT INTO tokens VALUES ('bench-token', 'u1')")
        conn.commit()

    async def nothing() -> None:
        return None

    return create_app(str(path)), f"/api/collections/priv/records/{ids[5]}", "bench-token", nothing


async def _null(data_dir: Path) -> tuple[ASGIApp, str, str, Callable[[], Awaitable[None]]]:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    async def nothing() -> None:
        return None

    return app, "/api/collections/priv/records/x", "t", nothing


async def serve(app_name: str, requests: int) -> None:
    """Warm up, then serve `requests` gets by id; every one must answer 200."""
    from inprocess import _scope

    with tempfile.TemporaryDirectory() as folder:
        build = {
            "minibase": _minibase,
            "bare": _bare,
            "null": _null,
            "minibase-postgres": _minibase_postgres,
        }[app_name]
        app, path, token, close = await build(Path(folder))
        answered: list[int] = []

        async def one() -> None:
            received = False

            async def receive() -> dict[str, Any]:
                nonlocal received
                if received:
                    await asyncio.sleep(3600)
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    answered.append(message["status"])

            await asyncio.create_task(app(_scope("GET", path, token, None), receive, send))

        async def run(count: int) -> None:
            left = count

            async def client() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await one()

            await asyncio.gather(*(client() for _ in range(IN_FLIGHT)))

        await run(WARMUP)
        await run(requests)
        assert answered == [200] * (WARMUP + requests), sorted(set(answered))
        await close()


def count(app_name: str, requests: int) -> int:
    """Instructions of a whole run under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--serve",
            app_name,
            "--requests",
            str(requests),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{app_name}: the run under valgrind failed:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--app", action="append", choices=APPS, help="(repeatable; default: the first three)"
    )
    parser.add_argument("--requests", type=int, default=2000, help="counted requests (2,000)")
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)  # the run inside valgrind
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    if args.serve:
        import uvloop

        uvloop.run(serve(args.serve, args.requests))
        return
    for app_name in args.app or APPS[:3]:
        short, long = count(app_name, BASE), count(app_name, BASE + args.requests)
        print(f"  {app_name:<10} {(long - short) / args.requests:>10,.0f} instructions a request")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
