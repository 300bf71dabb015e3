"""Per-test PostgreSQL databases, cloned from a template migrated once per test session."""

from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from minibase.clock import SystemClock
from minibase.store.migrations import migrate
from minibase.store.postgres import PostgresDatabase

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
    return name


async def drop_database(name: str) -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_template() -> None:
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
