"""Sans-IO platform calls, run by a sync or an async httpx client.

Each platform module builds `Call`s (what to send, how to read the answer) once; `run_sync` and
`run_async` send them. Network trouble becomes PlatformError(kind="unavailable") in one place.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx

from minibase.platforms.errors import PlatformError

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(10.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client of the process, as httpx makes it by default
    (certifi's trust store, or SSL_CERT_FILE / SSL_CERT_DIR): loading it costs ~45 ms, and
    clients are made per app and per delivery."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP exchange with a platform: the request, and the parser of its response."""

    platform: str
    method: str
    url: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    json: Mapping[str, Any] | None = None
    data: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    content: bytes | None = None  # a body sent byte for byte (WeChat Pay signs its exact text)


def run_sync(call: Call[T], client: httpx.Client) -> T:
    try:
        response = client.request(
            call.method,
            call.url,
            params=call.params,
            json=call.json,
            data=call.data,
            headers=call.headers,
            content=call.content,
        )
    except httpx.RequestError as error:
        raise _unreachable(call, error) from error
    return _finish(call, response)


async def run_async(call: Call[T], client: httpx.AsyncClient) -> T:
    try:
        response = await client.request(
            call.method,
            call.url,
            params=call.params,
            json=call.json,
            data=call.data,
            headers=call.headers,
            content=call.content,
        )
    except httpx.RequestError as error:
        raise _unreachable(call, error) from error
    return _finish(call, response)


def _unreachable(call: Call[Any], error: httpx.RequestError) -> PlatformError:
    what = "timed out" if isinstance(error, httpx.TimeoutException) else "could not be reached"
    return PlatformError(call.platform, "unavailable", f"{call.url} {what}: {error!r}")


def _finish(call: Call[T], response: httpx.Response) -> T:
    status = response.status_code
    if status >= 500:
        raise PlatformError(
            call.platform, "unavailable", f"HTTP {status} from {call.url}", http_status=status
        )
    if status == 429:
        raise PlatformError(
            call.platform, "rate_limited", f"HTTP 429 from {call.url}", http_status=status
        )
    return call.parse(response)


def json_object(response: httpx.Response, platform: str) -> dict[str, Any]:
    """The body as a JSON object; a body that is not JSON means the platform is not itself."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as error:
        raise PlatformError(
            platform,
            "unavailable",
            f"HTTP {response.status_code} with a body that is not JSON",
            http_status=response.status_code,
        ) from error
    if not isinstance(body, dict):
        raise PlatformError(
            platform,
            "bad_response",
            "the body is JSON but not an object",
            http_status=response.status_code,
        )
    return body


def required_str(body: Mapping[str, Any], key: str, platform: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise PlatformError(platform, "bad_response", f"the answer has no {key}")
    return value


def optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


class SyncPlatformClient:
    """Owns or borrows an httpx.Client; platform clients add methods that run Calls on it."""

    def __init__(self, http: httpx.Client | None) -> None:
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.Client(timeout=DEFAULT_TIMEOUT, verify=tls_context())
        )

    def _run(self, call: Call[T]) -> T:
        return run_sync(call, self._http)

    def close(self) -> None:
        """Close the HTTP client if this object created it; a borrowed one stays open."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPlatformClient:
    """Owns or borrows an httpx.AsyncClient; the async twin of SyncPlatformClient."""

    def __init__(self, http: httpx.AsyncClient | None) -> None:
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, verify=tls_context())
        )

    async def _run(self, call: Call[T]) -> T:
        return await run_async(call, self._http)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncSecretClient(SyncPlatformClient):
    """A platform app known by its id and a shared secret (WeChat, QQ, Douyin, Baidu)."""

    BASE_URL: ClassVar[str]

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(http)
        self.appid = appid
        self._secret = secret
        self.base_url = base_url or self.BASE_URL


class AsyncSecretClient(AsyncPlatformClient):
    """The async twin of SyncSecretClient."""

    BASE_URL: ClassVar[str]

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(http)
        self.appid = appid
        self._secret = secret
        self.base_url = base_url or self.BASE_URL
