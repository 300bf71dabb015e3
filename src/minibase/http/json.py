"""JSON in and out: orjson, a body size limit enforced while reading, clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from minibase.client_json import parse_client_json
from minibase.errors import ApiError

JSON = "application/json"
_JSON = JSON.encode()


class JsonBytes(Response):
    """An answer of JSON already encoded: Starlette's Response without the work its constructor
    does for any body and headers (on a get by id, more than reading the record)."""

    media_type = JSON

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = [(b"content-type", _JSON), (b"content-length", b"%d" % len(body))]


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    if headers is None:
        return JsonBytes(orjson.dumps(content), status)
    return Response(orjson.dumps(content), status, headers, media_type=JSON)


def raw_json_response(content: bytes, status: int = 200) -> Response:
    return JsonBytes(content, status)


def error_response(error: ApiError, request_id: str | None = None) -> Response:
    body = error.to_json()
    if request_id:
        body["request_id"] = request_id
    return json_response(body, error.status, _error_headers(error))


def _error_headers(error: ApiError) -> dict[str, str] | None:
    """What HTTP asks of these answers: 401 names the scheme, 405 the methods (RFC 9110),
    416 the size of what the range missed, 429 when to try again."""
    if error.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if error.status == 405:
        return {"Allow": ", ".join(error.details.get("allowed", ()))}
    if error.status == 429 and "retry_after" in error.details:
        return {"Retry-After": str(error.details["retry_after"])}
    if error.status == 416 and "size" in error.details:
        return {"Content-Range": f"bytes */{error.details['size']}"}
    return None


def body_too_large(limit: int) -> ApiError:
    return ApiError("request.body_too_large", 413, f"the body is larger than {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it passes the limit, whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:  # straight from ASGI: Request.stream() costs more than the parse
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ApiError("request.invalid_body", 400, "the client went away mid-body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def is_json_type(content_type: str | None) -> bool:
    """application/json or any */*+json, with parameters (charset=utf-8) or without."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == JSON or (media.endswith("+json") and "/" in media)


def unsupported_media_type(content_type: str | None) -> ApiError:
    return ApiError(
        "request.unsupported_media_type",
        415,
        "send the body as JSON with the header content-type: application/json (curl: --json;"
        " my.httpRequest and form posts default to a form type: set"
        " headers: {'content-type': 'application/json'})",
        {"content_type": content_type[:200] if content_type is not None else None},
    )


async def read_json(request: Request, limit: int, *, required: bool = True) -> Any:
    """The JSON body. A body must say it is JSON (415 otherwise: a form-encoded body cannot be
    read as JSON); an empty one needs no type, and is None where the body is optional."""
    raw = await read_body(request, limit)
    if not raw.strip():
        if required:
            raise ApiError("request.malformed_json", 400, "the body is empty; send JSON")
        return None
    content_type = request.headers.get("content-type")
    if not is_json_type(content_type):
        raise unsupported_media_type(content_type)
    try:
        return parse_client_json(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            "request.malformed_json",
            400,
            f"the body is not valid JSON: {exc.msg}",
            {"position": exc.pos},
        ) from None


async def read_object(request: Request, limit: int) -> dict[str, Any]:
    value = await read_json(request, limit)
    if not isinstance(value, dict):
        raise ApiError("request.invalid_body", 400, "the body must be a JSON object")
    return value
