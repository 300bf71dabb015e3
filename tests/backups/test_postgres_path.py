"""PostgreSQL installations are backed up with PostgreSQL's own tools (docs/backups.md):
`pg_dump --format=custom` of a database minibase wrote to, `pg_restore` into a fresh database,
and minibase on that database finds every record and carries on writing. `minibase backup`
itself says so rather than copy the wrong thing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tests.backups.conftest import KEY
from tests.cli.cli_process import Cli

from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.data.records import create_records
from minibase.services import open_services
from minibase.testing import postgres

ADMIN = Caller(kind="admin", id="admin")


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(postgres.admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def fresh_databases() -> AsyncIterator[list[str]]:
    """Two new, empty databases: the one minibase writes to and the one a dump goes into."""
    if "postgres" not in os.environ.get("MINIBASE_TEST_BACKENDS", "postgres"):
        pytest.skip("PostgreSQL is not among MINIBASE_TEST_BACKENDS")
    names = [f"mb_backup_{os.getpid()}_{secrets.token_hex(4)}" for _ in range(2)]
    for name in names:
        await _execute(f'CREATE DATABASE "{name}"')
    try:
        yield [postgres.url_for(name) for name in names]
    finally:
        for name in names:
            await _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tool(*command: str) -> None:
    """Run a PostgreSQL client tool as an operator would; fail with what it said."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (command[0], out.decode(), err.decode())


async def _records(settings: Settings) -> dict[str, int]:
    services = await open_services(settings)
    try:
        ledger = await services.collections.get("ledger")
        rows = await services.db.fetch_all(f"SELECT _id, data FROM {ledger.table}")
        found = {}
        for row in rows:
            data = json.loads(row[1]) if isinstance(row[1], str) else row[1]
            found[row[0]] = data["line"]
        return found
    finally:
        await services.close()


async def test_pg_dump_and_pg_restore_bring_back_every_record_into_a_fresh_database(
    tmp_path: Path, fresh_databases: list[str]
) -> None:
    source, target = fresh_databases
    settings = Settings(
        database_url=source,
        master_key=KEY,
        auto_migrate=True,
        data_dir=tmp_path / "data",
        functions_dir=tmp_path / "functions",
        postgres_pool_size=2,
    )
    services = await open_services(settings)
    written: dict[str, int] = {}
    try:
        fields = {"line": {"type": "integer"}, "note": {"type": "string"}}
        await create_collection(services, {"name": "ledger", "fields": fields})
        for batch in range(8):
            bodies = [{"line": batch * 25 + i, "note": "é" * 40} for i in range(25)]
            for record in await create_records(services, ADMIN, "ledger", bodies):
                written[record["_id"]] = record["line"]
    finally:
        await services.close()

    dump = tmp_path / "minibase.dump"
    await _tool("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), source)
    await _tool("pg_restore", "--no-owner", "--exit-on-error", "--dbname", target, str(dump))

    restored = settings.replace(database_url=target, auto_migrate=False)
    assert await _records(restored) == written
    services = await open_services(restored)  # it takes new writes: ids and sequences came along
    try:
        more = await create_records(services, ADMIN, "ledger", [{"line": -1, "note": "after"}])
    finally:
        await services.close()
    assert len(await _records(restored)) == len(written) + len(more)


def test_minibase_backup_on_postgresql_points_at_pg_dump(cli: Cli) -> None:
    url = "postgresql://minibase@127.0.0.1:5432/minibase"
    backup = cli.run("backup", "--database-url", url)
    assert backup.returncode == 2
    assert "pg_dump" in backup.stderr
    assert "docs/backups.md" in backup.stderr
    restore = cli.run("restore", "backups/x.tar", "--database-url", url)
    assert restore.returncode == 2
    assert "pg_restore" in restore.stderr
