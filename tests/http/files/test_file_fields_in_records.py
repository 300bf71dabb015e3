"""File fields written through the records API: a write can only take the caller's own pending
uploads of the same collection and field (else 400 records.file_not_found, nothing changed),
the record holds the server's reference whatever the client sent, and a file a record drops
(replaced, removed from a list, its record deleted alone or by filter) leaves storage once the
deletion job has run."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from tests.http.files.conftest import jpeg, make_collection, png, run_jobs, upload
from tests.http.files.stored_files import file_row, file_rows, objects
from tests.http.records.conftest import all_records, assert_error, create, read, records_url

from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"], "thumbs": ["32x32"]}
FIELDS = {
    "title": {"type": "string"},
    "photo": PHOTO,
    "cover": {"type": "file"},
    "album": {"type": "file", "multiple": True, "max_files": 3},
}
MADE_UP = "01JZZZZZZZZZZZZZZZZZZZZZZZ"


async def posts(
    client: httpx.AsyncClient, admin: Actor, preset: str = "public_read_owner_write"
) -> str:
    collection = await make_collection(client, admin, "posts", FIELDS, rules={"preset": preset})
    collection_id: str = collection["id"]
    return collection_id


async def pending(
    client: httpx.AsyncClient, actor: Actor, field: str = "photo", collection: str = "posts"
) -> dict[str, Any]:
    ref: dict[str, Any] = (
        await upload(client, actor, f"/api/collections/{collection}/files/{field}", jpeg())
    )["file"]
    return ref


async def patch(
    client: httpx.AsyncClient, actor: Actor, record_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(
        records_url("posts", f"/{record_id}"), headers=actor.headers, json=body
    )


def key(collection_id: str, ref: dict[str, Any]) -> str:
    return f"{collection_id}/{ref['id']}"


# -- what a write may name -------------------------------------------------------------------

CASES = [
    "another user's upload",
    "another collection's upload",
    "another field's upload",
    "a made-up id",
    "a file another record holds",
    "a file being deleted",
]


async def _file_not_yours(
    case: str, client: httpx.AsyncClient, admin: Actor, ann: Actor, bob: Actor
) -> str:
    if case == "another user's upload":
        return str((await pending(client, bob))["id"])
    if case == "another collection's upload":
        await make_collection(client, admin, "pages", {"photo": PHOTO})
        return str((await pending(client, ann, collection="pages"))["id"])
    if case == "another field's upload":
        return str((await pending(client, ann, field="cover"))["id"])
    if case == "a made-up id":
        return MADE_UP
    ref = await pending(client, ann)
    if case == "a file another record holds":
        await create(client, ann.headers, "posts", {"title": "other", "photo": ref["id"]})
        return str(ref["id"])
    deleted = await client.post(
        "/api/files/delete", headers=ann.headers, json={"files": [ref["id"]]}
    )
    assert deleted.json()["files"][0] == {"id": ref["id"], "deleted": True}
    return str(ref["id"])


@pytest.mark.parametrize("case", CASES)
async def test_a_write_naming_a_file_it_may_not_take_is_400_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, case: str
) -> None:
    await posts(client, admin)
    ann, bob = await make_user(), await make_user()
    record = await create(client, ann.headers, "posts", {"title": "mine"})
    file_id = await _file_not_yours(case, client, admin, ann, bob)
    records_before, rows_before = (
        await all_records(client, admin, "posts"),
        await file_rows(services),
    )

    writes = {
        "create": client.post(
            records_url("posts"), headers=ann.headers, json={"title": "new", "photo": file_id}
        ),
        "update": patch(client, ann, record["_id"], {"photo": {"id": file_id}}),
        "bulk-create": client.post(
            records_url("posts", "/bulk-create"),
            headers=ann.headers,
            json={"records": [{"title": "fine"}, {"title": "new", "photo": file_id}]},
        ),
        "bulk-update": client.post(
            records_url("posts", "/bulk-update"),
            headers=ann.headers,
            json={"filter": {"title": "mine"}, "update": {"photo": file_id}},
        ),
    }
    for write, sent in writes.items():
        response = await sent
        body = assert_error(response, 400, "records.file_not_found")
        assert body["details"]["missing"] == [file_id], write

    assert await all_records(client, admin, "posts") == records_before
    assert await file_rows(services) == rows_before


async def test_two_records_cannot_take_the_same_upload(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    ref = await pending(client, ann)

    both = await client.post(
        records_url("posts", "/bulk-create"),
        headers=ann.headers,
        json={"records": [{"title": "a", "photo": ref["id"]}, {"title": "b", "photo": ref["id"]}]},
    )
    assert_error(both, 400, "records.file_not_found")
    assert await all_records(client, admin, "posts") == []

    racing = await asyncio.gather(
        *(
            client.post(
                records_url("posts"), headers=ann.headers, json={"title": t, "photo": ref["id"]}
            )
            for t in ("a", "b", "c")
        )
    )
    assert sorted(r.status_code for r in racing) == [201, 400, 400], [r.text for r in racing]
    winner = next(r.json() for r in racing if r.status_code == 201)
    row = await file_row(services, ref["id"])
    assert row is not None
    assert (row.record_id, row.state) == (winner["_id"], "ready")
    assert [r["_id"] for r in await all_records(client, admin, "posts")] == [winner["_id"]]


async def test_a_forged_reference_is_replaced_by_the_servers(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin)
    ann = await make_user()
    photo, first, second = (
        await pending(client, ann),
        await pending(client, ann, "album"),
        await pending(client, ann, "album"),
    )
    forged = {
        "name": "evil.exe",
        "size": 1,
        "type": "text/html",
        "etag": "0",
        "created": "1970-01-01T00:00:00Z",
    }

    record = await create(
        client,
        ann.headers,
        "posts",
        {"title": "cat", "photo": {**photo, **forged}, "album": [{**first, **forged}]},
    )
    assert record["photo"] == photo
    assert record["album"] == [first]

    changed = await patch(
        client,
        ann,
        record["_id"],
        {
            "photo": {"id": photo["id"], "size": 10**9},
            "album": [{**first, **forged}, {**second, **forged}],
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["photo"] == photo
    assert changed.json()["album"] == [first, second]
    assert (await read(client, ann.headers, "posts", record["_id"]))["album"] == [first, second]

    dotted = await patch(
        client,
        ann,
        record["_id"],
        {"$set": {"photo.name": "evil.exe", "photo.type": "text/html"}, "$inc": {"photo.size": 5}},
    )
    assert dotted.status_code == 200, dotted.text
    assert dotted.json()["photo"] == photo
    assert dotted.json()["album"] == [first, second]


async def test_a_dotted_update_cannot_point_a_field_at_another_users_file(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann, bob = await make_user(), await make_user()
    mine, theirs = await pending(client, ann), await pending(client, bob)
    record = await create(client, ann.headers, "posts", {"title": "t", "photo": mine["id"]})
    rows_before = await file_rows(services)

    moved = await patch(client, ann, record["_id"], {"$set": {"photo.id": theirs["id"]}})

    assert_error(moved, 400, "records.file_not_found")
    assert await read(client, ann.headers, "posts", record["_id"]) == record
    assert await file_rows(services) == rows_before


# -- files a record lets go ------------------------------------------------------------------


async def test_a_multiple_field_appends_reorders_and_drops_one_file_which_then_leaves(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    a, b, c = [await pending(client, ann, "album") for _ in range(3)]
    record = await create(client, ann.headers, "posts", {"title": "t", "album": [a["id"], b["id"]]})
    assert record["album"] == [a, b]

    appended = await patch(client, ann, record["_id"], {"album": [a["id"], b["id"], c["id"]]})
    assert appended.json()["album"] == [a, b, c]
    reordered = await patch(client, ann, record["_id"], {"album": [c["id"], a["id"], b["id"]]})
    assert reordered.json()["album"] == [c, a, b]
    assert await run_jobs(services) == 0  # reordering drops nothing
    assert objects(services.settings) == sorted(key(cid, ref) for ref in (a, b, c))

    removed = await patch(client, ann, record["_id"], {"album": [c["id"], a["id"]]})
    assert removed.json()["album"] == [c, a]
    row = await file_row(services, b["id"])
    assert row is not None
    assert row.state == "deleting"
    assert await run_jobs(services) == 1
    assert objects(services.settings) == sorted(key(cid, ref) for ref in (a, c))
    assert await file_row(services, b["id"]) is None


async def test_a_multiple_field_takes_at_most_max_files(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    refs = [await pending(client, ann, "album") for _ in range(4)]
    record = await create(
        client, ann.headers, "posts", {"title": "t", "album": [r["id"] for r in refs[:3]]}
    )

    too_many = await patch(client, ann, record["_id"], {"album": [r["id"] for r in refs]})
    body = assert_error(too_many, 400, "records.invalid")
    assert body["details"]["problems"][0]["field"] == "album"
    created = await client.post(
        records_url("posts"), headers=ann.headers, json={"album": [r["id"] for r in refs]}
    )
    assert_error(created, 400, "records.invalid")

    assert (await read(client, ann.headers, "posts", record["_id"]))["album"] == refs[:3]
    extra = await file_row(services, refs[3]["id"])
    assert extra is not None
    assert (extra.state, extra.record_id) == ("ready", None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("replace", id="another-file"),
        pytest.param("null", id="set-to-null"),
        pytest.param("unset", id="unset"),
        pytest.param("put-without", id="put-without-the-field"),
    ],
)
async def test_a_single_file_replaced_or_removed_leaves_after_the_job_runs(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, change: str
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    old, new = await pending(client, ann), await pending(client, ann)
    record = await create(client, ann.headers, "posts", {"title": "t", "photo": old["id"]})

    url = records_url("posts", f"/{record['_id']}")
    if change == "replace":
        response = await patch(client, ann, record["_id"], {"photo": new["id"]})
    elif change == "null":
        response = await patch(client, ann, record["_id"], {"photo": None})
    elif change == "unset":
        response = await patch(client, ann, record["_id"], {"$unset": {"photo": True}})
    else:
        response = await client.put(url, headers=ann.headers, json={"title": "t"})
    assert response.status_code == 200, response.text
    assert response.json().get("photo") == (new if change == "replace" else None)

    assert key(cid, old) in objects(services.settings)  # until the job runs
    assert await run_jobs(services) == 1
    left = objects(services.settings)
    assert key(cid, old) not in left
    assert await file_row(services, old["id"]) is None
    assert key(cid, new) in left  # attached, or still pending


async def _with_thumbnail(client: httpx.AsyncClient, actor: Actor, ref: dict[str, Any]) -> None:
    links = await client.post(
        "/api/files/temp-urls", headers=actor.headers, json={"files": [ref["id"]]}
    )
    thumb = await client.get(links.json()["files"][0]["url"] + "&thumb=32x32")
    assert thumb.status_code == 200, thumb.text


async def test_deleting_a_record_deletes_its_files_and_their_thumbnails(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    photo, cover, a, b = (
        await pending(client, ann),
        await pending(client, ann, "cover"),
        await pending(client, ann, "album"),
        await pending(client, ann, "album"),
    )
    keep = await pending(client, ann)
    record = await create(
        client,
        ann.headers,
        "posts",
        {"title": "t", "photo": photo["id"], "cover": cover["id"], "album": [a["id"], b["id"]]},
    )
    kept = await create(client, ann.headers, "posts", {"title": "k", "photo": keep["id"]})
    await _with_thumbnail(client, ann, photo)
    assert f"{key(cid, photo)}.thumb-32x32-cover" in objects(services.settings)

    deleted = await client.delete(records_url("posts", f"/{record['_id']}"), headers=ann.headers)
    assert deleted.status_code in (200, 204), deleted.text
    assert await run_jobs(services) == 4

    assert objects(services.settings) == [key(cid, keep)]
    assert [row.id for row in await file_rows(services)] == [keep["id"]]
    assert (await read(client, ann.headers, "posts", kept["_id"]))["photo"] == keep


async def test_bulk_delete_by_filter_deletes_the_files_of_the_records_it_deletes(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    gone = [await pending(client, ann) for _ in range(2)]
    gone_album = await pending(client, ann, "album")
    stays = await pending(client, ann)
    await create(client, ann.headers, "posts", {"title": "old", "photo": gone[0]["id"]})
    await create(
        client,
        ann.headers,
        "posts",
        {"title": "old", "photo": gone[1]["id"], "album": [gone_album["id"]]},
    )
    await create(client, ann.headers, "posts", {"title": "new", "photo": stays["id"]})

    response = await client.post(
        records_url("posts", "/bulk-delete"), headers=ann.headers, json={"filter": {"title": "old"}}
    )
    assert response.json() == {"deleted": 2}, response.text
    assert await run_jobs(services) == 3

    assert objects(services.settings) == [key(cid, stays)]


async def test_bulk_update_by_filter_that_drops_a_file_deletes_it(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    gone, stays = await pending(client, ann), await pending(client, ann)
    await create(client, ann.headers, "posts", {"title": "old", "photo": gone["id"]})
    await create(client, ann.headers, "posts", {"title": "new", "photo": stays["id"]})

    response = await client.post(
        records_url("posts", "/bulk-update"),
        headers=ann.headers,
        json={"filter": {"title": "old"}, "update": {"$unset": {"photo": True}}},
    )
    assert response.status_code == 200, response.text
    assert await run_jobs(services) == 1

    assert objects(services.settings) == [key(cid, stays)]


# -- uploading straight into a record --------------------------------------------------------


def into(record_id: str, field: str) -> str:
    return f"/api/collections/posts/records/{record_id}/files/{field}"


async def test_an_upload_into_a_single_field_replaces_the_file_and_the_old_one_leaves(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    old = await pending(client, ann)
    record = await create(client, ann.headers, "posts", {"title": "t", "photo": old["id"]})

    answer = await upload(
        client, ann, into(record["_id"], "photo"), png(), content_type="image/png"
    )

    assert answer["record"]["photo"] == answer["file"]
    assert answer["file"]["type"] == "image/png"
    assert (await read(client, ann.headers, "posts", record["_id"]))["photo"] == answer["file"]
    assert await run_jobs(services) == 1
    assert objects(services.settings) == [key(cid, answer["file"])]


async def test_an_upload_into_a_multiple_field_appends_until_max_files(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    cid = await posts(client, admin)
    ann = await make_user()
    record = await create(client, ann.headers, "posts", {"title": "t"})

    added = [
        (await upload(client, ann, into(record["_id"], "album"), jpeg()))["file"] for _ in range(3)
    ]
    full = await upload(client, ann, into(record["_id"], "album"), jpeg(), expect=400)

    assert full["code"] == "records.invalid"
    assert (await read(client, ann.headers, "posts", record["_id"]))["album"] == added
    await run_jobs(services)
    assert objects(services.settings) == sorted(key(cid, ref) for ref in added)
    assert sorted(row.id for row in await file_rows(services)) == sorted(r["id"] for r in added)


@pytest.mark.parametrize("preset", ["public_read_owner_write", "owner_only"])
@pytest.mark.parametrize("field", ["photo", "album"])
async def test_an_upload_into_another_users_record_is_refused_as_the_records_api_refuses(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    preset: str,
    field: str,
) -> None:
    await posts(client, admin, preset)
    ann, bob = await make_user(), await make_user()
    record = await create(client, ann.headers, "posts", {"title": "ann's"})
    as_records_api = await patch(client, bob, record["_id"], {"title": "bob's"})
    assert as_records_api.status_code in (403, 404)

    response = await client.post(
        into(record["_id"], field), headers=bob.headers, files={"file": ("a.jpg", jpeg())}
    )

    assert response.status_code == as_records_api.status_code, response.text
    assert response.json()["code"] == as_records_api.json()["code"]
    assert await read(client, ann.headers, "posts", record["_id"]) == record
    await run_jobs(services)
    assert [row for row in await file_rows(services) if row.state == "ready"] == []
    assert objects(services.settings) == []


async def test_an_upload_into_a_missing_record_or_anonymously_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    record = await create(client, ann.headers, "posts", {"title": "t"})

    missing = await client.post(
        into(MADE_UP, "photo"), headers=ann.headers, files={"file": ("a.jpg", jpeg())}
    )
    assert_error(missing, 404, "records.not_found")
    anonymous = await client.post(into(record["_id"], "photo"), files={"file": ("a.jpg", jpeg())})
    assert_error(anonymous, 401, "auth.required")
    unknown = await client.post(
        into(record["_id"], "title"), headers=ann.headers, files={"file": ("a.jpg", jpeg())}
    )
    assert_error(unknown, 404, "files.unknown_field")
    assert await file_rows(services) == []
    assert objects(services.settings) == []


# -- deleting files --------------------------------------------------------------------------


async def test_another_user_cannot_delete_an_upload_or_a_file_out_of_a_record(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann, bob = await make_user(), await make_user()
    loose, held = await pending(client, ann), await pending(client, ann)
    record = await create(client, ann.headers, "posts", {"title": "t", "photo": held["id"]})
    rows_before = await file_rows(services)

    answer = await client.post(
        "/api/files/delete", headers=bob.headers, json={"files": [loose["id"], held["id"]]}
    )

    assert answer.status_code == 200, answer.text
    results = answer.json()["files"]
    assert [r["id"] for r in results] == [loose["id"], held["id"]]
    assert results[0]["error"]["code"] == "files.not_found"
    assert "deleted" not in results[1]
    assert await file_rows(services) == rows_before
    assert (await read(client, ann.headers, "posts", record["_id"]))["photo"] == held
