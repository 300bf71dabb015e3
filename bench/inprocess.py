"""In-process benchmark: the whole ASGI app, without a server or a socket.

    .venv/bin/python bench/inprocess.py [--records 10000] [--seconds 3] [--rounds 3]
                                        [--scenario get|create|list ...] [--postgres]

Builds the micro benchmark's `priv` collection (same fields, indexes, owner rule) on a
temporary SQLite database (with --postgres, a scratch database beside
MINIBASE_BENCH_POSTGRES_URL's), then calls the app as granian would, `--in-flight` requests at a
time on uvloop: a get by id with the owner rule, a create, and the bench's list of 20 (score >
500, sort -score, the owner rule), each with a user token. Prints microseconds of the one thread
a request. Set beside `bench/run.py`'s figures, the difference is what the HTTP server costs.
Set beside `bench/micro.py`'s `get_record` and `create_record`, the difference is what the app
costs (token, body, JSON, response). No server or load generator shares the two cores with it,
but the machine's own speed still moves from one minute to the next: compare two versions of
the code by alternating them, a few rounds each, with PYTHONPATH pointing at each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import uvloop
from micro import prepare, time_async
from minibase_target import LIST_QUERY
from processes import scratch_postgres

from minibase.app import create_app

SCENARIOS = ("get", "create", "list")


def _scope(method: str, target: str, token: str, body: bytes | None) -> dict[str, Any]:
    path, _, query = target.partition("?")
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body is not None:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8090),
        "state": {},
    }


async def main(args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_postgres("inproc")) if args.postgres else None
        await drive(args, url)


async def drive(args: argparse.Namespace, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        services, caller, token = await prepare(Path(data_dir), args.records, database_url)
        app = create_app(services.settings, services=services)
        table = (await services.collections.get("priv")).table
        row = await services.db.fetch_one(
            f"SELECT _id FROM {table} WHERE _owner = ? LIMIT 1", caller.id
        )
        assert row is not None, "the seeded records are there"
        body = orjson.dumps({"title": "t", "body": "b" * 200, "owner": caller.id, "score": 5})
        requests = {
            "get": ("GET", f"/api/collections/priv/records/{row[0]}", None),
            "create": ("POST", "/api/collections/priv/records", body),
            "list": ("GET", f"/api/collections/priv/records?{urlencode(LIST_QUERY)}", None),
        }
        statuses: Counter[int] = Counter()

        async def one(method: str, path: str, payload: bytes | None) -> None:
            received = False

            async def receive() -> dict[str, Any]:
                nonlocal received
                if received:  # a request waits for the client to go away only after it ends
                    await asyncio.sleep(3600)
                received = True
                return {"type": "http.request", "body": payload or b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] += 1

            # a task of its own, as granian runs each request (a task that runs requests back
            # to back without yielding would hit the loop's statement streak, on_the_loop.py)
            await asyncio.create_task(app(_scope(method, path, token, payload), receive, send))

        for name in args.scenario or SCENARIOS:
            for _ in range(args.rounds):
                work = partial(one, *requests[name])
                await time_async(f"{name}, whole app", work, args.seconds, args.in_flight)
                print(f"    answers: {dict(sorted(statuses.items()))}")
                statuses.clear()
        await services.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="seeded records (10,000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds a round (3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds a scenario (3)")
    parser.add_argument("--in-flight", type=int, default=64, help="requests at a time (64)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="(repeatable)")
    parser.add_argument("--postgres", action="store_true", help="on a scratch PostgreSQL database")
    uvloop.run(main(parser.parse_args()))
