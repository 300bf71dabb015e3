"""Bytes in and out of a storage backend, for the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from minibase.errors import ApiError
from minibase.files.storage import FileStorage

MB = 1 << 20


async def chunks_of(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def put(
    storage: FileStorage, key: str, data: bytes, content_type: str = "text/plain"
) -> None:
    await storage.put(key, chunks_of(data), content_type=content_type, max_size=len(data))


async def read(
    storage: FileStorage, key: str, start: int | None = None, end: int | None = None
) -> bytes:
    _, body = await storage.open(key, start, end)
    return b"".join([chunk async for chunk in body])


async def keys(storage: FileStorage, prefix: str = "") -> list[str]:
    return sorted([key async for key in storage.list(prefix)])


async def assert_gone(storage: FileStorage, key: str) -> None:
    with pytest.raises(ApiError) as refused:
        await storage.stat(key)
    assert (refused.value.code, refused.value.status) == ("files.not_found", 404)
    assert await keys(storage) == []


async def cancelled_upload(storage: FileStorage, key: str, megabytes: int) -> None:
    """Start an upload, let `megabytes` arrive, then cancel it as a lost client's request is."""
    waiting = asyncio.Event()

    async def then_silence() -> AsyncIterator[bytes]:
        for _ in range(megabytes):
            yield b"x" * MB
        waiting.set()
        await asyncio.Event().wait()
        yield b""  # never reached

    upload = asyncio.create_task(
        storage.put(key, then_silence(), content_type="video/mp4", max_size=100 * MB)
    )
    await waiting.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
