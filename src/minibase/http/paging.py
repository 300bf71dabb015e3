"""The query parameters of a page of a system list, newest first: `before` and `limit`."""

from __future__ import annotations

from starlette.requests import Request

from minibase.errors import ApiError

PAGE = (
    ("before", "the last id of the page before (newest first)", {"type": "string"}),
    ("limit", "page size, 1-100", {"type": "integer"}),
)


def page_limit(request: Request) -> int:
    text = request.query_params.get("limit", "20")
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ApiError("request.invalid_query", 400, "limit must be 1-100")
    return int(text)
