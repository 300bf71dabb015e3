"""Processes on one SQLite file tell each other of commits over UNIX datagram sockets: found by
the database's real path, whatever its length; a dead process's socket is removed; a full
receiver never holds the sender."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minibase.store.siblings import MAX_SOCKET_PATH, Siblings

WAIT = 2.0


@pytest.fixture
def opened() -> Iterator[list[Siblings]]:
    """Siblings a test makes, closed after it."""
    made: list[Siblings] = []
    yield made
    for siblings in made:
        siblings.close()


def siblings_of(database: Path, opened: list[Siblings]) -> Siblings:
    opened.append(Siblings(database))
    return opened[-1]


async def listening(database: Path, opened: list[Siblings]) -> asyncio.Event:
    """A process's part on `database`, listening: the event is set when it hears news."""
    heard = asyncio.Event()
    assert siblings_of(database, opened).listen(heard.set)
    return heard


async def test_a_commit_told_by_one_process_is_heard_by_another_on_the_same_file(
    tmp_path: Path, opened: list[Siblings]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    heard = await listening(tmp_path / "data" / "data.db", opened)
    # the same file by another path: the real path names the folder
    siblings_of(tmp_path / "link" / "data.db", opened).tell()
    await asyncio.wait_for(heard.wait(), WAIT)


async def test_a_commit_on_another_file_is_not_heard(
    tmp_path: Path, opened: list[Siblings]
) -> None:
    heard = await listening(tmp_path / "one.db", opened)
    siblings_of(tmp_path / "two.db", opened).tell()
    await asyncio.sleep(0.2)
    assert not heard.is_set()


async def test_a_process_does_not_tell_itself(tmp_path: Path, opened: list[Siblings]) -> None:
    heard = asyncio.Event()
    siblings = siblings_of(tmp_path / "data.db", opened)
    assert siblings.listen(heard.set)
    siblings.tell()
    await asyncio.sleep(0.2)
    assert not heard.is_set()


async def test_a_data_directory_of_any_length_works(tmp_path: Path, opened: list[Siblings]) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-folder-name-" + "x" * 40] * 6))
    deep.mkdir(parents=True)
    database = deep / "data.db"
    assert len(os.fsencode(database)) > 300
    heard = await listening(database, opened)
    listener = opened[-1]
    assert listener.address is not None
    assert len(os.fsencode(listener.address)) <= MAX_SOCKET_PATH
    siblings_of(database, opened).tell()
    await asyncio.wait_for(heard.wait(), WAIT)


LISTENER = """
import asyncio, sys
from pathlib import Path
from minibase.store.siblings import Siblings

async def main():
    siblings = Siblings(Path(sys.argv[1]))
    assert siblings.listen(lambda: None)
    print(siblings.address, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def listener_that_died(database: Path) -> str:
    """A process that listened on `database` and was killed: the name of its socket."""
    process = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        address = Path(process.stdout.readline().strip())
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to close
        process.wait()
    return address.name


async def test_the_socket_of_a_process_that_died_is_removed_by_the_next_sender(
    tmp_path: Path, opened: list[Siblings]
) -> None:
    database = tmp_path / "data.db"
    dead = listener_that_died(database)
    heard = await listening(database, opened)
    folder = opened[0].folder
    assert dead in os.listdir(folder)
    siblings_of(database, opened).tell()
    assert dead not in os.listdir(folder)
    await asyncio.wait_for(heard.wait(), WAIT)  # the living still hear


async def test_closing_removes_the_socket_and_the_last_one_out_the_folder(
    tmp_path: Path, opened: list[Siblings]
) -> None:
    await listening(tmp_path / "data.db", opened)
    await listening(tmp_path / "data.db", opened)
    first, second = opened
    assert first.address is not None
    assert second.address is not None
    first_address, second_address = first.address, second.address
    first.close()
    assert not first_address.exists()
    assert second.folder.is_dir()
    second.close()
    assert not second_address.exists()
    assert not second.folder.exists()


async def test_receivers_that_read_nothing_never_hold_the_sender_nor_the_others_news(
    tmp_path: Path, opened: list[Siblings]
) -> None:
    database = tmp_path / "data.db"
    folder = siblings_of(database, opened).folder
    folder.mkdir(mode=0o700)
    stuck = []  # processes busy elsewhere: what is sent to them stays unread
    for number in range(40):
        stuck.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        stuck[-1].bind(str(folder / f"stuck-{number}"))
    try:
        teller = siblings_of(database, opened)
        started = time.monotonic()
        for _ in range(1000):  # far more than their queues hold
            teller.tell()
        assert time.monotonic() - started < 5
        assert len(os.listdir(folder)) == 40  # full, not dead: kept
        # what waits unread in their queues does not keep the news from a process that reads
        heard = await listening(database, opened)
        teller.tell()
        await asyncio.wait_for(heard.wait(), WAIT)
    finally:
        for number, receiver in enumerate(stuck):
            receiver.close()
            os.unlink(folder / f"stuck-{number}")


async def test_a_folder_others_can_enter_is_not_used(
    tmp_path: Path, opened: list[Siblings], caplog: pytest.LogCaptureFixture
) -> None:
    siblings = siblings_of(tmp_path / "data.db", opened)
    siblings.folder.mkdir(mode=0o755)
    siblings.folder.chmod(0o755)
    try:
        assert not siblings.listen(lambda: None)
        assert "not this user's private folder" in caplog.text
    finally:
        siblings.folder.rmdir()
