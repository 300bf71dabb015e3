"""The workers of one server hear of a change to a cached table (collections, revocations,
apps, merchants) once its transaction commits, whatever their check interval: a collection
created through one worker is found through the other a moment later."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from minibase.server_folder import SERVER_FOLDER
from minibase.store.shared_versions import SharedVersions, advance
from minibase.store.sqlite import SQLiteDatabase
from minibase.store.versions import Watched, bump

KEY = "collections_version"


class Cache:
    """What a worker caches: how many times it read the table again."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.loads = 0
        self.watch = Watched(db, KEY, self.load, interval=3600)

    async def load(self) -> None:
        version = await self.watch.current()
        self.loads += 1
        self.watch.loaded(version)


@pytest.fixture
async def two_workers(tmp_path: Path) -> list[SQLiteDatabase]:
    opened = []
    for _ in range(2):
        db = SQLiteDatabase(tmp_path / "data.db")
        await db.open()
        opened.append(db)
    async with opened[0].transaction() as tx:
        await tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        await tx.execute("INSERT INTO meta VALUES (?, '0')", KEY)
    yield opened
    for db in opened:
        await db.close()


async def test_a_worker_hears_of_a_change_as_soon_as_it_commits(
    two_workers: list[SQLiteDatabase], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_FOLDER, str(tmp_path))  # as `minibase serve` sets it
    changing, other = Cache(two_workers[0]), Cache(two_workers[1])
    await other.load()
    async with two_workers[0].transaction() as tx:
        await bump(tx, KEY)
        await other.watch.refresh_if_stale()
        assert other.loads == 1  # not before the change commits
    await other.watch.refresh_if_stale()
    assert other.loads == 2  # at once, though it looks at the database once an hour
    assert await changing.watch.current() == "1"
    await other.watch.refresh_if_stale()
    assert other.loads == 2  # once per change


async def test_without_a_server_folder_the_check_interval_decides(
    two_workers: list[SQLiteDatabase],
) -> None:
    other = Cache(two_workers[1])
    await other.load()
    async with two_workers[0].transaction() as tx:
        await bump(tx, KEY)
    await other.watch.refresh_if_stale()
    assert other.loads == 1  # another instance: within its interval


def test_workers_that_map_the_file_leave_it_free_for_the_next(tmp_path: Path) -> None:
    """A mapping keeps a copy of the file's descriptor open: the lock must not stay with it."""
    path = tmp_path / "versions"
    read: list[int] = []

    def two_workers_and_a_change() -> None:
        first, second = SharedVersions(path), SharedVersions(path)
        advance(path, KEY)
        slot = SharedVersions.slot(KEY)
        read.extend((first.read_slot(slot), second.read_slot(slot)))

    done = threading.Thread(target=two_workers_and_a_change, daemon=True)
    done.start()
    done.join(5)
    assert not done.is_alive(), "the file stayed locked"
    assert read == [1, 1]
