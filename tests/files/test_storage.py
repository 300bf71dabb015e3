"""What every file storage backend does, run on both: the data directory and S3 (moto's server
on loopback, checking every signature)."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from streams import MB, assert_gone, cancelled_upload, chunks_of, keys, put, read

from minibase.errors import ApiError
from minibase.files.local import LocalStorage
from minibase.files.s3 import S3Storage
from minibase.files.storage import FileStorage
from minibase.testing.sandbox import free_port


async def test_an_object_comes_back_as_it_went_up(storage: FileStorage) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    stored = await storage.put(
        "notes/r1/01J0", chunks_of(data[:100], data[100:]), content_type="image/png", max_size=MB
    )
    assert (stored.key, stored.size, stored.content_type) == (
        "notes/r1/01J0",
        len(data),
        "image/png",
    )
    assert stored.etag == hashlib.md5(data).hexdigest()  # a single part's ETag, on both
    assert await storage.stat("notes/r1/01J0") == stored
    info, body = await storage.open("notes/r1/01J0")
    assert info == stored
    assert b"".join([chunk async for chunk in body]) == data


async def test_an_empty_file_is_an_object(storage: FileStorage) -> None:
    stored = await storage.put("a/empty", chunks_of(), content_type="text/plain", max_size=10)
    assert stored.size == 0
    assert await read(storage, "a/empty") == b""


async def test_a_range_read_serves_from_start_to_end_inclusive(storage: FileStorage) -> None:
    await put(storage, "a/digits", b"0123456789")
    assert await read(storage, "a/digits", 0, 0) == b"0"
    assert await read(storage, "a/digits", 2, 6) == b"23456"
    assert await read(storage, "a/digits", 7) == b"789"
    assert await read(storage, "a/digits", 7, 1000) == b"789"  # an end past the last byte
    info, body = await storage.open("a/digits", 2, 3)
    assert info.size == 10  # the whole object's, for Content-Range
    await body.aclose()


@pytest.mark.parametrize("data", [b"0123456789", b""], ids=["past the end", "empty file"])
async def test_a_range_starting_past_the_end_is_not_satisfiable(
    storage: FileStorage, data: bytes
) -> None:
    await put(storage, "a/file", data)
    with pytest.raises(ApiError) as refused:
        await storage.open("a/file", len(data))
    assert (refused.value.code, refused.value.status) == ("files.range_not_satisfiable", 416)
    assert refused.value.details == {"size": len(data)}


async def test_a_reader_gets_the_old_object_until_its_replacement_is_complete(
    storage: FileStorage,
) -> None:
    await put(storage, "a/avatar", b"old")

    async def replacement() -> AsyncIterator[bytes]:
        yield b"new "
        assert await read(storage, "a/avatar") == b"old"
        yield b"avatar"

    await storage.put("a/avatar", replacement(), content_type="text/plain", max_size=100)
    assert await read(storage, "a/avatar") == b"new avatar"


async def test_a_file_over_max_size_is_refused_while_streaming_and_leaves_nothing(
    storage: FileStorage,
) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 4096

    with pytest.raises(ApiError) as refused:
        await storage.put("a/huge", endless(), content_type="text/plain", max_size=10_000)
    assert (refused.value.code, refused.value.status) == ("files.too_large", 413)
    assert refused.value.details == {"max": 10_000}
    assert pulled == 3  # stopped at the chunk that passed the limit
    await assert_gone(storage, "a/huge")


async def test_a_file_of_exactly_max_size_is_taken(storage: FileStorage) -> None:
    stored = await storage.put("a/full", chunks_of(b"x" * 100), content_type="a/b", max_size=100)
    assert stored.size == 100


async def test_an_upload_interrupted_half_way_leaves_no_object(storage: FileStorage) -> None:
    async def cut_off() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise ConnectionResetError("the phone lost its network")

    with pytest.raises(ConnectionResetError):
        await storage.put("a/photo", cut_off(), content_type="image/jpeg", max_size=MB)
    await assert_gone(storage, "a/photo")


async def test_an_upload_cancelled_when_its_client_goes_away_leaves_no_object(
    storage: FileStorage,
) -> None:
    await cancelled_upload(storage, "a/video", 9)  # past one S3 part
    await assert_gone(storage, "a/video")


async def test_a_key_that_holds_nothing_is_not_found(storage: FileStorage) -> None:
    for call in [storage.open("a/missing"), storage.stat("a/missing")]:
        with pytest.raises(ApiError) as refused:
            await call
        assert (refused.value.code, refused.value.status) == ("files.not_found", 404)
        assert refused.value.details == {"key": "a/missing"}


async def test_deleting_is_idempotent(storage: FileStorage) -> None:
    await put(storage, "a/b/c", b"data")
    await storage.delete("a/b/c")
    await storage.delete("a/b/c")
    await storage.delete("never/was/there")
    await assert_gone(storage, "a/b/c")


async def test_list_gives_the_keys_under_a_prefix(storage: FileStorage) -> None:
    for key in ["posts/r1/a", "posts/r1/b.jpg", "posts/r2/c", "postsx/d", "users/u1/e"]:
        await put(storage, key, b"1")
    assert await keys(storage, "posts/") == ["posts/r1/a", "posts/r1/b.jpg", "posts/r2/c"]
    assert await keys(storage, "posts/r1/") == ["posts/r1/a", "posts/r1/b.jpg"]
    assert await keys(storage, "posts/r1/b") == ["posts/r1/b.jpg"]
    assert await keys(storage, "posts") == [
        "posts/r1/a",
        "posts/r1/b.jpg",
        "posts/r2/c",
        "postsx/d",
    ]
    assert len(await keys(storage)) == 5
    assert await keys(storage, "nothing/") == []


ESCAPES = [
    "../outside",
    "a/../../outside",
    "/etc/passwd",
    "a//b",
    "a/b/",
    "",
    ".hidden",
    "a/.b.meta",
    "a/..",
    "a\\..\\b",
    "a b",
    "caf\u00e9",
    "a/b\x00",
    "x" * 1025,
]


@pytest.mark.parametrize("key", ESCAPES)
async def test_keys_the_server_would_not_make_are_refused(
    storage: FileStorage, key: str, tmp_path: Path
) -> None:
    calls = [
        storage.put(key, chunks_of(b"x"), content_type="text/plain", max_size=10),
        storage.open(key),
        storage.stat(key),
        storage.delete(key),
    ]
    for call in calls:
        with pytest.raises(ApiError) as refused:
            await call
        assert (refused.value.code, refused.value.status) == ("files.invalid_key", 400)
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("prefix", ["../", "/", "a//", "./a", "a/../"])
async def test_prefixes_that_climb_out_are_refused(storage: FileStorage, prefix: str) -> None:
    with pytest.raises(ApiError) as refused:
        await keys(storage, prefix)
    assert refused.value.code == "files.invalid_key"


@pytest.fixture(params=["local", "s3"])
def unreachable_storage(request: pytest.FixtureRequest, tmp_path: Path) -> FileStorage:
    if request.param == "local":
        (tmp_path / "not-a-folder").write_text("")
        return LocalStorage(tmp_path / "not-a-folder" / "files")
    return S3Storage(f"http://127.0.0.1:{free_port()}", "bucket", "key", "secret")


async def test_unreachable_storage_is_503(unreachable_storage: FileStorage) -> None:
    storage = unreachable_storage
    calls = [
        storage.put("a/b", chunks_of(b"x"), content_type="text/plain", max_size=10),
        storage.open("a/b"),
        storage.stat("a/b"),
        storage.delete("a/b"),
        keys(storage, "a/"),
    ]
    for call in calls:
        with pytest.raises(ApiError) as refused:
            await call
        assert (refused.value.code, refused.value.status) == ("files.unavailable", 503)
    await storage.aclose()


SIZE = 64 * MB
CHUNK = 256 << 10


async def generated(blocks: Iterable[int], digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """Fresh bytes per chunk, made on the fly: holding them would show in the peak."""
    rng = random.Random(15)
    for _ in blocks:
        chunk = rng.randbytes(CHUNK)
        digest.update(chunk)
        yield chunk


async def test_memory_stays_flat_while_64_mb_go_up_and_come_back(storage: FileStorage) -> None:
    # measured: 1.6 MB (local) and 8.5 MB (S3, one 8 MB part) up, under 1 MB down
    bound = 3 * MB if isinstance(storage, LocalStorage) else storage.part_size + 2 * MB
    sent, received = hashlib.sha256(), hashlib.sha256()
    tracemalloc.start()
    try:
        stored = await storage.put(
            "big/video",
            generated(range(SIZE // CHUNK), sent),
            content_type="video/mp4",
            max_size=SIZE,
        )
        _, up = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        _, body = await storage.open("big/video")
        async for chunk in body:
            received.update(chunk)
        _, down = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == SIZE
    assert received.digest() == sent.digest()
    assert up < bound, f"uploading 64 MB peaked at {up / MB:.1f} MB"
    assert down < 2 * MB, f"downloading 64 MB peaked at {down / MB:.1f} MB"
