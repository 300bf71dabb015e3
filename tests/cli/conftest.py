"""Fixtures for the CLI tests: a temporary working directory, a free port, an empty PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from cli_process import Cli

from minibase.testing import postgres


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(postgres.admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """The URL of a new PostgreSQL database that no migration has touched."""
    if "postgres" not in os.environ.get("MINIBASE_TEST_BACKENDS", "postgres"):
        pytest.skip("PostgreSQL is not among MINIBASE_TEST_BACKENDS")
    name = f"mb_cli_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.url_for(name)
    finally:
        asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
