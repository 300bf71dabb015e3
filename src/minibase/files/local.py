"""Files on the server's disk, under the data directory (`<data_dir>/files/<key>`).

An object is written to a temporary dot-file in its folder, flushed to disk, then renamed onto
its key: a crash or a refused upload never leaves part of an object under a key. Its content
type and ETag (the MD5 of its bytes, as S3 gives a single-part upload) sit beside it in
`.<name>.meta`, written first. Folders are 0700 and files 0600, like the rest of the data
directory. Disk work runs in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from minibase.files.storage import (
    ObjectBody,
    Stored,
    check_key,
    check_prefix,
    not_found,
    served_range,
    too_large,
    unavailable,
)
from minibase.private_files import DIRECTORY_MODE, FILE_MODE

log = logging.getLogger("minibase.files")

WRITE_BUFFER = 1 << 20  # bytes gathered before one write in a thread
READ_CHUNK = 256 << 10
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)

P = ParamSpec("P")
T = TypeVar("T")


class LocalStorage:
    def __init__(self, root: Path, *, read_chunk: int = READ_CHUNK) -> None:
        self.root = root
        self._read_chunk = read_chunk

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_size: int
    ) -> Stored:
        path = self._path(key)
        temp, fd = await _guarded(self._create_temp, path)
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise too_large(max_size)
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await _guarded(_write, fd, buffer, digest)
                    buffer.clear()
            await _guarded(_write, fd, buffer, digest)
            meta = {"content_type": content_type, "etag": digest.hexdigest()}
            await _guarded(_publish, fd, temp, path, meta)
        except BaseException:
            _discard(temp)
            raise
        finally:
            os.close(fd)
        return Stored(key, size, meta["etag"], content_type)

    async def open(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> tuple[Stored, ObjectBody]:
        path = self._path(key)
        fd, info = await _guarded(self._open, key, path)
        try:
            first, last = served_range(info.size, start, end)
        except BaseException:
            os.close(fd)
            raise

        async def chunks() -> AsyncIterator[bytes]:
            offset = first
            while offset < last:
                chunk = await _guarded(os.pread, fd, min(self._read_chunk, last - offset), offset)
                if not chunk:  # truncated under us (by hand: a replacement is a new file)
                    raise unavailable("file changed while read")
                offset += len(chunk)
                yield chunk

        async def close() -> None:
            os.close(fd)

        return info, ObjectBody(chunks(), close)

    async def stat(self, key: str) -> Stored:
        path = self._path(key)
        fd, info = await _guarded(self._open, key, path)
        os.close(fd)
        return info

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await _guarded(self._delete, path)

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        folders, tail = check_prefix(prefix)
        await _guarded(self._ensure_root)
        pending = [(self.root.joinpath(*folders), "/".join(folders), tail)]
        while pending:
            folder, key_prefix, name_start = pending.pop()
            for name, is_dir in await _guarded(_scan, folder, name_start):
                key = f"{key_prefix}/{name}" if key_prefix else name
                if is_dir:
                    pending.append((folder / name, key, ""))
                else:
                    yield key

    async def aclose(self) -> None:
        """Nothing to release: files are opened per call."""

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            _make_dirs(self.root)

    def _create_temp(self, path: Path) -> tuple[Path, int]:
        self._ensure_root()
        _make_dirs(path.parent)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)

    def _open(self, key: str, path: Path) -> tuple[int, Stored]:
        self._ensure_root()
        try:
            fd = os.open(path, os.O_RDONLY)
        except _MISSING:
            raise not_found(key) from None
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):  # a folder of keys is no object
                raise not_found(key)
            meta = _read_meta(path)
        except BaseException:
            os.close(fd)
            raise
        return fd, Stored(key, status.st_size, meta["etag"], meta["content_type"])

    def _delete(self, path: Path) -> None:
        self._ensure_root()
        for name in (path, _meta_path(path)):
            with contextlib.suppress(*_MISSING):
                name.unlink()


def _make_dirs(folder: Path) -> None:
    """Create folder and its missing parents, each 0700 (mkdir -p would give them 0755)."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent upload made it first
            path.mkdir(mode=DIRECTORY_MODE)


def _write(fd: int, data: bytearray, digest: hashlib._Hash) -> None:
    digest.update(data)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _publish(fd: int, temp: Path, path: Path, meta: dict[str, str]) -> None:
    os.fsync(fd)
    meta_temp = temp.with_suffix(".meta.tmp")
    meta_fd = os.open(meta_temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(meta_fd, json.dumps(meta).encode())
        os.fsync(meta_fd)
    finally:
        os.close(meta_fd)
    os.replace(meta_temp, _meta_path(path))  # the metadata first: an object never lacks it
    os.replace(temp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the renames themselves survive a crash
    finally:
        os.close(dir_fd)


def _discard(temp: Path) -> None:
    for name in (temp, temp.with_suffix(".meta.tmp")):
        with contextlib.suppress(OSError):
            name.unlink()


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta")


def _read_meta(path: Path) -> dict[str, str]:
    try:
        meta: dict[str, str] = json.loads(_meta_path(path).read_text())
    except FileNotFoundError:  # an object put there by hand: serve it as bytes
        return {"content_type": "application/octet-stream", "etag": ""}
    return meta


def _scan(folder: Path, name_start: str) -> list[tuple[str, bool]]:
    try:
        entries = list(os.scandir(folder))
    except _MISSING:
        return []
    return [
        (entry.name, entry.is_dir(follow_symlinks=False))
        for entry in entries
        if entry.name.startswith(name_start) and not entry.name.startswith(".")
    ]


async def _guarded(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run disk work in a thread; an OS error (disk full, gone, unreadable) is files.unavailable.

    A cancelled caller (the client went away) still waits for the thread to finish: the file
    descriptor it writes must not be closed, and its number handed to another file, under it."""
    running = asyncio.ensure_future(asyncio.to_thread(work, *args, **kwargs))
    try:
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            await asyncio.wait([running])
            if not running.cancelled():
                running.exception()  # seen: the caller is gone, its cancellation wins
            raise
    except OSError as exc:
        reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        log.warning("file storage failed: %s", exc)
        raise unavailable(reason) from exc
