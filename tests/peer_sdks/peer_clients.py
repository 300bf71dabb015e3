"""Pointing the platforms' own SDKs at the sandbox, as docs/sandbox.md tells a team to.

SDKs with a base URL setting get `<sandbox>/<platform>` there; SDKs that write the platform's
host into their code (wechatpy's token URL) get their `requests` session's traffic for the
platform hosts moved into the sandbox by `IntoSandbox`, the path left as it is."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from minibase.sandbox.hosts import in_sandbox


class IntoSandbox(HTTPAdapter):
    """A requests adapter that sends https://api.weixin.qq.com/... (and every other platform
    host) to the sandbox instead: `session.mount("https://", IntoSandbox(sandbox_url))`."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        moved = in_sandbox(request.url or "", self.sandbox_url)
        if moved == request.url:
            raise AssertionError(f"{request.url} is not a platform host the sandbox stands in for")
        request.url = moved
        return super().send(request, *args, **kwargs)
