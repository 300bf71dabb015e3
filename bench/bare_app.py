"""The ceiling: the least Starlette + sqlite3 app that answers the four scenarios correctly.

Served by granian (one worker, as `minibase serve` runs) as the factory
`bare_app:app_from_environment`, on the database `bare_target.py` seeded (BENCH_BARE_DB). No
framework of ours: a token is a key of a dict read at start, the owner rule is `owner = ?`,
a create is one INSERT committed on its own, JSON out with orjson. Errors answer a status and
no body; nothing else is checked.

The one connection is used on the event loop's thread: each statement takes tens of
microseconds, less than a hand-off to a thread pool costs (with Starlette's thread pool and a
connection a thread, a trial gave less than half the get-by-id rate), so this is the ceiling.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = ("id", "title", "body", "owner", "score", "created")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM"
OWNED = {"priv": True, "posts": False}  # collection -> the owner rule applies
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)


def create_schema(conn: sqlite3.Connection) -> None:
    """The tables and indexes (run once by bare_target.py before seeding)."""
    for pragma in PRAGMAS:
        conn.execute(pragma)
    for name in OWNED:
        conn.execute(
            f"CREATE TABLE {name} (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,"
            " owner TEXT NOT NULL, score INTEGER NOT NULL, created TEXT NOT NULL)"
        )
        conn.execute(f"CREATE INDEX idx_{name}_score ON {name} (score)")
        conn.execute(f"CREATE INDEX idx_{name}_owner ON {name} (owner)")
    conn.execute("CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL)")


def new_id() -> str:
    return secrets.token_hex(8)


def now() -> str:
    return datetime.now(UTC).isoformat()


class Database:
    """One sqlite3 connection, autocommitting: every INSERT is committed on its own."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            self.conn.execute(pragma)

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [dict(zip(COLUMNS, row, strict=True)) for row in self.conn.execute(sql, params)]

    def insert(self, collection: str, record: dict[str, Any]) -> None:
        values = tuple(record[column] for column in COLUMNS)
        self.conn.execute(f"INSERT INTO {collection} VALUES (?, ?, ?, ?, ?, ?)", values)


def json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def create_app(path: str) -> Starlette:
    db = Database(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tokens: dict[str, str] = dict(conn.execute("SELECT token, user_id FROM tokens"))

    async def health(request: Request) -> Response:
        return json({"status": "ok"})

    def caller(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return tokens.get(token) if scheme == "Bearer" else None

    async def get_record(request: Request) -> Response:
        collection, record_id = request.path_params["collection"], request.path_params["id"]
        if collection not in OWNED:
            return Response(status_code=404)
        if not OWNED[collection]:
            rows = db.rows(f"{SELECT} {collection} WHERE id = ?", (record_id,))
        elif (user := caller(request)) is None:
            return Response(status_code=401)
        else:
            rows = db.rows(f"{SELECT} {collection} WHERE id = ? AND owner = ?", (record_id, user))
        return json(rows[0]) if rows else Response(status_code=404)

    async def list_records(request: Request) -> Response:
        """?score_gt=N&sort=-score&limit=N on `priv`, the caller's records only."""
        if request.path_params["collection"] != "priv":
            return Response(status_code=404)
        if (user := caller(request)) is None:
            return Response(status_code=401)
        query = request.query_params
        try:
            above, limit = int(query.get("score_gt", "-1")), int(query.get("limit", "20"))
        except ValueError:
            return Response(status_code=400)
        order = {"score": "ASC", "-score": "DESC"}.get(query.get("sort", "-score"))
        if order is None or not 1 <= limit <= 500:
            return Response(status_code=400)
        sql = f"{SELECT} priv WHERE owner = ? AND score > ? ORDER BY score {order} LIMIT ?"
        return json({"items": db.rows(sql, (user, above, limit))})

    async def create_record(request: Request) -> Response:
        collection = request.path_params["collection"]
        if collection not in OWNED:
            return Response(status_code=404)
        if caller(request) is None:
            return Response(status_code=401)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(status_code=400)
        kinds = {"title": str, "body": str, "owner": str, "score": int}
        if not isinstance(body, dict) or not all(
            type(body.get(name)) is kind for name, kind in kinds.items()
        ):
            return Response(status_code=400)
        record = {**{name: body[name] for name in kinds}, "id": new_id(), "created": now()}
        db.insert(collection, record)
        return json(record)

    return Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/collections/{collection}/records/{id}", get_record),
            Route("/api/collections/{collection}/records", list_records, methods=["GET"]),
            Route("/api/collections/{collection}/records", create_record, methods=["POST"]),
        ]
    )


def app_from_environment() -> Starlette:
    return create_app(os.environ["BENCH_BARE_DB"])
