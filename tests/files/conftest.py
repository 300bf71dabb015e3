"""Storage backends for the tests: a folder of the test's own, and a real S3-compatible server
on loopback (moto's, one per test session and xdist worker) that gives each test its own bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from s3_server import MotoS3

from minibase.files.local import LocalStorage
from minibase.files.s3 import S3Storage
from minibase.files.storage import FileStorage


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
async def s3_storage(moto_s3: MotoS3) -> AsyncIterator[S3Storage]:
    storage = moto_s3.storage(moto_s3.create_bucket())
    yield storage
    await storage.aclose()


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "data" / "files")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> FileStorage:
    """Each contract test runs on both backends."""
    backend: FileStorage = request.getfixturevalue(f"{request.param}_storage")
    return backend
