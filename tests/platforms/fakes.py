"""Fakes for platform tests: a scripted platform behind httpx.MockTransport, and a driver that
runs the same client method on the sync client or the async one, so every test covers both."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx


class FakePlatform:
    """Answers every request the same way and remembers what it was asked."""

    def __init__(
        self,
        body: Any = None,
        *,
        status: int = 200,
        text: str | None = None,
        error: type[httpx.TransportError] | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.text = text
        self.error = error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error("scripted failure", request=request)
        if self.text is not None:
            return httpx.Response(self.status, text=self.text)
        return httpx.Response(self.status, json=self.body)

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]

    @property
    def sent_json(self) -> Any:
        return json.loads(self.request.content)

    @property
    def sent_form(self) -> dict[str, str]:
        return dict(httpx.QueryParams(self.request.content.decode()))


class Driver:
    """`await driver(platform).code2session("c")` on the sync or the async client."""

    def __init__(
        self, mode: str, make_sync: Callable[..., Any], make_async: Callable[..., Any]
    ) -> None:
        self.mode = mode
        self.make_sync = make_sync
        self.make_async = make_async

    def __call__(self, platform: FakePlatform) -> _Bound:
        return _Bound(self, platform)


class _Bound:
    def __init__(self, driver: Driver, platform: FakePlatform) -> None:
        self.driver = driver
        self.platform = platform

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            transport = httpx.MockTransport(self.platform)
            if self.driver.mode == "sync":
                with httpx.Client(transport=transport) as http:
                    return getattr(self.driver.make_sync(http), name)(*args, **kwargs)
            async with httpx.AsyncClient(transport=transport) as http:
                result = getattr(self.driver.make_async(http), name)(*args, **kwargs)
                # Pure helpers (no I/O) stay plain methods on the async clients too.
                return await result if inspect.isawaitable(result) else result

        return call
