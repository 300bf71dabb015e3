"""The pieces every sandbox endpoint shares: the route type, request parsing, JSON replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    path: str  # from the sandbox root: "/wechat/sns/jscode2session"
    handler: Handler

    @property
    def platform(self) -> str:
        return self.path.split("/")[1]


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
