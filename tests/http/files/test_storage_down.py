"""The S3 service cannot be reached (here: a bucket on a loopback port nobody listens on): an
upload is 503 files.unavailable, and neither a `files` row nor a record change is left."""

from __future__ import annotations

import httpx
import pytest
from tests.http.files.conftest import jpeg, make_collection
from tests.http.files.stored_files import file_rows
from tests.http.records.conftest import assert_error, create, read

from minibase.config import Settings
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser
from minibase.testing.sandbox import free_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(
        s3_endpoint=f"http://127.0.0.1:{free_port()}",  # closed: connections are refused
        s3_bucket="minibase-files",
        s3_access_key="minibase",
        s3_secret_key="minibase-secret",
    )


FIELDS = {
    "title": {"type": "string"},
    "photo": {"type": "file"},
    "album": {"type": "file", "multiple": True},
}


async def test_an_upload_while_storage_is_down_is_503_and_writes_no_row(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()

    response = await client.post(
        "/api/collections/posts/files/photo", headers=ann.headers, files={"file": ("a.jpg", jpeg())}
    )

    assert_error(response, 503, "files.unavailable")
    assert await file_rows(services) == []


@pytest.mark.parametrize("field", ["photo", "album"])
async def test_an_upload_into_a_record_while_storage_is_down_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, field: str
) -> None:
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()
    record = await create(client, ann.headers, "posts", {"title": "cat"})

    response = await client.post(
        f"/api/collections/posts/records/{record['_id']}/files/{field}",
        headers=ann.headers,
        files={"file": ("a.jpg", jpeg())},
    )

    assert_error(response, 503, "files.unavailable")
    assert await read(client, ann.headers, "posts", record["_id"]) == record
    assert await file_rows(services) == []
