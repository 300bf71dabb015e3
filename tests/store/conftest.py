"""The embedded engine alone, on a temporary file with one table: `notes (id, text)`; and
whole services on either engine, for the property tests that hold SQL to Python."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.store.sqlite import SQLiteDatabase
from minibase.testing import postgres

T = TypeVar("T")


@pytest.fixture
async def notes_db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "data.db")
    await database.open()
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    try:
        yield database
    finally:
        await database.close()


@dataclass
class OnEngine:
    """Services on a fresh database of one engine, driven from a loop of the test's own: a
    Hypothesis test is synchronous, and runs its examples with `run`."""

    loop: asyncio.AbstractEventLoop
    services: Services

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnEngine]:
    loop = asyncio.new_event_loop()
    base = Settings(data_dir=tmp_path, master_key="a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=")
    database = None
    if request.param == "postgres":
        request.getfixturevalue("_postgres_template")
        database = loop.run_until_complete(postgres.clone_database())
        base = base.replace(database_url=postgres.url_for(database))
    services = loop.run_until_complete(open_services(base, migrate_now=True))
    try:
        yield OnEngine(loop, services)
    finally:
        loop.run_until_complete(services.close())
        if database:
            loop.run_until_complete(postgres.drop_database(database))
        loop.close()
