"""The embedded engine alone, on a temporary file with one table: `notes (id, text)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from minibase.store.sqlite import SQLiteDatabase


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
