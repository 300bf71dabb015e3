"""Routes declared once with what OpenAPI needs to describe them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
Access = Literal["public", "optional", "user", "admin"]


class Media(dict[str, dict[str, Any]]):
    """A response's schemas by media type, for an answer that is not (only) JSON: e.g.
    `Media({"application/json": ..., "application/yaml": ...})`, or text: `Media.text()`."""

    @classmethod
    def text(cls, media_type: str = "text/plain") -> Media:
        return cls({media_type: {"type": "string"}})


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A body field whose null the server takes as leaving it out."""
    return {"anyOf": [schema, {"type": "null"}]}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: Access = "public"
    body: dict[str, Any] | None = None  # JSON Schema of the request body
    body_required: bool = True  # False: no body (or an empty one) is accepted too
    query: tuple[tuple[str, str, dict[str, Any]], ...] = ()  # (name, description, schema)
    responses: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    # The request rate limits' group when not the one its access, tag and method give
    # (minibase.http.rate_limits.group_of); "unlimited": never limited.
    rate_group: str | None = None

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class Routes:
    """A module's endpoints, declared with a decorator beside each handler."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def add(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        access: Access = "public",
        body: dict[str, Any] | None = None,
        body_required: bool = True,
        query: tuple[tuple[str, str, dict[str, Any]], ...] = (),
        responses: dict[int, tuple[str, dict[str, Any] | None]] | None = None,
        rate_group: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    summary,
                    self.tag,
                    access,
                    body,
                    body_required,
                    query,
                    responses or {200: ("OK", None)},
                    rate_group,
                )
            )
            return handler

        return register
