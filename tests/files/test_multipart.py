"""Uploads read as mini programs send them: multipart/form-data, text fields and one file,
streamed chunk by chunk under limits, with every malformed body refused by a clear 400.

The bodies below follow each platform's upload call as its docs give it: `wx.uploadFile` /
`qq.uploadFile` / `tt.uploadFile` / `swan.uploadFile` send the file under `name` and each
`formData` entry as a text part; `my.uploadFile` sends it under `name` (`fileName` in older
docs) with `formData`, and `fileType` is not sent. The filename is the runtime's temporary path
or its last segment (wxfile://tmp_…, http://tmp/…, ttfile://temp/…, bdfile://tmp…,
https://resource/apml…). Boundaries are random per request; the ones here are examples of the
forms clients use (WebKit's, dashes and digits, quoted, a UUID).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import Request

from minibase.errors import ApiError
from minibase.files.multipart import Upload, UploadLimits, read_upload
from minibase.sandbox.png import encode_png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256))
PNG = encode_png(2, 2, [b"\xff\x00\x00" * 2, b"\x00\x00\xff" * 2])


class Sent:
    """One request as a platform sends it, and what reading it must give."""

    def __init__(self, header: str, body: bytes, file_part: str, **expected: Any) -> None:
        self.header = header  # the request's Content-Type
        self.body = body
        self.limits = UploadLimits(file_part=file_part)
        self.expected = expected


WECHAT = Sent(
    "multipart/form-data; boundary=----WebKitFormBoundaryZ8mB3zxuB1yGJ3bC",
    b"------WebKitFormBoundaryZ8mB3zxuB1yGJ3bC\r\n"
    b'Content-Disposition: form-data; name="user"\r\n'
    b"\r\n"
    b"test\r\n"
    b"------WebKitFormBoundaryZ8mB3zxuB1yGJ3bC\r\n"
    b'Content-Disposition: form-data; name="file"; filename="wxfile://tmp_a1b2c3d4.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n"
    b"\r\n" + JPEG + b"\r\n"
    b"------WebKitFormBoundaryZ8mB3zxuB1yGJ3bC--\r\n",
    "file",
    fields={"user": "test"},
    data=JPEG,
    filename="tmp_a1b2c3d4.jpg",
    content_type="image/jpeg",
)
QQ = Sent(  # numbers in formData arrive as their text
    "multipart/form-data; boundary=--------------------------639275760242036520206377",
    b"----------------------------639275760242036520206377\r\n"
    b'Content-Disposition: form-data; name="age"\r\n'
    b"\r\n"
    b"18\r\n"
    b"----------------------------639275760242036520206377\r\n"
    b'Content-Disposition: form-data; name="file"; filename="http://tmp/kMqaeEnKgQ7.jpeg"\r\n'
    b"Content-Type: image/jpeg\r\n"
    b"\r\n" + JPEG + b"\r\n"
    b"----------------------------639275760242036520206377--\r\n",
    "file",
    fields={"age": "18"},
    data=JPEG,
    filename="kMqaeEnKgQ7.jpeg",
    content_type="image/jpeg",
)
ALIPAY = Sent(  # the docs' own example: name 'userfile', formData {extra: '其他信息'}
    "multipart/form-data; boundary=7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    b"--7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b\r\n"
    b'Content-Disposition: form-data; name="extra"\r\n'
    b"\r\n" + "其他信息".encode() + b"\r\n"
    b"--7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b\r\n"
    b'Content-Disposition: form-data; name="userfile";'
    b' filename="https://resource/apml953bb093ebd2834530196f50a4413a87.image"\r\n'
    b"\r\n" + JPEG + b"\r\n"
    b"--7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b--\r\n",
    "userfile",
    fields={"extra": "其他信息"},
    data=JPEG,
    filename="apml953bb093ebd2834530196f50a4413a87.image",
    content_type=None,  # no Content-Type on the file part
)
DOUYIN = Sent(  # a quoted boundary; the file before the formData fields
    'multipart/form-data; boundary="Boundary+0xAbCdEfGbOuNdArY"',
    b"--Boundary+0xAbCdEfGbOuNdArY\r\n"
    b'Content-Disposition: form-data; name="file"; filename="ttfile://temp/3b9a.png"\r\n'
    b"Content-Type: image/png\r\n"
    b"\r\n" + PNG + b"\r\n"
    b"--Boundary+0xAbCdEfGbOuNdArY\r\n"
    b'Content-Disposition: form-data; name="album"\r\n'
    b"\r\n"
    b"holiday\r\n"
    b"--Boundary+0xAbCdEfGbOuNdArY--\r\n",
    "file",
    fields={"album": "holiday"},
    data=PNG,
    filename="3b9a.png",
    content_type="image/png",
)
BAIDU = Sent(  # Content-Type first, a claim the bytes contradict, an unquoted name
    "multipart/form-data; charset=utf-8; Boundary=swanBoundary20240101",
    b"--swanBoundary20240101\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b'Content-Disposition: form-data; name=file; filename="bdfile://tmp_5c2e.jpg"\r\n'
    b"\r\n" + JPEG + b"\r\n"
    b"--swanBoundary20240101--",
    "file",
    fields={},
    data=JPEG,
    filename="tmp_5c2e.jpg",
    content_type="application/octet-stream",
)
PLATFORMS = {"wx": WECHAT, "qq": QQ, "my": ALIPAY, "tt": DOUYIN, "swan": BAIDU}


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(upload: Upload) -> bytes:
    return b"".join([chunk async for chunk in upload.file])


async def collect(upload: Upload, into: bytearray) -> None:
    """Read the file into `into`, so a test sees what came before an error."""
    async for chunk in upload.file:
        into += chunk


async def read_body(body: bytes, content_type: str | None, limits: UploadLimits) -> bytes:
    return await read(await read_upload(chunks(body, 7), content_type, limits))


async def refusal(body: bytes, content_type: str = WECHAT.header, **limits: Any) -> ApiError:
    """The ApiError reading this body (its file too) ends with."""
    with pytest.raises(ApiError) as caught:
        await read_body(body, content_type, UploadLimits(**limits))
    return caught.value


def form(*parts: bytes, boundary: bytes = b"XyZ", close: bool = True) -> bytes:
    """A body of parts, each given as its header lines and payload joined by a blank line."""
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if close else b"")


XYZ = "multipart/form-data; boundary=XyZ"
FILE = b'Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n' + JPEG


def field(name: str, value: bytes) -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value


# -- what each platform sends ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_each_platform_upload_reads_into_fields_a_file_and_hints(platform: str) -> None:
    sent = PLATFORMS[platform]
    upload = await read_upload(chunks(sent.body, 4096), sent.header, sent.limits)
    assert await read(upload) == sent.expected["data"]
    assert upload.fields == sent.expected["fields"]
    assert upload.size == len(sent.expected["data"])
    assert upload.filename == sent.expected["filename"]
    assert upload.content_type == sent.expected["content_type"]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_body_arriving_one_byte_at_a_time_reads_the_same(platform: str) -> None:
    sent = PLATFORMS[platform]
    upload = await read_upload(chunks(sent.body, 1), sent.header, sent.limits)
    assert await read(upload) == sent.expected["data"]
    assert upload.fields == sent.expected["fields"]


@pytest.mark.parametrize("platform", ["wx", "tt"])
async def test_a_body_split_anywhere_reads_the_same(platform: str) -> None:
    """Two chunks, cut at every offset: inside headers, the file, and each boundary line."""
    sent = PLATFORMS[platform]
    for cut in range(len(sent.body) + 1):
        upload = await read_upload(
            pieces(sent.body[:cut], sent.body[cut:]), sent.header, sent.limits
        )
        assert await read(upload) == sent.expected["data"], cut
        assert upload.fields == sent.expected["fields"], cut


async def test_bytes_that_only_look_like_the_boundary_stay_in_the_file() -> None:
    data = b"a\r\n--Xy\r\n--X\r\n-XyZ--XyZ\n--XyZ\r--XyZ\r\n-" + JPEG + b"\r\n--"
    assert b"\r\n--XyZ" not in data
    body = form(b'Content-Disposition: form-data; name="file"\r\n\r\n' + data)
    for size in (1, 3, 5, 64):
        upload = await read_upload(chunks(body, size), XYZ)
        assert await read(upload) == data


async def test_text_fields_after_the_file_are_there_once_the_file_is_read() -> None:
    body = form(field("before", b"1"), FILE, field("after", b"2"))
    upload = await read_upload(chunks(body, 16), XYZ)
    assert upload.fields == {"before": "1"}
    await read(upload)
    assert upload.fields == {"before": "1", "after": "2"}


async def test_an_empty_file_is_an_upload_of_zero_bytes() -> None:
    upload = await read_upload(
        chunks(form(b'Content-Disposition: form-data; name="file"; filename="e"\r\n\r\n'), 5), XYZ
    )
    assert await read(upload) == b""
    assert upload.size == 0


async def test_reads_from_an_asgi_receive_channel() -> None:
    messages = [
        {"type": "http.request", "body": WECHAT.body[:100], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": WECHAT.body[100:], "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    upload = await read_upload(receive, WECHAT.header)
    assert await read(upload) == JPEG
    assert upload.fields == {"user": "test"}


async def test_reads_from_a_starlette_request_stream() -> None:
    messages = [
        {"type": "http.request", "body": QQ.body[:333], "more_body": True},
        {"type": "http.request", "body": QQ.body[333:], "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "headers": [], "path": "/", "query_string": b""}
    upload = await read_upload(Request(scope, receive).stream(), QQ.header)
    assert await read(upload) == JPEG
    assert upload.fields == {"age": "18"}


async def test_a_client_that_goes_away_midway_is_a_cut_off_upload() -> None:
    messages = [
        {"type": "http.request", "body": WECHAT.body[:-200], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    upload = await read_upload(receive, WECHAT.header)
    with pytest.raises(ApiError) as caught:
        await read(upload)
    assert caught.value.code == "files.invalid_upload"
    assert "cut off" in caught.value.message


# -- the forms clients write headers in -----------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=XyZ",
        'multipart/form-data; boundary="XyZ"',
        "Multipart/Form-Data;boundary=XyZ",
        "multipart/form-data; charset=UTF-8; BOUNDARY=XyZ",
        'multipart/form-data; boundary="XyZ"; charset=utf-8',
    ],
)
async def test_the_boundary_is_found_quoted_or_not_in_any_case(content_type: str) -> None:
    upload = await read_upload(chunks(form(FILE), 9), content_type)
    assert await read(upload) == JPEG


async def test_a_preamble_padding_after_boundaries_and_an_epilogue_are_allowed() -> None:
    body = (
        b"This is the preamble.\r\n--XyZ  \t\r\n" + FILE + b"\r\n--XyZ--\r\nand an epilogue, unread"
    )
    upload = await read_upload(chunks(body, 6), XYZ)
    assert await read(upload) == JPEG


@pytest.mark.parametrize(
    ("disposition", "hint"),
    [
        (b"form-data; name=\"file\"; filename*=UTF-8''%E5%A4%B4%E5%83%8F.png", "头像.png"),
        ('form-data; name="file"; filename="头像.png"'.encode(), "头像.png"),
        ('form-data; name="file"; filename="t\xeate.png"'.encode("latin-1"), "t\xeate.png"),
        (b'form-data; name="file"; filename="../../etc/passwd"', "passwd"),
        (b'form-data; name="file"; filename="C:\\fakepath\\me.jpg"', "me.jpg"),
        (b'form-data; name="file"; filename="a\\"quoted\\".jpg"', 'a"quoted".jpg'),
        (b'form-data; name="file"; filename=""', None),
        (b'form-data; name="file"', None),
        (b"form-data; filename=x.jpg; name=file", "x.jpg"),
    ],
)
async def test_the_client_filename_is_kept_as_a_bare_hint(disposition: bytes, hint: str) -> None:
    body = form(b"Content-Disposition: " + disposition + b"\r\n\r\n" + JPEG)
    upload = await read_upload(chunks(body, 10), XYZ)
    assert upload.filename == hint
    assert await read(upload) == JPEG


async def test_a_folded_header_line_continues_the_one_before() -> None:
    body = form(b'Content-Disposition: form-data;\r\n name="file"\r\n\r\n' + JPEG)
    assert await read(await read_upload(chunks(body, 10), XYZ)) == JPEG


# -- limits ---------------------------------------------------------------------------------------


async def test_a_file_past_its_max_size_is_refused_while_it_streams() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        head = b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        pulled += len(head)
        yield head
        while True:  # a client that would never stop
            pulled += 1024
            yield b"x" * 1024

    upload = await read_upload(endless(), XYZ, UploadLimits(max_file_bytes=10_000))
    received = bytearray()
    with pytest.raises(ApiError) as caught:
        await collect(upload, received)
    assert (caught.value.code, caught.value.status) == ("files.too_large", 413)
    assert caught.value.details == {"max": 10_000}
    assert len(received) <= 10_000
    assert pulled < 10_000 + 3 * 1024


async def test_a_file_of_exactly_the_max_size_passes() -> None:
    body = form(b'Content-Disposition: form-data; name="file"\r\n\r\n' + b"x" * 1000)
    upload = await read_upload(chunks(body, 64), XYZ, UploadLimits(max_file_bytes=1000))
    assert len(await read(upload)) == 1000
    error = await refusal(body, XYZ, max_file_bytes=999)
    assert error.code == "files.too_large"


async def test_memory_stays_flat_while_64_mb_stream_through() -> None:
    block = bytes(range(256)) * 256  # 64 KiB, made before measuring
    count = 1024

    async def body() -> AsyncIterator[bytes]:
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n'
        for _ in range(count):
            yield block
        yield b"\r\n--XyZ--\r\n"

    tracemalloc.start()
    try:
        upload = await read_upload(body(), XYZ, UploadLimits(max_file_bytes=count * len(block)))
        total = 0
        async for chunk in upload.file:
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == count * len(block) == 64 * 1024 * 1024
    assert peak < 1024 * 1024, f"peak {peak} bytes"


async def test_too_many_text_fields_are_refused() -> None:
    body = form(*(field(f"f{i}", b"v") for i in range(5)), FILE)
    error = await refusal(body, XYZ, max_fields=4)
    assert error.code == "files.invalid_upload"
    assert error.details == {"limit": 4}
    upload = await read_upload(chunks(body, 8), XYZ, UploadLimits(max_fields=5))
    assert len(upload.fields) == 5


async def test_a_text_field_past_its_max_size_is_refused() -> None:
    body = form(field("note", b"n" * 101), FILE)
    error = await refusal(body, XYZ, max_field_bytes=100)
    assert error.code == "files.invalid_upload"
    assert error.details == {"field": "note", "limit": 100}


async def test_part_headers_past_their_max_size_are_refused() -> None:
    long_name = b'Content-Disposition: form-data; name="file"; filename="' + b"a" * 300 + b'"'
    error = await refusal(form(long_name + b"\r\n\r\n" + JPEG), XYZ, max_header_bytes=256)
    assert error.code == "files.invalid_upload"
    assert "headers pass 256 bytes" in error.message
    endless_headers = b"--XyZ\r\n" + b"X-Padding: " + b"p" * 10_000
    error = await refusal(endless_headers, XYZ, max_header_bytes=256)
    assert "headers pass 256 bytes" in error.message


# -- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "no Content-Type"),
        ("application/json", "not multipart/form-data"),
        ("multipart/form-data", "no boundary"),
        ("multipart/form-data; boundary=", "no boundary"),
        ('multipart/form-data; boundary=""', "no boundary"),
        ("multipart/form-data; boundary=" + "b" * 201, "printable ASCII"),
        ("multipart/mixed; boundary=XyZ", "not multipart/form-data"),
    ],
)
async def test_a_content_type_without_a_usable_boundary_is_refused(
    content_type: str | None, says: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await read_upload(chunks(form(FILE), 10), content_type)
    assert (caught.value.code, caught.value.status) == ("files.invalid_upload", 400)
    assert says in caught.value.message


MALFORMED: dict[str, tuple[bytes, str]] = {
    "another boundary than the header's": (form(FILE, boundary=b"Other"), "does not start with"),
    "an empty body": (b"", "does not start with"),
    "no file part": (form(field("user", b"test")), "no part named 'file'"),
    "the file under another part name": (
        form(b'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n' + JPEG),
        "came in the part 'image'",
    ),
    "two files under the part name": (form(FILE, FILE), "a second file"),
    "a second file under another name": (
        form(FILE, b'Content-Disposition: form-data; name="x"; filename="b.jpg"\r\n\r\nb'),
        "a second file",
    ),
    "cut off in the file": (form(FILE, close=False)[:-40], "cut off"),
    "cut off before the closing boundary": (form(FILE, close=False), "cut off"),
    "cut off in the headers": (b'--XyZ\r\nContent-Disposition: form-data; name="fi', "cut off"),
    "cut off after a boundary": (b"--XyZ", "cut off"),
    "a boundary inside the headers": (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n--XyZ\r\n\r\n' + FILE,
        "run into the next boundary",
    ),
    "a part with no blank line before the next": (b"--XyZ\r\n--XyZ\r\n" + FILE, "run into"),
    "text after the boundary on its line": (b"--XyZjunk\r\n" + FILE, "more after the boundary"),
    "a header line without a colon": (
        form(b"Content-Disposition form-data\r\n\r\n" + JPEG),
        "not 'Name: value'",
    ),
    "no Content-Disposition": (form(b"Content-Type: image/jpeg\r\n\r\n" + JPEG), "no Content-"),
    "a disposition without a name": (
        form(b'Content-Disposition: form-data; filename="a.jpg"\r\n\r\n' + JPEG),
        "form-data with a name",
    ),
    "an attachment disposition": (
        form(b'Content-Disposition: attachment; name="file"\r\n\r\n' + JPEG),
        "form-data with a name",
    ),
    "a field that is not UTF-8": (form(field("user", b"\xff\xfe"), FILE), "not UTF-8"),
    "a field sent twice": (form(field("a", b"1"), field("a", b"2"), FILE), "comes twice"),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_body_is_refused_with_a_clear_message(case: str) -> None:
    body, says = MALFORMED[case]
    error = await refusal(body, XYZ)
    assert (error.code, error.status) == ("files.invalid_upload", 400)
    assert says in error.message, error.message


async def test_the_refusal_of_a_second_file_comes_at_the_end_of_the_first() -> None:
    """The first file's bytes stream out; what follows them is judged when they end."""
    upload = await read_upload(chunks(form(FILE, FILE), 11), XYZ)
    received = bytearray()
    with pytest.raises(ApiError) as caught:
        await collect(upload, received)
    assert bytes(received) == JPEG
    assert "a second file" in caught.value.message


async def test_a_body_with_bare_line_feeds_is_refused() -> None:
    """RFC 2046 lines end in CRLF, and every platform's runtime writes them so."""
    error = await refusal(WECHAT.body.replace(b"\r\n", b"\n"), WECHAT.header)
    assert error.code == "files.invalid_upload"
    assert "more after the boundary" in error.message
