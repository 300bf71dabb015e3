"""Operators: the admin API lists a collection's files; `minibase files gc` removes what no
record holds (uploads never written into a record, uploads that never finished, objects no file
names) and keeps everything a record holds."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.cli.cli_process import Cli
from tests.files.streams import chunks_of
from tests.http.files.conftest import jpeg, make_collection, upload

from minibase.config import Settings
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"]}


async def test_admins_list_a_collections_files_newest_first(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    first = (await upload(client, ann, "/api/files/posts/photo", jpeg()))["file"]
    second = (await upload(client, ann, "/api/files/posts/photo", jpeg()))["file"]
    record = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": first["id"]}
    )

    page = await client.get("/api/admin/collections/posts/files?limit=1", headers=admin.headers)
    assert page.status_code == 200, page.text
    assert [item["id"] for item in page.json()["items"]] == [second["id"]]
    assert page.json()["items"][0]["record"] is None  # pending: no record took it yet
    rest = await client.get(
        f"/api/admin/collections/posts/files?before={page.json()['next_before']}",
        headers=admin.headers,
    )
    item = rest.json()["items"][0]
    assert (item["id"], item["record"], item["owner"], item["state"]) == (
        first["id"],
        record.json()["_id"],
        ann.id,
        "ready",
    )
    assert rest.json()["next_before"] is None

    users = await client.get("/api/admin/collections/posts/files", headers=ann.headers)
    assert users.status_code == 403


async def test_gc_removes_what_no_record_holds_and_keeps_the_rest(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    created = await make_collection(client, admin, "posts", {"photo": PHOTO})
    ann = await make_user()
    held = (await upload(client, ann, "/api/files/posts/photo", jpeg()))["file"]
    await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"photo": held["id"]}
    )
    fresh = (await upload(client, ann, "/api/files/posts/photo", jpeg()))["file"]
    stale = (await upload(client, ann, "/api/files/posts/photo", jpeg()))["file"]
    async with services.db.transaction() as conn:  # uploaded two days ago, never written
        await conn.execute(
            "UPDATE files SET created = '2020-01-01T00:00:00.000000Z' WHERE id = ?", stale["id"]
        )
    orphan = f"{created['id']}/01jzzzzzzzzzzzzzzzzzzzzzzz"  # an object whose row never came
    await services.files.storage.put(orphan, chunks_of(b"x"), content_type="x/y", max_size=1)

    dry = await services.files.gc(dry_run=True)
    assert (dry.pending, dry.orphans) == ([stale["id"]], [orphan])
    assert len([k async for k in services.files.storage.list("")]) == 4

    await services.files.gc()
    left = sorted([key async for key in services.files.storage.list("")])
    assert left == sorted(services.files.object_key(created["id"], f["id"]) for f in (held, fresh))
    stale_link = await client.post(
        "/api/files/temp-urls", headers=ann.headers, json={"files": [stale["id"]]}
    )
    assert stale_link.json()["files"][0]["error"]["code"] == "files.not_found"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_gc_command_reports_what_it_removes(
    client: httpx.AsyncClient, admin: Actor, services: Services, settings: Settings
) -> None:
    created = await make_collection(client, admin, "posts", {"photo": PHOTO})
    orphan = f"{created['id']}/01jzzzzzzzzzzzzzzzzzzzzzzz"
    await services.files.storage.put(orphan, chunks_of(b"x"), content_type="x/y", max_size=1)
    cli = Cli(settings.data_dir.parent)
    env = {"MINIBASE_MASTER_KEY": settings.master_key or "", "MINIBASE_DATA_DIR": "data"}

    dry = await asyncio.to_thread(cli.run, "files", "gc", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == (
        "would remove: 0 uploads no record took, 0 unfinished uploads, 0 files no record holds,"
        f" 1 objects no file names\n  object {orphan}\n"
    )
    done = await asyncio.to_thread(cli.run, "files", "gc", env=env)
    assert done.stdout.startswith("removed: 0 uploads"), done.stderr
    assert [key async for key in services.files.storage.list("")] == []
