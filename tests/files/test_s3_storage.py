"""What only the S3 backend does: presigned URLs and form uploads, multipart uploads that are
aborted when they fail, and S3's refusals (a wrong key, a missing bucket) answered as
files.unavailable. Against moto's server on loopback, which checks every header signature.

Moto checks nothing of a form upload's POST policy (not its signature, key, size range or
expiry: it stores what the form says), so the tests here check that the policy says what S3
enforces, and test_sigv4.py checks its signature against AWS's published example."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from s3_server import MotoS3
from streams import MB, cancelled_upload, chunks_of, keys, put, read

from minibase.clock import FrozenClock
from minibase.errors import ApiError
from minibase.files import sigv4
from minibase.files.s3 import MIN_PART_SIZE, S3Storage


async def test_a_presigned_url_downloads_without_credentials(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    await put(s3_storage, "posts/r1/photo", b"0123456789", content_type="image/jpeg")
    url = s3_storage.presigned_get("posts/r1/photo", 600)
    with moto_s3.without_auth():
        async with httpx.AsyncClient() as browser:
            whole = await browser.get(url)
            part = await browser.get(url, headers={"Range": "bytes=2-4"})
    assert (whole.status_code, whole.content) == (200, b"0123456789")
    assert whole.headers["content-type"] == "image/jpeg"
    assert (part.status_code, part.content) == (206, b"234")


async def test_a_presigned_upload_stores_the_object_with_its_signed_content_type(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    url = s3_storage.presigned_put("posts/r1/video", 600, "video/mp4")
    with moto_s3.without_auth():
        async with httpx.AsyncClient() as phone:
            sent = await phone.put(
                url, content=b"\x00\x00\x00\x18ftypmp42", headers={"Content-Type": "video/mp4"}
            )
    assert sent.status_code == 200
    stored = await s3_storage.stat("posts/r1/video")
    assert (stored.size, stored.content_type) == (12, "video/mp4")


def test_presigned_urls_are_path_style_and_carry_their_expiry() -> None:
    storage = _cos_storage()
    url = urlsplit(storage.presigned_put("posts/r1/a", 900, "image/png", size=2048))
    assert (url.scheme, url.netloc) == ("https", "cos.ap-shanghai.myqcloud.com")
    assert url.path == "/photos-1250000000/posts/r1/a"
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert query["X-Amz-Date"] == "20260301T083000Z"
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-Credential"] == "AKID/20260301/ap-shanghai/s3/aws4_request"
    # the uploader must send this type and exactly this many bytes
    assert query["X-Amz-SignedHeaders"] == "content-length;content-type;host"
    with pytest.raises(ValueError, match="expires"):
        storage.presigned_get("posts/r1/a", 8 * 24 * 3600)


async def test_a_form_upload_as_wx_upload_file_sends_it_stores_the_object(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    post = s3_storage.presigned_post("posts/r1/photo", 600, 1024, content_type="image/jpeg")
    with moto_s3.without_auth():  # the form carries its signature, not a header
        async with httpx.AsyncClient() as phone:
            # wx.uploadFile: multipart/form-data, formData's fields first, then the file
            sent = await phone.post(
                post.url,
                data=post.fields,
                files={"file": ("tmp_3f2a.jpg", b"\xff\xd8\xff\xe0photo", "image/jpeg")},
            )
    assert sent.status_code == 204
    stored = await s3_storage.stat("posts/r1/photo")
    assert (stored.size, stored.content_type) == (9, "image/jpeg")
    assert await read(s3_storage, "posts/r1/photo") == b"\xff\xd8\xff\xe0photo"


def test_a_form_uploads_policy_pins_the_key_the_size_the_type_and_the_expiry() -> None:
    post = _cos_storage().presigned_post("posts/r1/a", 900, 10 << 20, content_type="image/png")
    assert post.url == "https://cos.ap-shanghai.myqcloud.com/photos-1250000000"
    assert post.fields["key"] == "posts/r1/a"
    assert post.fields["Content-Type"] == "image/png"
    assert post.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert post.fields["x-amz-credential"] == "AKID/20260301/ap-shanghai/s3/aws4_request"
    assert post.fields["x-amz-date"] == "20260301T083000Z"
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    assert policy["expiration"] == "2026-03-01T08:45:00.000Z"
    # S3 refuses a form whose fields stray from these: another key or type, a bigger file
    assert policy["conditions"] == [
        {"bucket": "photos-1250000000"},
        ["content-length-range", 0, 10 << 20],
        ["eq", "$key", "posts/r1/a"],
        ["eq", "$Content-Type", "image/png"],
        ["eq", "$x-amz-algorithm", "AWS4-HMAC-SHA256"],
        ["eq", "$x-amz-credential", "AKID/20260301/ap-shanghai/s3/aws4_request"],
        ["eq", "$x-amz-date", "20260301T083000Z"],
    ]


def test_a_form_upload_is_signed_with_the_days_key_over_its_policy() -> None:
    post = _cos_storage().presigned_post("posts/r1/a", 60, 1)
    assert "Content-Type" not in post.fields  # S3 stores its default type
    day_key = sigv4.signing_key("secret", "20260301", "ap-shanghai", "s3")
    policy = post.fields["policy"].encode()
    assert post.fields["x-amz-signature"] == hmac.new(day_key, policy, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("expires", [0, 7 * 24 * 3600 + 1])
def test_a_form_upload_lasts_between_a_second_and_seven_days(expires: int) -> None:
    with pytest.raises(ValueError, match="expires"):
        _cos_storage().presigned_post("posts/r1/a", expires, 1)


async def test_a_multipart_upload_past_max_size_is_aborted(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]
    pending_seen: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * MB
            pending_seen.extend(moto_s3.pending_uploads(bucket))

    with pytest.raises(ApiError) as refused:
        await s3_storage.put("a/huge", endless(), content_type="video/mp4", max_size=12 * MB)
    assert refused.value.code == "files.too_large"
    assert "a/huge" in pending_seen  # its first part had gone up
    assert moto_s3.pending_uploads(bucket) == []


async def test_a_multipart_upload_cut_off_half_way_is_aborted(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]

    async def cut_off() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * MB
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await s3_storage.put("a/video", cut_off(), content_type="video/mp4", max_size=100 * MB)
    assert moto_s3.pending_uploads(bucket) == []
    assert [key async for key in s3_storage.list()] == []


async def test_a_multipart_upload_cancelled_is_aborted(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]
    await cancelled_upload(s3_storage, "a/video", 9)
    assert moto_s3.pending_uploads(bucket) == []


async def test_an_object_of_many_parts_keeps_its_content_type(s3_storage: S3Storage) -> None:
    data = bytes(range(256)) * (70 * 1024)  # 17.5 MB: three parts
    stored = await s3_storage.put(
        "a/video",
        chunks_of(*(data[i : i + MB] for i in range(0, len(data), MB))),
        content_type="video/mp4",
        max_size=len(data),
    )
    assert stored.etag.endswith("-3")  # S3's mark of a three-part upload
    assert (await s3_storage.stat("a/video")).content_type == "video/mp4"
    assert await read(s3_storage, "a/video", len(data) - 3) == data[-3:]


async def test_listing_follows_continuation_pages(moto_s3: MotoS3, s3_storage: S3Storage) -> None:
    for n in range(5):
        await put(s3_storage, f"many/{n}", b"")
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]
    paged = moto_s3.storage(bucket, list_page_size=2)
    assert [key async for key in paged.list("many/")] == [f"many/{n}" for n in range(5)]
    await paged.aclose()


async def test_a_wrong_secret_is_refused_by_the_service(
    moto_s3: MotoS3, s3_storage: S3Storage
) -> None:
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]
    forged = moto_s3.storage(bucket, secret_key="not-the-secret")
    with pytest.raises(ApiError) as refused:
        await put(forged, "a/b", b"x")
    assert (refused.value.code, refused.value.status) == ("files.unavailable", 503)
    assert refused.value.details == {"reason": "S3 answered 403 SignatureDoesNotMatch"}
    await forged.aclose()


async def test_a_missing_bucket_is_unavailable_not_a_missing_file(moto_s3: MotoS3) -> None:
    storage = moto_s3.storage("no-such-bucket")
    calls = [
        put(storage, "a/b", b"x"),
        storage.open("a/b"),
        storage.stat("a/b"),
        storage.delete("a/b"),
        keys(storage),
    ]
    for call in calls:
        with pytest.raises(ApiError) as refused:
            await call
        assert refused.value.code == "files.unavailable"
    await storage.aclose()


def test_parts_are_at_least_s3s_minimum() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3Storage("http://127.0.0.1:9000", "b", "k", "s", part_size=MIN_PART_SIZE - 1)


async def test_a_borrowed_http_client_stays_open(moto_s3: MotoS3, s3_storage: S3Storage) -> None:
    bucket = urlsplit(s3_storage.presigned_get("a/b", 60)).path.split("/")[1]
    async with httpx.AsyncClient() as http:
        storage = moto_s3.storage(bucket, http=http)
        await put(storage, "a/b", b"x")
        await storage.aclose()
        assert not http.is_closed


def _cos_storage() -> S3Storage:
    """A Tencent COS bucket, signing at a fixed time (nothing is sent to it)."""
    return S3Storage(
        "https://cos.ap-shanghai.myqcloud.com",
        "photos-1250000000",
        "AKID",
        "secret",
        "ap-shanghai",
        clock=FrozenClock(datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
    )
