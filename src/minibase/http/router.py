"""Dispatch a request to its endpoint: a table by method, literal paths before templated ones.

Starlette's Router wraps every call in several layers (child scopes, exception-handler wrappers,
request/response adapters); on the record routes that was a tenth of the request's time. This
does only what minibase needs: match, set `path_params`, call, send.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.errors import ApiError
from minibase.http.routing import Endpoint

_PARAM = re.compile(r"{(\w+)}")
# The scope key the route's template is kept under (`/api/collections/{name}/records`), for
# metrics: a label by template, never by raw path.
ROUTE = "minibase.route"
# Scope keys: the header every answer carries (x-request-id, set by the middleware), and the
# status the request was answered with, once its answer has started.
ID_HEADER = "minibase.id_header"
STATUS = "minibase.status"
Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]
# Runs before an endpoint's handler, e.g. to refuse the request (the request rate limits).
Guard = Callable[[Request, Endpoint], Awaitable[None]]


def _pattern(path: str) -> re.Pattern[str]:
    parts = _PARAM.split(path)
    # split alternates literal text and parameter names
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(regex)


async def answer(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    """Send an answer of ours, with the request's id, noting its status."""
    response.raw_headers.append(scope[ID_HEADER])
    scope[STATUS] = response.status_code
    await response(scope, receive, send)


def marked(scope: Scope, send: Send) -> Send:
    """`send` for an app that answers on its own (a mount): its answer gets the request's id
    and its status is noted."""

    async def send_marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            scope[STATUS] = message["status"]
            message["headers"] = [*message.get("headers", []), scope[ID_HEADER]]
        await send(message)

    return send_marked


class Dispatcher:
    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        lifespan: Lifespan,
        mounts: Sequence[tuple[str, ASGIApp]] = (),
        guard: Guard | None = None,
    ) -> None:
        self._lifespan = lifespan
        self._guard = guard
        # (path prefix, what starts a path below it, app): e.g. the dev sandbox
        self._mounts = tuple((prefix, prefix + "/", app) for prefix, app in mounts)
        self._literal: dict[tuple[str, str], Endpoint] = {}
        self._templated: dict[str, list[tuple[re.Pattern[str], Endpoint]]] = {}
        self._all: list[tuple[re.Pattern[str], str, int]] = []  # (pattern, method, literals)
        for endpoint in endpoints:
            pattern = _pattern(endpoint.path)
            literals = len(_PARAM.sub("", endpoint.path))
            self._all.append((pattern, endpoint.method, literals))
            if "{" in endpoint.path:
                self._templated.setdefault(endpoint.method, []).append((pattern, endpoint))
            else:
                self._literal[(endpoint.method, endpoint.path)] = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(scope, receive, send)
            return
        path: str = scope["path"]
        for prefix, below, app in self._mounts:
            if path == prefix or path.startswith(below):
                scope[ROUTE] = prefix + "/*"
                inner = {
                    **scope,
                    "path": path[len(prefix) :] or "/",
                    "root_path": scope.get("root_path", "") + prefix,
                }
                await app(inner, receive, marked(scope, send))
                return
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            raise ApiError(
                "request.nul_character", 400, "the path or query holds the NUL character (%00)"
            )
        endpoint = self._find(scope)
        request = Request(scope, receive)
        if self._guard is not None:
            await self._guard(request, endpoint)
        response = await endpoint.handler(request)
        await answer(scope, receive, send, response)

    def _find(self, scope: Scope) -> Endpoint:
        method, path = scope["method"], scope["path"]
        endpoint = self._literal.get((method, path))
        if endpoint is not None:
            scope["path_params"] = {}
            scope[ROUTE] = path
            return endpoint
        for pattern, candidate in self._templated.get(method, ()):
            match = pattern.fullmatch(path)
            if match is not None:
                scope["path_params"] = match.groupdict()
                scope[ROUTE] = candidate.path  # the template: bounded labels for /metrics
                return candidate
        allowed = self._allowed(path)
        if allowed:
            raise ApiError(
                "request.method_not_allowed",
                405,
                f"this route takes {', '.join(allowed)}",
                {"allowed": allowed},
            )
        raise ApiError("request.not_found", 404, "no route at this path")

    def _allowed(self, path: str) -> list[str]:
        """The methods of the path's resource: those of the most specific templates it matches
        (`.../records/bulk-create` is the bulk action, not a record of that id)."""
        matches = [(literals, m) for pattern, m, literals in self._all if pattern.fullmatch(path)]
        most = max((literals for literals, _ in matches), default=0)
        return sorted({m for literals, m in matches if literals == most})

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with self._lifespan(scope.get("app")):
                await send({"type": "lifespan.startup.complete"})
                started = True
                message = await receive()
                assert message["type"] == "lifespan.shutdown"
        except BaseException as exc:
            failure = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failure, "message": repr(exc)})
            raise
        await send({"type": "lifespan.shutdown.complete"})
