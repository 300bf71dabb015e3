"""The sandbox as an ASGI app: each platform's endpoints at their real paths under
`/<platform>/...` (WeChat Pay's under `/wechatpay/v3/...`; see `hosts`), or at the root when the
Host header names the platform's own host; the control API under `/control/...`; and the faults
(outages, call counts) applied on the way in."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from minibase.clock import Clock, SystemClock
from minibase.sandbox import (
    alipay,
    baidu,
    control_routes,
    douyin,
    douyin_content,
    douyin_messages,
    wechat,
    wechat_content,
    wechat_links,
    wechat_messages,
    wechat_push,
    wechatpay,
)
from minibase.sandbox.alipay_trade_control import AlipayPayControl
from minibase.sandbox.control import SandboxControl
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.faults import Outage
from minibase.sandbox.hosts import platform_of_host
from minibase.sandbox.routing import Route, RouteTable, json_response
from minibase.sandbox.state import SandboxState
from minibase.sandbox.wechatpay_control import WeChatPayControl

_BUSY: dict[str, Callable[[], Response]] = {
    "wechat": wechat.system_busy,
    "qq": wechat.system_busy,
    "douyin": douyin.system_busy,
    "baidu": baidu.system_busy,
    "alipay": alipay.system_busy,
    "wechatpay": wechatpay.system_busy,
}
_ROUTES = (
    *wechat.ROUTES,
    *wechat_messages.ROUTES,
    *wechat_links.ROUTES,
    *wechat_content.ROUTES,
    *douyin.ROUTES,
    *douyin_messages.ROUTES,
    *douyin_content.ROUTES,
    *baidu.ROUTES,
    *alipay.ROUTES,
    *wechatpay.ROUTES,
    *control_routes.ROUTES,
    *wechat_push.ROUTES,
)


class Sandbox(SandboxControl):
    """The fake platforms. Call it as an ASGI app, or call its control methods directly
    (WeChat Pay's are on `sandbox.wechatpay`, Alipay payments' on `sandbox.alipay`, WeChat
    message push on `sandbox.wechat_push`)."""

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self.wechatpay = WeChatPayControl(state)
        self.alipay = AlipayPayControl(state)
        self.wechat_push = wechat_push.WeChatPushControl(state)
        self._routes = RouteTable(_ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = _relative_path(scope)
        platform = platform_of_host(request.headers.get("host", ""))
        if platform is not None:  # a client of the platform's own host
            path = f"/{platform}{path}"
        response = await self._respond(request, path)
        await response(scope, receive, send)

    async def _respond(self, request: Request, path: str) -> Response:
        found = self._routes.find(request.method, path)
        if found is None:
            return self._no_route(request.method, path)
        route, params = found
        request.scope["path_params"] = params
        if route.platform == "control":
            try:
                return await route.handler(request, self._state)
            except SandboxError as exc:
                return json_response(exc.to_json(), status=exc.status)
        return await self._platform_call(route, request)

    def _no_route(self, method: str, path: str) -> Response:
        if self._routes.knows(path):
            message = f"{path} does not take {method}"
            return json_response({"code": "sandbox.method_not_allowed", "message": message}, 405)
        platform = path.split("/")[1] if path.count("/") > 1 else ""
        if platform in ("wechat", "qq"):
            return wechat.invalid_url()
        return json_response({"code": "sandbox.not_found", "message": f"no route {path}"}, 404)

    async def _platform_call(self, route: Route, request: Request) -> Response:
        platform = route.platform
        with self._state.lock:
            self._state.faults.record_call(platform, route.path[len(platform) + 1 :])
            outage = self._state.faults.take_outage(platform)
        if outage is not None:
            return await _fail(outage, platform)
        return await route.handler(request, self._state)


async def _fail(outage: Outage, platform: str) -> Response:
    if outage.mode == "timeout":
        await asyncio.sleep(outage.seconds)  # longer than the client waits: it gives up first
        return Response(b"gateway timeout", status_code=504, media_type="text/plain")
    if outage.mode == "http_500":
        body = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
        return Response(body, status_code=500, media_type="text/html")
    if outage.mode == "bad_json":
        # what a reply cut off half-way looks like
        return Response(b'{"errcode":0,"errmsg":"o', media_type="application/json")
    return _BUSY[platform]()


def _relative_path(scope: Scope) -> str:
    """The path below where the sandbox is mounted (it may sit under the server's root)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


async def _serve_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_sandbox(
    *, clock: Clock | None = None, code_ttl: int = 300, timeout_seconds: float = 30.0
) -> Sandbox:
    """A fresh sandbox with nothing registered.

    code_ttl: seconds a login or phone code stays usable (WeChat's is five minutes).
    timeout_seconds: how long a "timeout" outage holds each call before answering.
    """
    return Sandbox(SandboxState(clock or SystemClock(), code_ttl, timeout_seconds))


def standalone_app() -> Sandbox:
    """The factory the HTTP server imports (`minibase.sandbox.app:standalone_app`)."""
    return create_sandbox()


def serve_sandbox(host: str = "127.0.0.1", port: int = 9000) -> None:
    """Serve a standalone sandbox until interrupted (one worker: its state is in memory)."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        "minibase.sandbox.app:standalone_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
    ).serve()
