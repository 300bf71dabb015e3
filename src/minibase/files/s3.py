"""Files in any S3-compatible service (AWS S3, MinIO, Cloudflare R2, Tencent COS, Aliyun OSS...).

Requests are signed here with SigV4 (`sigv4.py`) and sent with httpx to path-style URLs
(`<endpoint>/<bucket>/<key>`), which every such service accepts. Uploads stream: the chunks are
gathered up to `part_size`; a body that ends before that goes up as one PUT, a longer one as a
multipart upload, one part at a time, aborted if the upload fails or passes its max size. So
memory stays under about one part whatever the file's size. Payloads are sent as
UNSIGNED-PAYLOAD (the signature covers the headers; TLS covers the bytes).

`presigned_get` and `presigned_put` give URLs a client uses directly, so large files need not
pass through the app servers. A mini program can only upload with `wx.uploadFile` (and my./tt./
swan./qq.uploadFile), a multipart/form-data POST: `presigned_post` gives the URL and the form
fields for that (S3's browser-based upload), the file going in the part named `file`:

    post = storage.presigned_post(key, expires=600, max_size=field.max_size, content_type=kind)
    # client: wx.uploadFile({url: post.url, formData: post.fields, name: "file", filePath})

S3 then stores the file only under that key, only up to max_size bytes and only before the
policy expires; it answers 204 when it has stored it. (Not every S3-compatible service takes
form uploads, and moto's test server checks none of the policy: see the tests.)
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from xml.etree import ElementTree

import httpx

from minibase.clock import Clock, SystemClock
from minibase.errors import ApiError
from minibase.files import sigv4
from minibase.files.storage import (
    ObjectBody,
    Stored,
    check_key,
    check_prefix,
    check_range,
    not_found,
    served_range,
    too_large,
    unavailable,
)

log = logging.getLogger("minibase.files")

PART_SIZE = 8 << 20
MIN_PART_SIZE = 5 << 20  # S3 refuses smaller parts (but the last)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_CONTENT_RANGE = re.compile(r"bytes \d+-\d+/(\d+)")


@dataclass(frozen=True)
class PresignedPost:
    """Where and what a form upload posts: `fields` first (wx.uploadFile's `formData`), then the
    file in a part named `file`."""

    url: str
    fields: dict[str, str]


class S3Storage:
    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        part_size: int = PART_SIZE,
        list_page_size: int = 1000,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._base = httpx.URL(endpoint)
        self._bucket = bucket
        self._prefix = self._base.path.rstrip("/") + "/" + bucket
        self._host = self._base.netloc.decode("ascii")
        self._credentials = sigv4.Credentials(access_key, secret_key, region)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        self._clock = clock or SystemClock()
        self.part_size = part_size
        self._list_page_size = list_page_size  # S3's maximum, and its default

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_size: int
    ) -> Stored:
        check_key(key)
        part: builtins.list[bytes] = []
        part_bytes = size = 0
        upload_id: str | None = None
        etags: builtins.list[str] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise too_large(max_size)
                part.append(chunk)
                part_bytes += len(chunk)
                if part_bytes >= self.part_size:
                    upload_id = upload_id or await self._create_upload(key, content_type)
                    etags.append(await self._upload_part(key, upload_id, len(etags) + 1, part))
                    part, part_bytes = [], 0
            if upload_id is None:
                response = await self._send(
                    "PUT", key, headers={"content-type": content_type}, body=part
                )
                etag = _etag(response)
            else:
                if part_bytes:
                    etags.append(await self._upload_part(key, upload_id, len(etags) + 1, part))
                etag = await self._complete_upload(key, upload_id, etags)
        except BaseException:
            if upload_id is not None:
                await self._abort_upload(key, upload_id)
            raise
        return Stored(key, size, etag, content_type)

    async def open(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> tuple[Stored, ObjectBody]:
        check_key(key)
        check_range(start, end)
        headers = {}
        if start is not None:
            headers["range"] = f"bytes={start}-{'' if end is None else end}"
        ok = (200, 206, 404, 416)
        response = await self._send("GET", key, headers=headers, stream=True, ok=ok)
        if response.status_code in (404, 416):
            await response.aread()
            await response.aclose()
            if response.status_code == 404:
                raise self._missing(key, response)
            served_range((await self.stat(key)).size, start, end)  # raises, with the size
            raise unavailable("S3 refused a range it holds")
        size = int(response.headers["content-length"])
        if response.status_code == 206:
            whole = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if whole is None:
                await response.aclose()
                raise unavailable("S3 answered a range without Content-Range")
            size = int(whole[1])
        info = Stored(key, size, _etag(response), _content_type(response))
        return info, ObjectBody(_body(response), response.aclose)

    async def stat(self, key: str) -> Stored:
        check_key(key)
        response = await self._send("HEAD", key, ok=(200, 404))
        if response.status_code == 404:  # a HEAD's answer has no body to say what is missing
            await self._send("HEAD", None)  # the bucket is there (else files.unavailable)
            raise not_found(key)
        size = int(response.headers["content-length"])
        return Stored(key, size, _etag(response), _content_type(response))

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._send("DELETE", key, ok=(200, 204))  # S3 deletes a missing key quietly

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        token: str | None = None
        while True:
            query = [("list-type", "2"), ("max-keys", str(self._list_page_size))]
            query.append(("prefix", prefix))
            if token:
                query.append(("continuation-token", token))
            page = _xml(await self._send("GET", None, query=query))
            for key in page.iterfind("{*}Contents/{*}Key"):
                yield key.text or ""
            token = page.findtext("{*}NextContinuationToken")
            if page.findtext("{*}IsTruncated") != "true" or not token:
                return

    def presigned_get(self, key: str, expires: int) -> str:
        """A URL that downloads the object for `expires` seconds (1 to 7 days); it honours
        Range, like any S3 GET."""
        return self._presign("GET", key, expires, {})

    def presigned_put(
        self, key: str, expires: int, content_type: str, size: int | None = None
    ) -> str:
        """A URL that uploads one object for `expires` seconds: the uploader must send this
        content type and, when `size` is given, exactly that many bytes (a signed PUT cannot say
        "at most": check a declared size against the field's maximum before presigning)."""
        headers = {"content-type": content_type}
        if size is not None:
            headers["content-length"] = str(size)
        return self._presign("PUT", key, expires, headers)

    def presigned_post(
        self, key: str, expires: int, max_size: int, content_type: str | None = None
    ) -> PresignedPost:
        """A form upload of one object for `expires` seconds (1 to 7 days): only to this key,
        of at most `max_size` bytes, stored with `content_type` when given (else S3's default,
        binary/octet-stream). The policy the fields carry is signed, so a client that changes a
        field is refused."""
        check_key(key)
        sigv4.check_expires(expires)
        if max_size < 0:
            raise ValueError(f"max_size must not be negative, not {max_size}")
        now = self._clock.now()
        date = sigv4.amz_date(now)
        scope = sigv4.credential_scope(date, self._credentials)
        fields = {"key": key}
        if content_type is not None:
            fields["Content-Type"] = content_type
        fields["x-amz-algorithm"] = sigv4.ALGORITHM
        fields["x-amz-credential"] = f"{self._credentials.access_key}/{scope}"
        fields["x-amz-date"] = date
        deadline = now + timedelta(seconds=expires)
        policy = {
            "expiration": deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                {"bucket": self._bucket},
                ["content-length-range", 0, max_size],
                *(["eq", f"${name}", value] for name, value in fields.items()),
            ],
        }
        encoded = base64.b64encode(json.dumps(policy).encode()).decode("ascii")
        fields["policy"] = encoded
        fields["x-amz-signature"] = sigv4.sign(self._credentials, date, encoded)
        return PresignedPost(str(self._url(self._prefix, ())), fields)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- requests

    def _path(self, key: str | None) -> str:
        return self._prefix if key is None else f"{self._prefix}/{key}"

    def _missing(self, key: str, response: httpx.Response) -> ApiError:
        code = _error_code(response)
        if code == "NoSuchKey":
            return not_found(key)
        log.warning("S3 GET %s answered 404 %s", self._path(key), code)
        return unavailable(f"S3 answered 404 {code}")

    def _presign(self, method: str, key: str, expires: int, headers: dict[str, str]) -> str:
        check_key(key)
        path = self._path(key)
        query = sigv4.presign(
            self._credentials,
            method,
            path,
            host=self._host,
            date=sigv4.amz_date(self._clock.now()),
            expires=expires,
            headers=headers,
        )
        return str(self._url(path, query))

    def _url(self, path: str, query: Sequence[tuple[str, str]]) -> httpx.URL:
        target = sigv4.encode_path(path)
        if query:
            target += "?" + sigv4.canonical_query(query)
        return self._base.copy_with(raw_path=target.encode("ascii"))

    async def _send(
        self,
        method: str,
        key: str | None,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: Sequence[bytes] | bytes = b"",
        stream: bool = False,
        ok: Sequence[int] = (200,),
    ) -> httpx.Response:
        """Send one signed request; a transport failure or an unexpected answer (a 5xx, a
        refused signature, a missing bucket) is files.unavailable."""
        path = self._path(key)
        length = len(body) if isinstance(body, bytes) else sum(map(len, body))
        signed = {
            "host": self._host,
            "x-amz-date": sigv4.amz_date(self._clock.now()),
            "x-amz-content-sha256": sigv4.UNSIGNED_PAYLOAD,
            **(headers or {}),
        }
        authorization = sigv4.authorization(
            self._credentials, method, path, query, signed, sigv4.UNSIGNED_PAYLOAD
        )
        sent = {**signed, "authorization": authorization}
        if method in ("PUT", "POST"):
            sent["content-length"] = str(length)
        request = self._http.build_request(
            method,
            self._url(path, query),
            headers=sent,
            content=body if isinstance(body, bytes) else _pieces(body),
        )
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            log.warning("S3 %s %s failed: %r", method, path, exc)
            raise unavailable(type(exc).__name__) from exc
        if response.status_code not in ok:
            await response.aread()
            await response.aclose()
            code = _error_code(response)
            log.warning("S3 %s %s answered %s %s", method, path, response.status_code, code)
            raise unavailable(f"S3 answered {response.status_code} {code}")
        return response

    async def _create_upload(self, key: str, content_type: str) -> str:
        response = await self._send(
            "POST", key, query=[("uploads", "")], headers={"content-type": content_type}
        )
        return _xml(response).findtext("{*}UploadId") or ""

    async def _upload_part(
        self, key: str, upload_id: str, number: int, part: Sequence[bytes]
    ) -> str:
        query = [("partNumber", str(number)), ("uploadId", upload_id)]
        return _etag(await self._send("PUT", key, query=query, body=part))

    async def _complete_upload(self, key: str, upload_id: str, etags: Sequence[str]) -> str:
        parts = "".join(
            f'<Part><PartNumber>{n}</PartNumber><ETag>"{etag}"</ETag></Part>'
            for n, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = await self._send("POST", key, query=[("uploadId", upload_id)], body=body)
        result = _xml(response)  # S3 may answer 200 and put an error in the body
        if result.tag.endswith("Error"):
            raise unavailable(f"S3 could not complete the upload: {result.findtext('{*}Code')}")
        return (result.findtext("{*}ETag") or "").strip('"')

    async def _abort_upload(self, key: str, upload_id: str) -> None:
        """Best effort: the parts of a failed upload should not linger (a bucket lifecycle
        rule for incomplete uploads catches what this misses)."""
        try:
            await self._send("DELETE", key, query=[("uploadId", upload_id)], ok=(204, 404))
        except Exception:
            log.exception("could not abort the multipart upload of %s", key)


async def _pieces(body: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in body:
        yield piece


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:
        raise unavailable(type(exc).__name__) from exc


def _etag(response: httpx.Response) -> str:
    return str(response.headers.get("etag", "")).strip('"')


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "application/octet-stream"))


def _xml(response: httpx.Response) -> ElementTree.Element:
    # the configured storage service's own answer, not a client's upload
    return ElementTree.fromstring(response.content)  # noqa: S314


def _error_code(response: httpx.Response) -> str:
    try:
        return _xml(response).findtext("{*}Code") or ""
    except ElementTree.ParseError:
        return ""
