"""Per-test PostgreSQL databases, cloned from a template migrated once per test session."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from minibase.clock import SystemClock
from minibase.store.migrations import migrate
from minibase.store.postgres import PostgresDatabase

T = TypeVar("T")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
# One template per test session, so that sessions running side by side never share one.
TEMPLATE = f"minibase_template_{os.getpid()}"


def admin_url() -> str:
    return os.environ.get("MINIBASE_TEST_POSTGRES_URL", DEFAULT_URL)


def url_for(database: str) -> str:
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path="/" + database))


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare_template() -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    await _execute(f'CREATE DATABASE "{TEMPLATE}"')
    db = PostgresDatabase(url_for(TEMPLATE), pool_size=1)
    await db.open()
    try:
        await migrate(db, SystemClock())
    finally:
        await db.close()


def prepare_template() -> None:
    asyncio.run(_prepare_template())


async def clone_database() -> str:
    name = f"mb_test_{os.getpid()}_{secrets.token_hex(4)}"
    await _execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    # a test's database is thrown away: its commits need not wait for the disk
    await _execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return name


async def drop_database(name: str) -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_template() -> None:
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))


SHAPE = """
SELECT md5(string_agg(line, ';' ORDER BY line)) FROM (
  SELECT 'rel ' || c.relkind::text || ' ' || c.relname AS line
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' '
         || coalesce(column_default, '') || ' ' || is_nullable
    FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL
  SELECT 'proc ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
  UNION ALL
  SELECT 'schema ' || nspname FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema')
) AS shape
"""


@dataclass(frozen=True)
class Template:
    """What a database cloned from the template holds before a test: its tables and their
    shape, and the rows migrations wrote (so a used database can be made like new)."""

    shape: str
    tables: tuple[str, ...]
    sequences: tuple[str, ...]
    rows: dict[str, str]  # table -> its rows as JSON


async def read_template() -> Template:
    conn = await asyncpg.connect(url_for(TEMPLATE))
    try:
        tables = tuple(
            row[0]
            for row in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        )
        sequences = tuple(
            row[0]
            for row in await conn.fetch(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
            )
        )
        rows: dict[str, str] = {}
        for table in tables:
            kept = await conn.fetchval(f'SELECT json_agg(t)::text FROM "{table}" AS t')
            if kept is not None:
                rows[table] = kept
        return Template(await conn.fetchval(SHAPE), tables, sequences, rows)
    finally:
        await conn.close()


async def make_like_new(name: str, template: Template) -> bool:
    """Empty a used database back to the template's state: what a test added dropped, its
    rows deleted, the migrations' rows back, sequences restarted. False when that cannot be
    done (something holds a lock, or the test changed a table's shape)."""
    conn = await asyncpg.connect(url_for(name))
    try:
        await conn.execute("SET lock_timeout = '2s'")
        async with conn.transaction():
            for (table,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND NOT (tablename = ANY($1::text[]))",
                list(template.tables),
            ):
                await conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
            for kind, what in (("VIEW", "v"), ("MATERIALIZED VIEW", "m"), ("SEQUENCE", "S")):
                for (relation,) in await conn.fetch(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind::text = $1"
                    " AND NOT (c.relname = ANY($2::text[]))",
                    what,
                    list(template.sequences),
                ):
                    await conn.execute(f'DROP {kind} IF EXISTS "{relation}" CASCADE')
            for table in template.tables:
                await conn.execute(f'DELETE FROM "{table}"')
            for table, rows in template.rows.items():
                await conn.execute(
                    f'INSERT INTO "{table}"'
                    f' SELECT * FROM json_populate_recordset(NULL::"{table}", $1)',
                    rows,
                )
            for sequence in template.sequences:
                await conn.execute(f"SELECT setval('\"{sequence}\"', 1, false)")
            shape = await conn.fetchval(SHAPE)
        return bool(shape == template.shape)
    except (asyncpg.PostgresError, OSError):
        return False
    finally:
        await conn.close()


class SpareDatabases:
    """Per-test databases: used ones made like new again, else cloned, on a thread of their own.

    Cloning the template writes ~9 MB (PostgreSQL's catalogs are in every database) and
    takes about 0.4 s of a busy disk; making a used database like new (deleting its rows,
    dropping what the test added) takes a few milliseconds and writes next to nothing. A
    database a test changed beyond that is dropped instead. Both run in the background.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-spares")
        self._thread.daemon = True
        self._thread.start()
        self._lock = asyncio.Lock()  # used on the thread's loop only
        self._template = self._submit(read_template())
        self._ready: list[str] = []
        self._work: list[concurrent.futures.Future[None]] = []

    def _submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _clone(self) -> str:
        async with self._lock:  # one CREATE DATABASE from the template at a time
            return await clone_database()

    async def take(self) -> str:
        """A database like a fresh clone of the template."""
        if self._ready:
            return self._ready.pop()
        return await asyncio.wrap_future(self._submit(self._clone()))

    def give_back(self, name: str) -> None:
        """Make it like new for the next test, in the background (or drop it)."""
        self._work = [work for work in self._work if not work.done()]
        self._work.append(self._submit(self._recycle(name)))

    async def _recycle(self, name: str) -> None:
        if await make_like_new(name, await asyncio.wrap_future(self._template)):
            self._ready.append(name)
        else:
            await drop_database(name)

    def close(self) -> None:
        """Drop every database, then stop the thread."""
        for work in self._work:
            work.result()
        for name in self._ready:
            self._submit(drop_database(name)).result()
        self._ready.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
