"""Where uploaded files live: one async interface, two backends.

    storage = LocalStorage(data_dir / "files")              # the default
    storage = S3Storage(endpoint, bucket, access_key, secret_key, region)   # at scale

    stored = await storage.put(key, chunks, content_type="image/png", max_size=10 << 20)
    info, body = await storage.open(key, start=0, end=1023)   # a Range read; end inclusive
    async for chunk in body: ...                              # or `await body.aclose()`
    await storage.stat(key); await storage.delete(key)
    async for key in storage.list("posts/"): ...              # for `minibase files gc`

Keys are made by the server (`<collection>/<record>/<ulid>`), never taken from a client's file
name: `check_key` refuses anything else. Bytes always move as async iterators of chunks, so
memory stays bounded by a chunk (or by an S3 part) whatever the file's size. An upload that
passes `max_size`, or whose chunks raise half way, leaves no object behind. Errors are ApiError:
files.not_found (404), files.too_large (413), files.range_not_satisfiable (416),
files.invalid_key (400), files.unavailable (503: the disk or the S3 service failed).

`S3Storage` also presigns URLs (`presigned_get`, `presigned_put`) so large files can bypass
the app servers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, Self

from minibase.errors import ApiError

MAX_KEY_BYTES = 1024  # S3's limit
# Each segment: letters, digits, `-`, `_` and `.`, not starting with a dot, so no `..`, no
# hidden files (the local backend keeps its temporary and metadata files as dot-files).
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_PREFIX_TAIL = re.compile(r"([A-Za-z0-9_-][A-Za-z0-9._-]*)?")


@dataclass(frozen=True)
class Stored:
    """An object as stored: `size` is the whole object's, `etag` its entity tag unquoted."""

    key: str
    size: int
    etag: str
    content_type: str


class ObjectBody:
    """An object's bytes, chunk by chunk; `aclose()` (or `async with`) frees the open file or
    connection when the reader stops before the end."""

    def __init__(self, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]]):
        self._chunks = chunks
        self._close = close
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._chunks)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class FileStorage(Protocol):
    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_size: int
    ) -> Stored:
        """Store the chunks under key (replacing any object there); nothing is left when more
        than max_size bytes arrive (files.too_large) or the chunks raise."""
        ...

    async def open(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> tuple[Stored, ObjectBody]:
        """The object and its bytes from start to end inclusive (`Range: bytes=start-end`);
        end past the last byte means to the end, start past it is files.range_not_satisfiable."""
        ...

    async def stat(self, key: str) -> Stored: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a key that holds none is fine."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key that starts with prefix, in no particular order."""
        ...

    async def aclose(self) -> None: ...


def check_key(key: str) -> list[str]:
    """The key's segments, or files.invalid_key if the key is not one the server makes."""
    segments = key.split("/")
    if len(key.encode()) > MAX_KEY_BYTES or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise _invalid_key(key)
    return segments


def check_prefix(prefix: str) -> tuple[list[str], str]:
    """A listing prefix split into its whole folders and the start of a last name."""
    *folders, tail = prefix.split("/")
    if not all(_SEGMENT.fullmatch(s) for s in folders) or not _PREFIX_TAIL.fullmatch(tail):
        raise _invalid_key(prefix)
    return folders, tail


def check_range(start: int | None, end: int | None) -> None:
    """A range is a start, or a start and an end at or after it (the caller parsed the header)."""
    if (start is None and end is not None) or (
        start is not None and (start < 0 or (end is not None and end < start))
    ):
        raise ValueError(f"bad range {start}-{end}")


def served_range(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """The bytes [first, last) that a read from start to end (inclusive) serves of an object of
    size bytes."""
    check_range(start, end)
    if start is None:
        return 0, size
    if start >= size:
        raise ApiError(
            "files.range_not_satisfiable",
            416,
            f"The range starts at byte {start}; the file has {size} bytes.",
            {"size": size},
        )
    return start, size if end is None else min(end + 1, size)


def too_large(max_size: int) -> ApiError:
    return ApiError(
        "files.too_large",
        413,
        f"The file is larger than {max_size} bytes.",
        {"max": max_size},
    )


def not_found(key: str) -> ApiError:
    return ApiError("files.not_found", 404, "No file with this key.", {"key": key})


def unavailable(reason: str) -> ApiError:
    return ApiError(
        "files.unavailable",
        503,
        "The file storage cannot be reached or failed; retry later.",
        {"reason": reason},
    )


def _invalid_key(key: str) -> ApiError:
    return ApiError(
        "files.invalid_key",
        400,
        "A file key is segments of letters, digits, '-', '_' and '.' (not starting with a dot)"
        " joined by '/'.",
        {"key": key[:100]},
    )
