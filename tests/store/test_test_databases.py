"""The test suite's PostgreSQL databases: a database a test used is made like new for the
next one (what the test added dropped, its rows gone, the migrations' rows back), and one
whose tables a test changed is dropped rather than handed on."""

from __future__ import annotations

import asyncpg
import pytest

from minibase.store.migrations import MIGRATIONS
from minibase.testing import postgres


async def query(name: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(postgres.url_for(name))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def test_a_used_database_comes_back_like_new(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite tests start from a copy of a migrated file")
    template = await postgres.read_template()
    name = await postgres.clone_database()
    try:
        conn = await asyncpg.connect(postgres.url_for(name))
        await conn.execute("CREATE TABLE c_notes (id TEXT PRIMARY KEY)")
        await conn.execute("INSERT INTO c_notes VALUES ('a')")
        await conn.execute(
            "INSERT INTO record_changes (collection, record_id, action, doc, created)"
            " VALUES ('notes', 'a', 'create', '{}', 0)"
        )
        await conn.execute("DELETE FROM schema_migrations WHERE version > 10")
        await conn.close()

        assert await postgres.make_like_new(name, template)
        tables = {row[0] for row in await query(name, "SELECT tablename FROM pg_tables")}
        assert "c_notes" not in tables
        assert await query(name, "SELECT * FROM record_changes") == []
        versions = await query(name, "SELECT MAX(version) FROM schema_migrations")
        assert versions[0][0] == MIGRATIONS[-1].version
        conn = await asyncpg.connect(postgres.url_for(name))
        seq = await conn.fetchval(
            "INSERT INTO record_changes (collection, record_id, action, doc, created)"
            " VALUES ('notes', 'a', 'create', '{}', 0) RETURNING seq"
        )
        assert seq == 1  # numbered from the start again
        await conn.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
        await conn.close()
        assert not await postgres.make_like_new(name, template)  # changed: not handed on
    finally:
        await postgres.drop_database(name)
