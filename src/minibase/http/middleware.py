"""Pure-ASGI middleware (no per-request task or copy): request ids, method overrides, error
bodies, request metrics, CORS."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import sys
from time import perf_counter

from starlette.types import ASGIApp, Receive, Scope, Send

from minibase.errors import ApiError
from minibase.http.json import error_response
from minibase.http.router import ID_HEADER, ROUTE, STATUS, answer
from minibase.log import REQUEST_ID
from minibase.observability.requests import UNMATCHED, RequestMetrics
from minibase.store.database import DatabaseUnavailable

log = logging.getLogger("minibase.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# mini programs' request APIs send no PATCH (wx.request, my.request, tt.request ...): a POST
# with X-HTTP-Method-Override names the method it stands for
_OVERRIDES = frozenset({"PATCH", "PUT", "DELETE"})


class RequestIds:
    """Ids for requests that came without one: unique, not secret (they are echoed back and
    logged), so a random prefix per process and a counter, where a random id for each would
    cost a system call per request. 16 hex digits, like an incoming one may be."""

    def __init__(self) -> None:
        self._restart()
        os.register_at_fork(after_in_child=self._restart)  # server workers are forked

    def _restart(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


_request_ids = RequestIds()


def _redis_unreachable(exc: Exception) -> bool:
    """Redis (`cache_url`: rate limits, throttles, shared tokens) down or too slow to answer.
    Never imported, it raised nothing."""
    errors = sys.modules.get("redis.exceptions")
    return errors is not None and isinstance(exc, (errors.ConnectionError, errors.TimeoutError))


class RequestContext:
    """Gives every request an id (or keeps a sane incoming X-Request-Id), echoes it back and
    stamps the request's log lines with it, lets a POST stand for PATCH, PUT or DELETE
    (X-HTTP-Method-Override), turns any escaped exception into a JSON error (the client sees
    a code and the request id, the log gets the trace), and records the request's route,
    status and duration in `metrics`."""

    def __init__(self, app: ASGIApp, owner: object, metrics: RequestMetrics) -> None:
        self.app = app
        self.owner = owner  # what `request.app` is for routes (it carries `state.services`)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = perf_counter()
        metrics = self.metrics
        metrics.in_flight += 1
        request_id = _incoming_id(scope) or _request_ids.new()
        in_request = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["app"] = self.owner
        scope[ID_HEADER] = (b"x-request-id", request_id.encode())
        try:
            if scope["method"] == "POST":
                _override_method(scope)
            await self.app(scope, receive, send)
        except Exception as exc:
            if STATUS in scope:  # the answer has started: too late for another
                raise
            error = _as_api_error(exc, request_id)
            await answer(scope, receive, send, error_response(error, request_id))
        finally:
            REQUEST_ID.reset(in_request)
            metrics.in_flight -= 1
            metrics.observe(
                scope.get(ROUTE, UNMATCHED),
                scope["method"],
                scope.get(STATUS, 500),  # 500: the request ended without an answer
                perf_counter() - began,
            )


def _as_api_error(exc: Exception, request_id: str) -> ApiError:
    """What the client is told of an exception that escaped its route (the log has the rest)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, DatabaseUnavailable):
        log.error("database unavailable (request %s): %s", request_id, exc)
        return ApiError("server.unavailable", 503, "the database is unavailable; retry")
    if _redis_unreachable(exc):
        log.error("Redis (cache_url) unreachable (request %s): %s", request_id, exc)
        return ApiError("server.unavailable", 503, "Redis is unavailable; retry")
    log.exception("unhandled error (request %s)", request_id)
    return ApiError("server.internal", 500, "an unexpected error; the log has the details")


def raw_header(scope: Scope, name: bytes) -> str | None:
    """A request header's first value, straight from the ASGI scope (names come in lower
    case): what Starlette's `request.headers.get` answers, without building its mapping."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def _override_method(scope: Scope) -> None:
    value = raw_header(scope, b"x-http-method-override")
    if value is None:
        return
    method = value.strip().upper()
    if method not in _OVERRIDES:
        raise ApiError(
            "request.invalid_method_override",
            400,
            f"X-HTTP-Method-Override {method!r}: a POST may stand for PATCH, PUT or DELETE",
        )
    scope["method"] = method


def _incoming_id(scope: Scope) -> str | None:
    text = raw_header(scope, b"x-request-id")
    return text if text is not None and _REQUEST_ID.fullmatch(text) else None
