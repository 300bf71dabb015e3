"""The pieces every sandbox endpoint shares: the route type and the table that finds routes,
request parsing, JSON replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox.state import SandboxState

Handler = Callable[[Request, SandboxState], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    # from the sandbox root: "/wechat/sns/jscode2session"; a "{name}" segment matches any one
    # non-empty segment, handed to the handler as request.path_params["name"]
    path: str
    handler: Handler

    @property
    def platform(self) -> str:
        return self.path.split("/")[1]

    @property
    def is_template(self) -> bool:
        return "{" in self.path

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` is one of this route's, else None."""
        if not self.is_template:
            return {} if path == self.path else None
        wanted, given = self.path.split("/"), path.split("/")
        if len(wanted) != len(given):
            return None
        params: dict[str, str] = {}
        for pattern, segment in zip(wanted, given, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    return None
                params[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return params


class RouteTable:
    """Finds the route for a request: exact paths by lookup, templates in their given order."""

    def __init__(self, routes: Iterable[Route]) -> None:
        routes = tuple(routes)
        self._exact = {(r.method, r.path): r for r in routes if not r.is_template}
        self._paths = {r.path for r in routes if not r.is_template}
        self._templates = tuple(r for r in routes if r.is_template)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route, {}
        for candidate in self._templates:
            if candidate.method == method:
                params = candidate.match(path)
                if params is not None:
                    return candidate, params
        return None

    def knows(self, path: str) -> bool:
        """Does some route, of any method, serve this path?"""
        if path in self._paths:
            return True
        return any(route.match(path) is not None for route in self._templates)


def json_response(
    payload: Any, status: int = 200, media_type: str = "application/json"
) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=media_type)


def text_response(text: str, status: int = 200, media_type: str = "application/json") -> Response:
    """A body sent exactly as given (signed Alipay replies must not be re-serialised)."""
    return Response(text.encode(), status_code=status, media_type=media_type)


async def read_json(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is empty, malformed or not an object."""
    body = await request.body()
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


async def read_params(request: Request) -> dict[str, str]:
    """Query parameters merged with a form-encoded body (the body wins on a clash)."""
    params = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        body = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    return params
