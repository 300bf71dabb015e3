"""Downloads as browsers, players and image components ask for them: one byte range, HEAD,
If-None-Match, thumbnails of the listed sizes only, and headers that never let an uploaded file
run as a page of this server."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from tests.http.files.asgi_calls import call_asgi
from tests.http.files.conftest import jpeg, make_collection, upload
from tests.http.records.conftest import assert_error, create

from minibase.app import MinibaseApp
from minibase.testing.plugin import Actor, MakeUser

FIELDS = {
    "photo": {"type": "file", "types": ["image/*"], "thumbs": ["32x32", "16x8"]},
    "doc": {"type": "file", "thumbs": ["32x32"]},
}
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!doctype html><script>alert(1)</script>"


async def stored(
    client: httpx.AsyncClient,
    admin: Actor,
    actor: Actor,
    data: bytes,
    field: str = "photo",
    filename: str = "tmp.bin",
) -> tuple[dict[str, Any], str]:
    """A file in a record of a private collection, and a signed URL of it."""
    await make_collection(client, admin, "notes", FIELDS, rules={"preset": "owner_only"})
    ref = (
        await upload(
            client,
            actor,
            f"/api/collections/notes/files/{field}",
            data,
            filename=filename,
            content_type=None,
        )
    )["file"]
    await create(client, actor.headers, "notes", {field: ref["id"]})
    links = await client.post(
        "/api/files/temp-urls", headers=actor.headers, json={"files": [ref["id"]]}
    )
    url: str = links.json()["files"][0]["url"]
    return ref, url


def safe_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.headers
    assert "sandbox" in response.headers["content-security-policy"]


# -- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        pytest.param("bytes=-5", -5, None, id="last-5"),
        pytest.param("bytes=5-", 5, None, id="from-5"),
        pytest.param("bytes=0-0", 0, 1, id="first-byte"),
        pytest.param("bytes=3-7", 3, 8, id="middle"),
        pytest.param("bytes=10-999999999", 10, None, id="end-past-the-end"),
        pytest.param("bytes=-999999999", 0, None, id="suffix-longer-than-the-file"),
    ],
)
async def test_one_range_is_206_with_exactly_those_bytes(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    header: str,
    first: int,
    last: int | None,
) -> None:
    ann = await make_user()
    image = jpeg()
    _, url = await stored(client, admin, ann, image)
    size = len(image)
    expected = image[first:last]
    start = first if first >= 0 else size + first

    response = await client.get(url, headers={"Range": header})

    assert response.status_code == 206, response.text
    assert response.content == expected
    assert response.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{size}"
    assert response.headers["content-length"] == str(len(expected))
    safe_headers(response)


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{more}", "bytes=-0"])
async def test_a_range_outside_the_file_is_416(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, header: str
) -> None:
    ann = await make_user()
    image = jpeg()
    _, url = await stored(client, admin, ann, image)

    response = await client.get(
        url, headers={"Range": header.format(size=len(image), more=len(image) + 9)}
    )

    body = assert_error(response, 416, "files.range_not_satisfiable")
    assert body["details"] == {"size": len(image)}


@pytest.mark.parametrize(
    "header", ["bytes=0-1,4-5", "bytes=0-1, 4-5", "items=0-5", "bytes=abc", "bytes=-", "bytes"]
)
async def test_several_ranges_or_a_range_it_cannot_read_get_the_whole_file(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, header: str
) -> None:
    ann = await make_user()
    image = jpeg()
    _, url = await stored(client, admin, ann, image)

    response = await client.get(url, headers={"Range": header})

    assert response.status_code == 200, response.text
    assert response.content == image
    assert "content-range" not in response.headers


async def test_if_range_with_another_version_gets_the_whole_file(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    ann = await make_user()
    image = jpeg()
    ref, url = await stored(client, admin, ann, image)

    other = await client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"other"'})
    same = await client.get(url, headers={"Range": "bytes=0-3", "If-Range": f'"{ref["etag"]}"'})

    assert (other.status_code, other.content) == (200, image)
    assert (same.status_code, same.content) == (206, image[:4])


# -- HEAD and conditional requests -----------------------------------------------------------


@pytest.mark.parametrize("range_header", [None, "bytes=2-5"])
async def test_head_gives_the_headers_of_a_get_and_no_body(
    app: MinibaseApp,
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    range_header: str | None,
) -> None:
    ann = await make_user()
    image = jpeg()
    _, url = await stored(client, admin, ann, image)
    headers = {"Range": range_header} if range_header else {}
    get = await client.get(url, headers=headers)

    sent = await call_asgi(app, "HEAD", url, headers)

    start = sent[0]
    assert start["status"] == get.status_code
    head_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    for name in ("content-length", "content-type", "etag", "content-disposition", "content-range"):
        assert head_headers.get(name) == get.headers.get(name), name
    assert head_headers["x-content-type-options"] == "nosniff"
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b""


@pytest.mark.parametrize("form", ['"{etag}"', 'W/"{etag}"', '"other", "{etag}"', "*"])
async def test_if_none_match_with_the_files_etag_is_304_without_a_body(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, form: str
) -> None:
    ann = await make_user()
    ref, url = await stored(client, admin, ann, jpeg())

    response = await client.get(url, headers={"If-None-Match": form.format(etag=ref["etag"])})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == f'"{ref["etag"]}"'
    safe_headers(response)
    other = await client.get(url, headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


# -- what the browser is told ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "kind", "disposition"),
    [
        pytest.param(SVG, "photo", "image/svg+xml", "attachment", id="svg"),
        pytest.param(HTML, "doc", "text/html", "attachment", id="html"),
        pytest.param(b'{"a": 1}', "doc", "application/json", "attachment", id="json"),
        pytest.param(jpeg(), "photo", "image/jpeg", "inline", id="jpeg"),
        pytest.param(PDF, "doc", "application/pdf", "inline", id="pdf"),
    ],
)
async def test_only_harmless_types_show_inline_and_every_file_says_nosniff(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    data: bytes,
    field: str,
    kind: str,
    disposition: str,
) -> None:
    ann = await make_user()
    ref, url = await stored(client, admin, ann, data, field, filename="x.png")
    assert ref["type"] == kind

    response = await client.get(url)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == kind
    assert response.headers["content-disposition"].split(";")[0] == disposition
    safe_headers(response)


async def test_a_unicode_name_is_kept_in_the_disposition_and_quotes_cannot_break_it(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    ann = await make_user()
    ref, url = await stored(client, admin, ann, jpeg(), filename='猫 "ok"; x=1.jpg')

    response = await client.get(url)

    header = response.headers["content-disposition"]
    assert header.startswith('inline; filename="')
    assert header.count('"') == 2, header
    assert "filename*=UTF-8''" in header
    assert "%E7%8C%AB" in header
    assert ref["name"].startswith("猫")


# -- thumbnails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "fit", "box"), [("32x32", None, (32, 32)), ("16x8", "contain", (11, 8))]
)
async def test_a_listed_thumbnail_size_is_made_and_served(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    size: str,
    fit: str | None,
    box: tuple[int, int],
) -> None:
    ann = await make_user()
    _, url = await stored(client, admin, ann, jpeg(64, 48))

    response = await client.get(url + f"&thumb={size}" + (f"&fit={fit}" if fit else ""))

    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == box
    safe_headers(response)


@pytest.mark.parametrize(
    ("data", "field", "query", "status", "code"),
    [
        pytest.param(
            jpeg(), "photo", "&thumb=64x64", 400, "files.invalid_thumb", id="unlisted-size"
        ),
        pytest.param(jpeg(), "photo", "&thumb=32X32", 400, "files.invalid_thumb", id="capital-x"),
        pytest.param(jpeg(), "photo", "&thumb=0x0", 400, "files.invalid_thumb", id="zero"),
        pytest.param(
            jpeg(), "photo", "&thumb=32x32&fit=fill", 400, "files.invalid_thumb", id="bad-fit"
        ),
        pytest.param(jpeg(), "photo", "&fit=cover", 400, "files.invalid_thumb", id="fit-alone"),
        pytest.param(PDF, "doc", "&thumb=32x32", 400, "files.invalid_thumb", id="pdf"),
        pytest.param(SVG, "photo", "&thumb=32x32", 400, "files.invalid_thumb", id="svg"),
        pytest.param(
            b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50,
            "photo",
            "&thumb=32x32",
            422,
            "files.invalid_image",
            id="broken-jpeg",
        ),
    ],
)
async def test_a_thumbnail_the_field_does_not_make_is_refused(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    data: bytes,
    field: str,
    query: str,
    status: int,
    code: str,
) -> None:
    ann = await make_user()
    _, url = await stored(client, admin, ann, data, field)

    assert_error(await client.get(url + query), status, code)


async def test_an_unknown_or_malformed_file_id_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/files/01JZZZZZZZZZZZZZZZZZZZZZZZ/a.jpg", "/api/files/..%2F..%2Fetc/passwd"):
        response = await client.get(path + "?expires=1&sig=x")
        assert response.status_code == 404, (path, response.text)
