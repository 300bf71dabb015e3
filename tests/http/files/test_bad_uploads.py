"""Uploads that go wrong: too large, the wrong type, a hostile file name, cut off half way, a
disk that fails, a body that is no upload at all. Each is refused with its code and leaves no
`files` row a record could name and no object (nor a temporary) on disk."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.http.files.asgi_calls import call_asgi
from tests.http.files.conftest import jpeg, make_collection, png, upload
from tests.http.files.raw_multipart import (
    CLOSE,
    CONTENT_TYPE,
    Trickle,
    body_with_file,
    file_head,
    text_part,
)
from tests.http.files.stored_files import (
    everything_on_disk,
    file_rows,
    files_root,
    objects,
)
from tests.http.records.conftest import assert_error

from minibase.app import MinibaseApp, create_app
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"], "max_size": 100_000}
SCAN = {"type": "file", "types": ["application/pdf"]}
ANYTHING = {"type": "file"}
FIELDS = {"photo": PHOTO, "scan": SCAN, "doc": ANYTHING}


async def posts(client: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    return await make_collection(client, admin, "posts", FIELDS)


async def assert_nothing_kept(services: Services) -> None:
    assert await file_rows(services) == []
    assert everything_on_disk(services.settings) == []


async def send_raw(
    client: httpx.AsyncClient,
    actor: Actor,
    body: Any,
    url: str = "/api/collections/posts/files/photo",
) -> httpx.Response:
    headers = {**actor.headers, "Content-Type": CONTENT_TYPE}
    return await client.post(url, headers=headers, content=body)


# -- too large -----------------------------------------------------------------------------


async def test_an_oversized_file_is_refused_while_it_streams_and_leaves_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    body = Trickle(b"\xff\xd8\xff\xe0", total=64 * 1024 * 1024)  # 64 MB of "JPEG"

    response = await send_raw(client, ann, body)

    error = assert_error(response, 413, "files.too_large")
    assert error["details"] == {"max": 100_000}
    # refused within a few chunks of the limit: the other 63.9 MB were never asked for
    assert body.pulled < 100_000 + 256 * 1024, body.pulled
    await assert_nothing_kept(services)


async def test_a_file_one_byte_over_max_size_is_refused_and_one_at_it_is_taken(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    image = jpeg()
    at_limit = image + b"\0" * (100_000 - len(image))

    over = await upload(
        client, ann, "/api/collections/posts/files/photo", at_limit + b"\0", expect=413
    )
    assert over["code"] == "files.too_large"
    await assert_nothing_kept(services)
    taken = await upload(client, ann, "/api/collections/posts/files/photo", at_limit)
    assert taken["file"]["size"] == 100_000


@pytest.fixture
async def small_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on the test's database whose settings take files of 20 kB at most."""
    settings = services.settings.replace(files_max_size=20_000)
    app = create_app(settings, services=dataclasses.replace(services, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
        yield http


async def test_a_field_without_max_size_takes_files_max_size_from_the_settings(
    small_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
) -> None:
    await posts(client, admin)
    ann = await make_user()
    refused = await upload(
        small_client, ann, "/api/collections/posts/files/doc", jpeg() + b"\0" * 20_000, expect=413
    )

    assert refused["code"] == "files.too_large"
    assert refused["details"] == {"max": 20_000}
    await assert_nothing_kept(services)


# -- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "data", "claimed", "found"),
    [
        pytest.param("scan", png(), "application/pdf", "image/png", id="png-to-pdf-field"),
        pytest.param("photo", b"just some words\n", "image/jpeg", "text/plain", id="text-as-jpeg"),
        pytest.param(
            "photo", b"<html><script>alert(1)</script>", "image/png", "text/html", id="html-as-png"
        ),
        pytest.param("photo", b"%PDF-1.7\n%\xe2\xe3", "image/jpeg", "application/pdf", id="pdf"),
    ],
)
async def test_the_content_decides_the_type_and_a_type_the_field_refuses_is_415(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    field: str,
    data: bytes,
    claimed: str,
    found: str,
) -> None:
    await posts(client, admin)
    ann = await make_user()

    refused = await upload(
        client,
        ann,
        f"/api/collections/posts/files/{field}",
        data,
        filename="tmp.jpg",
        content_type=claimed,
        expect=415,
    )

    assert refused["code"] == "files.type_not_allowed"
    assert refused["details"]["found"] == found
    assert refused["details"]["claimed"] == claimed
    await assert_nothing_kept(services)


async def test_a_jpeg_sent_as_text_is_stored_as_the_jpeg_it_is(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin)
    ann = await make_user()

    stored = await upload(
        client,
        ann,
        "/api/collections/posts/files/photo",
        jpeg(),
        filename="a.txt",
        content_type="text/plain",
    )

    assert stored["file"]["type"] == "image/jpeg"


# -- names -----------------------------------------------------------------------------------

HOSTILE_NAMES = [
    pytest.param("../../etc/passwd", "passwd", id="dot-dot-slash"),
    pytest.param("..\\..\\x", "x", id="dot-dot-backslash"),
    pytest.param("/etc/passwd", "passwd", id="absolute"),
    pytest.param("C:\\Windows\\win.ini", "win.ini", id="drive"),
    pytest.param("a\x01b\x1fc\x7fd\tz.jpg", None, id="control-characters"),
    pytest.param("..", None, id="only-dots"),
]


def _assert_shown_safely(name: str) -> None:
    assert name
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert all(ch >= " " and ch != "\x7f" for ch in name), repr(name)


@pytest.mark.parametrize(("filename", "shown"), HOSTILE_NAMES)
async def test_a_hostile_filename_is_shown_sanitized_and_never_names_the_object(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    filename: str,
    shown: str | None,
) -> None:
    collection = await posts(client, admin)
    ann = await make_user()

    response = await send_raw(client, ann, body_with_file(jpeg(), filename=filename))

    assert response.status_code == 201, response.text
    ref = response.json()["file"]
    _assert_shown_safely(ref["name"])
    if shown is not None:
        assert ref["name"] == shown
    assert objects(services.settings) == [f"{collection['id']}/{ref['id']}"]
    assert everything_on_disk(services.settings) == [
        f"{collection['id']}/.{ref['id']}.meta",
        f"{collection['id']}/{ref['id']}",
    ]
    data_dir = services.settings.data_dir
    assert not (data_dir / "etc").exists()
    assert not (data_dir.parent / "etc").exists()
    assert not any(files_root(services.settings).parent.rglob("passwd"))


@pytest.mark.parametrize(
    "given", ["../../etc/passwd", "..\\..\\x", "a\x00b\r\nc.jpg", "\x1b[31mred.jpg"]
)
async def test_a_hostile_name_field_is_shown_sanitized(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, given: str
) -> None:
    collection = await posts(client, admin)
    ann = await make_user()
    body = text_part("name", given) + body_with_file(jpeg(), filename="tmp.jpg")

    response = await send_raw(client, ann, body)

    assert response.status_code == 201, response.text
    ref = response.json()["file"]
    _assert_shown_safely(ref["name"])
    assert objects(services.settings) == [f"{collection['id']}/{ref['id']}"]


@pytest.mark.parametrize(
    ("encoded", "shown"),
    [
        pytest.param("..%2F..%2Fetc%2Fpasswd", "passwd", id="slashes"),
        pytest.param("..%5C..%5Cx", "x", id="backslashes"),
        pytest.param("a%00b%0D%0Ac.jpg", "abc.jpg", id="nul-and-newline"),
    ],
)
async def test_an_rfc5987_filename_is_decoded_then_sanitized(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    encoded: str,
    shown: str,
) -> None:
    collection = await posts(client, admin)
    ann = await make_user()
    head = file_head("tmp.jpg").replace(
        b'filename="tmp.jpg"', f"filename*=UTF-8''{encoded}".encode()
    )

    response = await send_raw(client, ann, head + jpeg() + CLOSE)

    assert response.status_code == 201, response.text
    ref = response.json()["file"]
    assert ref["name"] == shown
    assert objects(services.settings) == [f"{collection['id']}/{ref['id']}"]


# -- cut off -------------------------------------------------------------------------------

BIG_JPEG = b"\xff\xd8\xff\xe0" + os.urandom(60_000)  # past the sniffed head: the row is written


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(file_head("cat.jpg") + BIG_JPEG[:30_000], id="half-the-file"),
        pytest.param(file_head("cat.jpg") + BIG_JPEG[:100], id="a-small-start"),
        pytest.param(file_head("cat.jpg") + BIG_JPEG + CLOSE[:-4], id="no-closing-dashes"),
        pytest.param(file_head("cat.jpg") + BIG_JPEG, id="no-closing-boundary"),
        pytest.param(file_head("cat.jpg")[:-10], id="inside-the-headers"),
    ],
)
async def test_an_upload_cut_off_before_its_closing_boundary_leaves_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, body: bytes
) -> None:
    await posts(client, admin)
    ann = await make_user()

    response = await send_raw(client, ann, body)

    assert_error(response, 400, "files.invalid_upload")
    await assert_nothing_kept(services)


async def test_a_client_gone_half_way_leaves_no_row_and_no_object(
    app: MinibaseApp,
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
) -> None:
    """The mini program is closed during the upload: the server sees the connection drop."""
    await posts(client, admin)
    ann = await make_user()
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": file_head("cat.jpg"), "more_body": True},
        {"type": "http.request", "body": BIG_JPEG[:40_000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    headers = {**ann.headers, "Content-Type": CONTENT_TYPE}

    with contextlib.suppress(Exception):  # what a client that left is answered does not matter
        await call_asgi(app, "POST", "/api/collections/posts/files/photo", headers, incoming)

    await assert_nothing_kept(services)


# -- the disk fails --------------------------------------------------------------------------


async def test_a_failing_disk_is_503_files_unavailable_and_leaves_no_row(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await posts(client, admin)
    ann = await make_user()
    root = files_root(services.settings)
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_bytes(b"")  # a file where the folder of objects should be: every write fails

    response = await send_raw(client, ann, body_with_file(jpeg()))

    assert_error(response, 503, "files.unavailable")
    assert await file_rows(services) == []
    root.unlink()
    assert everything_on_disk(services.settings) == []


# -- not an upload ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        pytest.param({"Content-Type": "application/json"}, b'{"file": "x"}', id="json"),
        pytest.param(
            {"Content-Type": "multipart/form-data"}, body_with_file(jpeg()), id="no-boundary"
        ),
        pytest.param({}, b"", id="no-content-type"),
        pytest.param(
            {"Content-Type": CONTENT_TYPE}, text_part("name", "x") + CLOSE[2:], id="no-file"
        ),
        pytest.param(
            {"Content-Type": CONTENT_TYPE},
            body_with_file(jpeg())[: -len(CLOSE)] + b"\r\n" + file_head("b.jpg") + jpeg() + CLOSE,
            id="two-files",
        ),
        pytest.param(
            {"Content-Type": CONTENT_TYPE},
            file_head("a.jpg", name="image") + jpeg() + CLOSE,
            id="file-under-another-part",
        ),
        pytest.param(
            {"Content-Type": CONTENT_TYPE.replace("Boundary7", "Other")},
            body_with_file(jpeg()),
            id="wrong-boundary",
        ),
    ],
)
async def test_a_body_that_is_not_one_file_in_multipart_is_400_invalid_upload(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    services: Services,
    headers: dict[str, str],
    content: bytes,
) -> None:
    await posts(client, admin)
    ann = await make_user()

    response = await client.post(
        "/api/collections/posts/files/photo", headers={**ann.headers, **headers}, content=content
    )

    assert_error(response, 400, "files.invalid_upload")
    await assert_nothing_kept(services)


async def test_an_unknown_field_is_404_naming_the_file_fields(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts", {"title": {"type": "string"}, "photo": PHOTO})
    ann = await make_user()

    for field in ("avatar", "title"):
        response = await client.post(
            f"/api/collections/posts/files/{field}",
            headers=ann.headers,
            files={"file": ("a.jpg", jpeg())},
        )
        body = assert_error(response, 404, "files.unknown_field")
        assert body["details"]["file_fields"] == ["photo"]
    await assert_nothing_kept(services)


async def test_an_anonymous_upload_is_401(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    await posts(client, admin)

    response = await client.post(
        "/api/collections/posts/files/photo", files={"file": ("a.jpg", jpeg())}
    )

    assert_error(response, 401, "auth.required")
    await assert_nothing_kept(services)
