"""For SDKs built on `requests` that write a platform's host into their code (wechatpy's token
URL): an adapter that sends their calls to the sandbox, path unchanged.

    session.mount("https://", IntoSandbox("http://127.0.0.1:9000"))

Needs `requests` (the SDK brings it); minibase itself does not."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from minibase.sandbox.hosts import in_sandbox


class IntoSandbox(HTTPAdapter):
    """Moves https://api.weixin.qq.com/... (and every other platform host) into the sandbox;
    a call to any other host is refused, so nothing reaches a real platform by mistake."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        moved = in_sandbox(request.url or "", self.sandbox_url)
        if moved == request.url:
            raise requests.ConnectionError(
                f"{request.url}: not a platform host the sandbox stands in for"
            )
        request.url = moved
        return super().send(request, *args, **kwargs)
