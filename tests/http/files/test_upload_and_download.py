"""A mini program uploads a photo, writes it into a post, and shows it through a temporary URL."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time

import httpx
import pytest
from PIL import Image
from tests.http.files.conftest import jpeg, make_collection, run_jobs, upload

from minibase.data import file_store
from minibase.files.thumbnails import ThumbSpec
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"], "max_size": 100_000, "thumbs": ["32x32"]}


async def test_upload_write_into_a_record_and_download(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}, "photo": PHOTO})
    ann = await make_user()
    image = jpeg()

    stored = (await upload(client, ann, "/api/collections/posts/files/photo", image))["file"]
    assert stored["type"] == "image/jpeg"
    assert stored["size"] == len(image)
    assert stored["name"] == "tmp_5f2a9c.jpg"

    created = await client.post(
        "/api/collections/posts/records",
        headers=ann.headers,
        json={"title": "cat", "photo": stored["id"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["photo"] == stored

    links = await client.post(
        "/api/files/temp-urls", headers=ann.headers, json={"files": [stored["id"]]}
    )
    assert links.status_code == 200, links.text
    url = links.json()["files"][0]["url"]
    download = await client.get(url)
    assert download.status_code == 200, download.text
    assert download.content == image
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["etag"] == f'"{stored["etag"]}"'

    part = await client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == image[:10]
    again = await client.get(url, headers={"If-None-Match": download.headers["etag"]})
    assert again.status_code == 304

    thumb = await client.get(url + "&thumb=32x32")
    assert thumb.status_code == 200, thumb.text
    assert thumb.headers["content-type"] == "image/jpeg"

    deleted = await client.post(
        "/api/files/delete", headers=ann.headers, json={"files": [stored["id"]]}
    )
    assert deleted.json() == {"files": [{"id": stored["id"], "deleted": True}]}
    record = await client.get(
        f"/api/collections/posts/records/{created.json()['_id']}", headers=ann.headers
    )
    assert "photo" not in record.json()
    assert await run_jobs(services) >= 1
    gone = await client.get(url)
    assert gone.status_code == 404, gone.text
    left = (services.settings.data_dir / "files").rglob("*")
    assert [path.name for path in left if path.is_file()] == []


async def test_a_thumbnail_is_made_once_however_many_ask_at_the_same_time(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    stored = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg(300, 200)))[
        "file"
    ]
    made: list[str] = []
    real = file_store.make_thumbnail

    def counted(data: bytes, spec: ThumbSpec) -> tuple[bytes, str]:
        made.append(spec.suffix)
        return real(data, spec)

    monkeypatch.setattr(file_store, "make_thumbnail", counted)
    links = await client.post(
        "/api/files/temp-urls", headers=ann.headers, json={"files": [stored["id"]]}
    )
    url = links.json()["files"][0]["url"] + "&thumb=32x32&fit=contain"
    answers = await asyncio.gather(*(client.get(url) for _ in range(6)))
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert Image.open(io.BytesIO(answers[0].content)).size == (32, 21)  # fitted, not cropped
    assert made == ["thumb-32x32-contain"]
    assert (await client.get(url)).content == answers[0].content  # kept, not made again
    assert made == ["thumb-32x32-contain"]


async def test_the_files_of_a_dropped_file_field_are_collected(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    created = await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    stored = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]
    await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": stored["id"]}
    )
    altered = await client.put(
        "/api/admin/collections/posts",
        headers=admin.headers,
        json={"name": "posts", "fields": {}, "rules": created["rules"]},
    )
    assert altered.status_code == 200, altered.text
    report = await services.files.gc()
    assert report.unheld == [stored["id"]]
    assert [key async for key in services.files.storage.list("")] == []


async def test_thumbnails_are_made_a_few_at_a_time_however_many_are_asked(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    url = "/api/collections/posts/files/photo"
    ids = [(await upload(client, ann, url, jpeg(120 + i, 90)))["file"]["id"] for i in range(8)]
    running, most = 0, 0
    lock = threading.Lock()
    real = file_store.make_thumbnail

    def watched(data: bytes, spec: ThumbSpec) -> tuple[bytes, str]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # long enough for the others to pile in, were they let
        try:
            return real(data, spec)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(file_store, "make_thumbnail", watched)
    links = await client.post("/api/files/temp-urls", headers=ann.headers, json={"files": ids})
    urls = [item["url"] + "&thumb=32x32" for item in links.json()["files"]]
    answers = await asyncio.gather(*(client.get(link) for link in urls))
    assert {answer.status_code for answer in answers} == {200}
    assert 1 <= most <= min(file_store.THUMB_WORKERS, os.cpu_count() or 1)


async def test_a_field_becomes_a_file_field_only_if_its_values_are_no_files_yet(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    created = await make_collection(client, admin, "posts", {"photo": {"type": "string"}})
    ann = await make_user()
    looks_like_an_id = "01kaaaaaaaaaaaaaaaaaaaaaaa"
    await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": looks_like_an_id}
    )
    definition = {"name": "posts", "fields": {"photo": PHOTO}, "rules": created["rules"]}
    refused = await client.put(
        "/api/admin/collections/posts", headers=admin.headers, json=definition
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "collections.incompatible_records"
    problem = refused.json()["details"]["records"][0]["problems"][0]
    assert (problem["field"], problem["code"]) == ("photo", "file")
