"""Serving a stored object over HTTP as browsers and players expect: ETag and If-None-Match,
one byte range (`Range: bytes=0-1023`, `bytes=500-`, `bytes=-500`) with If-Range, HEAD, and
headers that keep an uploaded file from running as a page of this server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from minibase.errors import ApiError
from minibase.files.storage import ObjectBody, Stored

SMALL = 256 * 1024  # answers up to this many bytes are sent in one piece, not streamed
_RANGE = re.compile(r"bytes=([0-9]{0,15})-([0-9]{0,15})")
_INLINE = ("image/", "video/", "audio/", "application/pdf", "text/plain")
_RISKY = ("image/svg+xml",)


def wanted_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes [first, last] one `Range` header asks of an object of `size` bytes; None to
    serve it whole (no header, several ranges, or a unit other than bytes); files.range_not_
    satisfiable (416) for a range outside it."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable(size, header)
        return max(size - count, 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size, header)
    return start, end


def _unsatisfiable(size: int, header: str) -> ApiError:
    return ApiError(
        "files.range_not_satisfiable",
        416,
        f"{header.strip()[:40]} is outside the file's {size} bytes",
        {"size": size},
    )


def _etag(stored: Stored) -> str:
    return f'"{stored.etag}"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def disposition(name: str, content_type: str) -> str:
    kind = "inline" if content_type.startswith(_INLINE) else "attachment"
    if content_type in _RISKY:
        kind = "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def serve_object(
    request: Request,
    stat: Stored,
    open_range: Callable[[int | None, int | None], Awaitable[tuple[Stored, ObjectBody]]],
    *,
    name: str,
    cache_control: str,
) -> Response:
    """The response for `stat` (the object's size, etag and type). `open_range(start, end)`
    opens its bytes (None, None: all of them): awaited only when bytes are sent. A small
    answer goes in one piece; a big one streams, a chunk at a time."""
    etag = _etag(stat)
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "Content-Disposition": disposition(name, stat.content_type),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    span = wanted_range(request.headers.get("range"), stat.size)
    if_range = request.headers.get("if-range")
    if span is not None and if_range is not None and if_range.strip() != etag:
        span = None  # the client's copy is of another version: send it all
    status = 200
    start, end = 0, stat.size - 1
    if span is not None:
        status = 206
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{stat.size}"
    length = max(end - start + 1, 0)
    headers["Content-Length"] = str(length)
    if request.method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers, media_type=stat.content_type)
    if span is None:
        _, body = await open_range(None, None)  # no Range sent to S3 for a whole object
    else:
        _, body = await open_range(start, end)
    if length <= SMALL:
        async with body:
            content = b"".join([chunk async for chunk in body])
        return Response(content, status, headers, media_type=stat.content_type)
    return StreamingResponse(
        _stream(body), status_code=status, headers=headers, media_type=stat.content_type
    )


async def _stream(body: ObjectBody) -> AsyncIterator[bytes]:
    async with body:
        async for chunk in body:
            yield chunk
