"""Files in an S3-compatible bucket (moto's server on loopback): the same API, and uploads that
go straight to the bucket through a presigned form, bypassing the app servers."""

from __future__ import annotations

import httpx
import pytest
from tests.files.s3_server import MotoS3
from tests.http.files.conftest import jpeg, make_collection, on_s3, run_jobs, upload

from minibase.config import Settings
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"], "max_size": 200_000, "thumbs": ["16x16"]}


@pytest.fixture
def settings(settings: Settings, moto_s3: MotoS3) -> Settings:
    return on_s3(settings, moto_s3)


async def objects(services: Services) -> list[str]:
    return sorted([key async for key in services.files.storage.list("")])


async def test_upload_download_thumbnail_and_delete_on_s3(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    image = jpeg(80, 60)
    stored = (await upload(client, ann, "/api/collections/posts/files/photo", image))["file"]
    record = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": stored["id"]}
    )
    assert record.status_code == 201, record.text
    url = (
        await client.post(
            "/api/files/temp-urls", headers=ann.headers, json={"files": [stored["id"]]}
        )
    ).json()["files"][0]["url"]
    assert (await client.get(url)).content == image
    assert (await client.get(url, headers={"Range": "bytes=-4"})).content == image[-4:]
    assert (await client.get(url + "&thumb=16x16")).status_code == 200
    assert len(await objects(services)) == 2  # the photo and its thumbnail

    gone = await client.delete(
        f"/api/collections/posts/records/{record.json()['_id']}", headers=ann.headers
    )
    assert gone.status_code == 204, gone.text
    await run_jobs(services)
    assert await objects(services) == []


async def test_a_direct_upload_goes_to_the_bucket_then_is_checked(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    moto_s3: MotoS3,
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    image = jpeg(40, 30)
    started = await client.post(
        "/api/collections/posts/files/photo/direct",
        headers=ann.headers,
        json={"name": "cat.jpg", "size": len(image)},
    )
    assert started.status_code == 201, started.text
    form = started.json()["upload"]
    file_id = started.json()["file"]["id"]

    early = await client.post(f"/api/files/direct/{file_id}/complete", headers=ann.headers)
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "files.not_uploaded"

    # the mini program posts the form to the bucket itself (moto checks form signatures
    # only with its header auth off)
    with moto_s3.without_auth():
        async with httpx.AsyncClient() as phone:
            sent = await phone.post(
                form["url"], data=form["fields"], files={form["part"]: ("tmp.jpg", image)}
            )
    assert sent.status_code in (200, 204), sent.text

    done = await client.post(f"/api/files/direct/{file_id}/complete", headers=ann.headers)
    assert done.status_code == 200, done.text
    assert done.json()["file"]["type"] == "image/jpeg"
    assert done.json()["file"]["name"] == "cat.jpg"
    record = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": file_id}
    )
    assert record.status_code == 201, record.text
    assert record.json()["photo"]["size"] == len(image)


async def test_a_direct_upload_of_another_type_is_removed(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    moto_s3: MotoS3,
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    text = b"not an image at all" * 10
    started = (
        await client.post(
            "/api/collections/posts/files/photo/direct",
            headers=ann.headers,
            json={"size": len(text)},
        )
    ).json()
    form = started["upload"]
    with moto_s3.without_auth():
        async with httpx.AsyncClient() as phone:
            await phone.post(form["url"], data=form["fields"], files={"file": ("x.jpg", text)})
    done = await client.post(
        f"/api/files/direct/{started['file']['id']}/complete", headers=ann.headers
    )
    assert done.status_code == 415, done.text
    assert await objects(services) == []


async def test_a_direct_upload_is_refused_past_the_fields_size(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    too_big = await client.post(
        "/api/collections/posts/files/photo/direct", headers=ann.headers, json={"size": 200_001}
    )
    assert too_big.status_code == 413, too_big.text


async def test_with_files_s3_redirect_downloads_go_to_the_bucket(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    moto_s3: MotoS3,
) -> None:
    services.settings = services.settings.replace(files_s3_redirect=True)
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    image = jpeg(80, 60)
    stored = (await upload(client, ann, "/api/collections/posts/files/photo", image))["file"]
    url = (
        await client.post(
            "/api/files/temp-urls",
            headers=ann.headers,
            json={"files": [stored["id"]], "expires": 300},
        )
    ).json()["files"][0]["url"]

    sent = await client.get(url)
    assert sent.status_code == 302, sent.text
    assert sent.headers["location"].startswith(moto_s3.url)
    assert sent.headers["cache-control"] == "private, max-age=300"
    thumb = await client.get(url + "&thumb=16x16")
    # (moto takes presigned URLs only with its header auth off)
    with moto_s3.without_auth():
        async with httpx.AsyncClient() as phone:
            bytes_back = await phone.get(sent.headers["location"])
            small = await phone.get(thumb.headers["location"])
    assert bytes_back.content == image
    assert small.status_code == 200
    assert small.headers["content-type"] == "image/jpeg"
    assert (await client.get(url.replace("sig=", "sig=x"))).status_code == 403  # still checked
