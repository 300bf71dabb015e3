"""The folder a `minibase serve` shares with its workers is its own and goes away with it; one
left by a server that was killed is removed when the next one starts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from minibase.server_folder import OWNER, PREFIX, SERVER_FOLDER, ServerFolder, server_folder


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(SERVER_FOLDER, raising=False)
    return tmp_path


def left_behind(temp: Path, name: str, pid: int | None) -> Path:
    folder = temp / (PREFIX + name)
    folder.mkdir(mode=0o700)
    if pid is not None:
        (folder / OWNER).write_text(str(pid))
    return folder


def a_pid_that_ended() -> int:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(ended.stdout)


def test_a_server_names_its_folder_for_its_workers_and_removes_it(temp: Path) -> None:
    folder = ServerFolder()
    assert server_folder() == folder.path
    assert folder.path.parent == temp
    assert (folder.path / OWNER).read_text() == str(os.getpid())
    assert folder.path.stat().st_mode & 0o777 == 0o700
    folder.close()
    assert not folder.path.exists()
    assert server_folder() is None


def test_a_killed_servers_folder_is_removed_by_the_next_server(temp: Path) -> None:
    killed = left_behind(temp, "killed", a_pid_that_ended())
    running = left_behind(temp, "running", os.getpid())
    being_made = left_behind(temp, "new", None)
    folder = ServerFolder()
    try:
        assert not killed.exists()
        assert running.exists()
        assert being_made.exists()
    finally:
        folder.close()
