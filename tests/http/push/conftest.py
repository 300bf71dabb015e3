"""Message push end to end: the server listens on a real port, a WeChat app is registered with
its push token (and EncodingAESKey), and the sandbox's WeChat is given the app's message
server URL, which it verifies with a signed GET before it pushes anything there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.http.pay.conftest import clock, http, load_functions, port, server, services, settings

from minibase.platforms.wechat.push import new_encoding_aes_key
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient

__all__ = ["clock", "http", "load_functions", "port", "server", "services", "settings"]
APPID = "wx-push"
TOKEN = "push-token-for-tests"


@dataclass(frozen=True)
class PushingApp:
    appid: str
    token: str
    encoding_aes_key: str | None
    url: str

    async def push(
        self, sandbox: SandboxClient, message: dict[str, Any], **delivery: Any
    ) -> dict[str, Any]:
        return await sandbox.wechat_push(self.appid, message, person="ann", **delivery)


async def set_up_push(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    server: str,
    *,
    mode: str = "safe",
    format: str = "xml",
    appid: str = APPID,
) -> PushingApp:
    """What a team does: register the app with its push token (and key, unless plaintext)
    through the admin API, then enter the URL, token and key in the mini program console."""
    key = None if mode == "plaintext" else new_encoding_aes_key()
    await sandbox.register_app("wechat", appid, secret="s3cret")
    app: dict[str, Any] = {"platform": "wechat", "appid": appid, "secret": "s3cret"}
    app["push_token"] = TOKEN
    if key is not None:
        app["push_aes_key"] = key
    created = await http.post("/api/admin/apps", json=app, headers=admin.headers)
    assert created.status_code == 201, created.text
    url = f"{server}/api/push/wechat/{appid}"
    await sandbox.wechat_push_config(
        appid, url, TOKEN, encoding_aes_key=key, mode=mode, format=format
    )
    return PushingApp(appid, TOKEN, key, url)


@pytest.fixture
async def safe_app(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, server: str
) -> PushingApp:
    return await set_up_push(http, sandbox, admin, server)


async def recorded(http: httpx.AsyncClient, admin: Actor, appid: str = APPID) -> list[Any]:
    listed = await http.get(f"/api/admin/push/wechat/{appid}/messages", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    items: list[Any] = listed.json()["items"]
    return items
