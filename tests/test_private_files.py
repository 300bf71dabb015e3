"""The data directory is the owner's alone: created 0700 with its files 0600, and an existing
one that others can read is tightened at start, with a warning."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from minibase.config import Settings
from minibase.services import open_services


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    return {path.name: mode(path) for path in [folder, *folder.iterdir()]}


async def modes_while_running(settings: Settings, folder: Path) -> dict[str, int]:
    """Open the server's services, commit something (so SQLite has its -wal and -shm), and
    read the folder's modes while it runs (a clean close removes the WAL)."""
    services = await open_services(settings)
    try:
        async with services.db.transaction() as conn:
            await conn.execute("UPDATE meta SET value = value WHERE key = 'collections_version'")
        return modes(folder)
    finally:
        await services.close()


@pytest.fixture
def own_key(settings: Settings) -> Settings:
    """The embedded default: the master key is a file in the data directory."""
    return settings.replace(master_key=None)


async def test_a_new_data_directory_and_its_files_are_private(
    own_key: Settings, backend: str
) -> None:
    found = await modes_while_running(own_key, own_key.data_dir)

    expected = {"data": 0o700, "master.key": 0o600}
    if backend == "sqlite":
        expected |= {"data.db": 0o600, "data.db-wal": 0o600, "data.db-shm": 0o600}
        expected["data.db-writer"] = 0o600  # the writers' turns (store/write_turns.py)
    assert found == expected


async def test_an_existing_readable_data_directory_is_tightened_with_a_warning(
    own_key: Settings, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = own_key.data_dir
    await modes_while_running(own_key, data)
    data.chmod(0o755)
    for path in data.iterdir():
        path.chmod(0o644)
    (data / "data.db-wal").touch(0o644)  # as a crash leaves it (SQLite replays it)

    with caplog.at_level(logging.WARNING, logger="minibase.store"):
        found = await modes_while_running(own_key, data)

    assert set(found.values()) == {0o700, 0o600}
    assert found["data"] == 0o700
    warned = caplog.text
    assert f"{data} was open to other users (mode 0755); it is now 0700" in warned
    assert f"{data / 'master.key'} was open to other users (mode 0644); it is now 0600" in warned
    if backend == "sqlite":
        assert f"{data / 'data.db'} was open to other users (mode 0644)" in warned


async def test_a_private_data_directory_starts_without_warnings(
    own_key: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await modes_while_running(own_key, own_key.data_dir)
    with caplog.at_level(logging.WARNING, logger="minibase.store"):
        await modes_while_running(own_key, own_key.data_dir)
    assert "open to other users" not in caplog.text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_database_file_outside_the_data_directory_is_private_too(
    own_key: Settings, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "app.db"
    settings = own_key.replace(database_url=f"sqlite:///{elsewhere}")

    found = await modes_while_running(settings, elsewhere.parent)

    assert found == {
        "elsewhere": 0o700,
        "app.db": 0o600,
        "app.db-wal": 0o600,
        "app.db-shm": 0o600,
        "app.db-writer": 0o600,
    }
