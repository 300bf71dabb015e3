"""What only the data-directory backend does: private modes, no stray temporary files, open
files released, and objects found where an operator would look for them."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from streams import chunks_of, keys, put, read

from minibase.errors import ApiError
from minibase.files.local import LocalStorage


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _everything(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


async def test_an_object_is_a_plain_file_under_its_key(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data" / "files")
    await put(storage, "notes/r1/01J0", b"hello", content_type="text/plain")
    assert (tmp_path / "data" / "files" / "notes" / "r1" / "01J0").read_bytes() == b"hello"


async def test_folders_are_0700_and_files_0600(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data" / "files")
    usual = os.umask(0o022)  # which would give 0755 and 0644
    try:
        await put(storage, "notes/r1/01J0", b"hello")
    finally:
        os.umask(usual)
    for path in [tmp_path / "data", *(tmp_path / "data").rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, path


async def test_failed_uploads_leave_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")

    async def cut_off() -> AsyncIterator[bytes]:
        yield b"x" * (3 << 20)  # past the write buffer: some of it reached the disk
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await storage.put("a/b/c", cut_off(), content_type="text/plain", max_size=10 << 20)
    with pytest.raises(ApiError):
        await storage.put("a/b/c", chunks_of(b"x" * 20), content_type="text/plain", max_size=10)
    assert _everything(tmp_path / "files") == ["a", "a/b"]


async def test_a_read_stopped_early_releases_the_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files", read_chunk=1024)
    await put(storage, "a/big", b"x" * 10_000)
    before = len(os.listdir("/proc/self/fd"))
    _, body = await storage.open("a/big")
    assert len(os.listdir("/proc/self/fd")) == before + 1
    async with body:
        assert await anext(body) == b"x" * 1024
    assert len(os.listdir("/proc/self/fd")) == before


async def test_a_folder_of_keys_is_not_an_object(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    await put(storage, "posts/r1/a", b"1")
    with pytest.raises(ApiError) as refused:
        await storage.open("posts/r1")
    assert refused.value.code == "files.not_found"


async def test_a_file_copied_in_by_hand_is_served_as_bytes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    (tmp_path / "files" / "restored").mkdir(parents=True)
    (tmp_path / "files" / "restored" / "photo").write_bytes(b"\xff\xd8\xff")
    info = await storage.stat("restored/photo")
    assert (info.size, info.content_type) == (3, "application/octet-stream")
    assert await read(storage, "restored/photo") == b"\xff\xd8\xff"
    assert await keys(storage) == ["restored/photo"]
