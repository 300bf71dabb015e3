"""Edges of the files feature found by trying to break it: hidden files answer like missing
ones, repeated ids are answered by position, 416s say the size, names lose bidi tricks, a phone
gone half way is no server error, the hourly gc removes abandoned uploads (and never one a
record takes while it runs), a dropped collection's files go.

Time is a FrozenClock here (links' expiry, the pending-upload window)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.http.files.asgi_calls import call_asgi
from tests.http.files.conftest import jpeg, make_collection, run_jobs, upload
from tests.http.files.raw_multipart import CONTENT_TYPE, body_with_file, file_head
from tests.http.files.stored_files import file_row, objects
from tests.http.records.conftest import create, records_url

from minibase.app import MinibaseApp
from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.files.storage import FileStorage
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"]}
FIELDS = {"title": {"type": "string"}, "photo": PHOTO, "doc": {"type": "file"}}


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def temp_urls(
    client: httpx.AsyncClient, actor: Actor, ids: list[str], **extra: Any
) -> list[dict[str, Any]]:
    response = await client.post(
        "/api/files/temp-urls", headers=actor.headers, json={"files": ids, **extra}
    )
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["files"]
    return answers


async def test_a_file_of_a_collection_only_admins_read_is_files_not_found_to_a_user(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """Contract: temp-urls' per-file errors are files.not_found for "missing or hidden".

    Today a user gets {"code": "auth.forbidden"} for a file whose collection has no read rule
    (admins only), and files.not_found for a made-up id: the answer tells a hidden file from a
    missing one. Cause: data/downloads.py `_check_may_see` maps only records.not_found from
    get_record to files.not_found; rule_condition (data/access.py) raises auth.forbidden
    when the rule is None, and that is passed through."""
    await make_collection(client, admin, "posts", FIELDS, rules={"preset": "admin_only"})
    ann = await make_user()
    ref = (await upload(client, admin, "/api/collections/posts/files/photo", jpeg()))["file"]
    await create(client, admin.headers, "posts", {"photo": ref["id"]})

    (answer,) = await temp_urls(client, ann, [ref["id"]])

    assert answer.get("error", {}).get("code") == "files.not_found", answer


async def test_a_temp_url_lasts_files_link_seconds_unless_asked_otherwise(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    clock: FrozenClock,
    services: Services,
) -> None:
    """`expires` is optional: a link then lasts files_link_seconds (an hour by default)."""
    await make_collection(client, admin, "posts", FIELDS, rules={"preset": "owner_only"})
    ann = await make_user()
    ref = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]

    (answer,) = await temp_urls(client, ann, [ref["id"]])

    assert services.settings.files_link_seconds == 3600
    assert answer["expires_at"] == int(clock.now().timestamp()) + 3600


async def test_temp_urls_answer_once_for_each_id_asked_even_a_repeated_one(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """Contract: one answer per id "in the order asked". A chat list asks for each message's
    sender avatar and pairs answers with messages by position; today a repeated id is answered
    once, so every answer after it lands on the wrong message. Cause: data/downloads.py `_ids`
    de-duplicates (`dict.fromkeys`) and `temp_urls` answers the de-duplicated list (the same
    holds for POST /api/files/delete)."""
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()
    avatar = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]
    other = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg(8, 8)))["file"]
    asked = [avatar["id"], avatar["id"], other["id"]]

    answers = await temp_urls(client, ann, asked)

    assert [answer["id"] for answer in answers] == asked


async def test_a_range_outside_the_file_tells_the_size_in_content_range(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """RFC 9110 §15.5.17: a 416 to a byte-range request SHOULD carry `Content-Range: bytes
    */<size>`, which players use to learn the length and retry. Today the 416 is the plain
    JSON error. Cause: http/file_responses.py `wanted_range` raises an ApiError and the
    error response (http/json.py) sets no Content-Range."""
    await make_collection(client, admin, "posts", FIELDS, rules={"preset": "owner_only"})
    ann = await make_user()
    image = jpeg()
    ref = (await upload(client, ann, "/api/collections/posts/files/photo", image))["file"]
    (answer,) = await temp_urls(client, ann, [ref["id"]])

    response = await client.get(answer["url"], headers={"Range": f"bytes={len(image)}-"})

    assert response.status_code == 416
    assert response.headers.get("content-range") == f"bytes */{len(image)}"


async def test_a_suffix_range_of_an_empty_file_is_416(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """RFC 9110 §14.1.3: of a zero-length file, a suffix range is unsatisfiable. Today an
    empty upload is taken, and `Range: bytes=-5` on it answers 206 with `Content-Range:
    bytes 0--1/0`. Cause: http/file_responses.py `wanted_range` returns (0, size - 1) for a
    suffix range without checking size > 0."""
    await make_collection(client, admin, "posts", FIELDS, rules={"preset": "owner_only"})
    ann = await make_user()
    ref = (await upload(client, ann, "/api/collections/posts/files/doc", b"", content_type=None))[
        "file"
    ]
    (answer,) = await temp_urls(client, ann, [ref["id"]])

    response = await client.get(answer["url"], headers={"Range": "bytes=-5"})

    assert response.status_code == 416, (response.status_code, response.headers)


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("photo\u202egpj.exe", id="right-to-left-override"),
        pytest.param("\u2066cat\u2069.jpg", id="isolates"),
        pytest.param("cat\u200f.jpg", id="right-to-left-mark"),
    ],
)
async def test_bidirectional_controls_are_taken_out_of_a_shown_name(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, filename: str
) -> None:
    """A name is shown "without ... control characters" (uploads.py `display_name`), but the
    Unicode bidi controls pass: "photo\\u202egpj.exe" is shown as "photoexe.jpg", the old
    trick to pass an .exe off as a picture in a chat. Cause: `_UNSAFE` in data/uploads.py
    covers C0 controls and DEL only, not format characters (category Cf) such as U+202E,
    U+2066..U+2069, U+200E/U+200F."""
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()
    response = await client.post(
        "/api/collections/posts/files/photo",
        headers={**ann.headers, "Content-Type": CONTENT_TYPE},
        content=body_with_file(jpeg(), filename=filename),
    )
    assert response.status_code == 201, response.text

    name = response.json()["file"]["name"]

    assert not any(
        ch in name for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ), repr(name)


async def test_a_client_gone_half_way_is_not_logged_as_a_server_error(
    app: MinibaseApp,
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A phone that loses its network during wx.uploadFile is everyday life; today each one is
    logged at ERROR as "unhandled error" with a traceback (and answered 500 server.internal),
    which pages whoever watches the logs. Cause: routes/files.py passes `request.stream()`,
    whose ClientDisconnect escapes files/multipart.py (its docstring says a disconnect "ends
    the body (the parser sees the cut)", which holds only for a `receive` callable) up to
    http/middleware.py's catch-all."""
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": file_head("cat.jpg") + jpeg(), "more_body": True},
        {"type": "http.disconnect"},
    ]
    headers = {**ann.headers, "Content-Type": CONTENT_TYPE}

    with caplog.at_level(logging.WARNING):
        await call_asgi(app, "POST", "/api/collections/posts/files/photo", headers, incoming)

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_uploads_never_written_into_a_record_are_removed_after_files_pending_hours(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    clock: FrozenClock,
) -> None:
    """Contract: an upload's id "is then written into a record within 24 h (else gc removes
    it)". Nothing runs the gc: `Files.gc` (data/file_store.py) has no caller, no `minibase
    files gc` command (cli.py) and no scheduled job (functions/runtime.py `enqueue_due`
    enqueues schedules and payment reconciliation only). Every abandoned upload stays on disk
    for ever. This test runs the scheduler's round and the job worker, as a server does."""
    cid = (await make_collection(client, admin, "posts", FIELDS))["id"]
    ann = await make_user()
    abandoned = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]

    clock.advance(hours=services.settings.files_pending_hours + 1)
    await services.functions.enqueue_due()
    await run_jobs(services)

    assert await file_row(services, abandoned["id"]) is None
    assert f"{cid}/{abandoned['id']}" not in objects(services.settings)


async def signed_in_again(client: httpx.AsyncClient, actor: Actor) -> Actor:
    """The actor with a fresh access token (after the clock moved past the old one's)."""
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    pair = refreshed.json()
    return Actor(actor.id, pair["access_token"], pair["refresh_token"])


class PausedListing:
    """The real storage, but a listing waits until the test lets it go on (to put a request
    between the gc's reading of the rows and its removal of what it read)."""

    def __init__(self, storage: FileStorage) -> None:
        self.storage = storage
        self.listing = asyncio.Event()
        self.go_on = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        self.listing.set()
        await self.go_on.wait()
        async for key in self.storage.list(prefix):
            yield key


async def test_the_gc_does_not_delete_an_upload_a_record_takes_while_it_runs(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    clock: FrozenClock,
) -> None:
    """`Files.gc` reads the stale pending rows, lists storage, then marks what it read
    `deleting` (data/file_refs.py `discard_files`: `UPDATE files SET state = 'deleting' WHERE
    id IN (...)`) without checking they are still pending. A record that takes the upload
    in between (a write at the 24 h mark) is answered 201, then its file is deleted under it.
    Either the write should fail (records.file_not_found) or the file should stay."""
    await make_collection(client, admin, "posts", FIELDS)
    ann = await make_user()
    late = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]
    clock.advance(hours=services.settings.files_pending_hours, seconds=1)
    ann = await signed_in_again(client, ann)
    paused = PausedListing(services.files.storage)
    services.files.storage = paused

    gc = asyncio.create_task(services.files.gc())
    await paused.listing.wait()
    written = await client.post(
        records_url("posts"), headers=ann.headers, json={"photo": late["id"]}
    )
    paused.go_on.set()
    await gc
    await run_jobs(services)

    if written.status_code == 201:
        (answer,) = await temp_urls(client, ann, [late["id"]])
        assert "url" in answer, answer
        assert (await client.get(answer["url"])).status_code == 200
    else:
        assert written.json()["code"] == "records.file_not_found"


async def test_dropping_a_collection_removes_its_files_once_the_jobs_have_run(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    clock: FrozenClock,
) -> None:
    """Dropping a collection leaves every file of its records on disk for ever: `_drop`
    (data/definitions.py) does not discard them, and the gc that would find them (`unheld`
    in data/file_store.py) never runs (see the test above). Here the server gets a day of
    scheduler rounds and jobs; the objects should be gone by then."""
    cid = (await make_collection(client, admin, "posts", FIELDS))["id"]
    ann = await make_user()
    ref = (await upload(client, ann, "/api/collections/posts/files/photo", jpeg()))["file"]
    await create(client, ann.headers, "posts", {"photo": ref["id"]})

    dropped = await client.delete("/api/admin/collections/posts", headers=admin.headers)
    assert dropped.status_code in (200, 204), dropped.text
    await run_jobs(services)
    clock.advance(hours=services.settings.files_pending_hours + 1)
    await services.functions.enqueue_due()
    await run_jobs(services)

    assert f"{cid}/{ref['id']}" not in objects(services.settings)
