"""The query parameters of a page of a system list, newest first: `before` and `limit`; and the
`limit` parameter every list shares, declared once with the bounds the server keeps; the
refusal of a parameter a list does not declare; and the next-page value of an answer
(`next_before`, `next_after`: the parameter to pass it as is in its name)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request

from minibase.errors import ApiError

MAX_LIMIT = 100
QueryParam = tuple[str, str, dict[str, Any]]
Item = TypeVar("Item")


def limit_param(default: int, maximum: int = MAX_LIMIT) -> QueryParam:
    """The `limit` query parameter as the document states it."""
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return ("limit", f"page size, 1-{maximum} (default {default})", schema)


PAGE = (
    ("before", "next_before of the page before (newest first)", {"type": "string"}),
    limit_param(20),
)


def page_answer(item: dict[str, Any], key: str, **more: dict[str, Any]) -> dict[str, Any]:
    """The schema of a page: its `items`, and `next_<key>`, to pass as `key` for the next page
    (null on the last); `more` are other properties of the answer."""
    next_key = f"next_{key}"
    described = f"pass as `{key}` for the next page; null on the last"
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            next_key: {"type": ["string", "null"], "description": described},
            **more,
        },
        "required": ["items", next_key],
    }


def state_param(states: Sequence[str], what: str) -> QueryParam:
    """The `state` filter of a list, as the document states it."""
    return ("state", f"the {what} in this state", {"enum": list(states)})


def state_filter(request: Request, states: Sequence[str]) -> str | None:
    """The `state` query parameter, one of `states` or absent (400 naming them otherwise)."""
    return choice_filter(request, "state", states)


def choice_filter(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A query parameter that is one of `choices` or absent (400 naming them otherwise)."""
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ApiError("request.invalid_query", 400, f"{name} must be one of {', '.join(choices)}")
    return value


def page_limit(request: Request, default: int = 20) -> int:
    text = request.query_params.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError("request.invalid_query", 400, f"limit must be 1-{MAX_LIMIT}")
    return int(text)


def declared_only(request: Request, declared: Sequence[QueryParam]) -> None:
    """400 for a query parameter the endpoint does not declare: misspelt, a filter would be
    ignored and the answer would look like an unfiltered (or empty) list."""
    names = [name for name, _, _ in declared]
    unknown = set(request.query_params) - set(names)
    if unknown:
        message = f"unknown query parameters {sorted(unknown)}; known: {', '.join(names)}"
        raise ApiError("request.invalid_query", 400, message)


def next_page(
    fetched: Sequence[Item], limit: int, key: Callable[[Item], str]
) -> tuple[Sequence[Item], str | None]:
    """A page out of `limit + 1` rows fetched, and the key of its last row when more follow
    (None on the last page, so a client never asks for an empty one)."""
    page = fetched[:limit]
    return page, key(page[-1]) if len(fetched) > limit else None
