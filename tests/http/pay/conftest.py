"""Payments end to end: the server listens on a real port (the sandbox delivers its
notifications there), a shop is set up as a team would (a WeChat app and its WeChat Pay
merchant, or an Alipay app), and a person signs in through the sandbox to buy.

The clock is the real one plus an offset a test may move (OffsetClock): signatures carry real
timestamps, and a test can still jump past an order's expiry.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.http.login.conftest import sign_in

from minibase.app import create_app
from minibase.clock import OffsetClock
from minibase.config import Settings
from minibase.services import Services, attach_functions, background_for, open_services
from minibase.testing.keys import keypair
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient, free_port


@pytest.fixture
def clock() -> OffsetClock:  # type: ignore[override]
    return OffsetClock()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, port: int, tmp_path: Path) -> Settings:
    return settings.replace(
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        functions_dir=tmp_path / "functions",
        platform_timeout=5.0,
    )


@pytest.fixture
async def services(settings: Settings, clock: OffsetClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def server(services: Services, settings: Settings, port: int) -> AsyncIterator[str]:
    """The server on 127.0.0.1:<port>, serving the test's services; its base URL."""
    app = create_app(settings, services=services)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    running.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    await task


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield client


def load_functions(services: Services, source: str) -> None:
    """Write the functions folder's one file and load it, as `minibase serve` would."""
    folder = services.settings.functions_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop.py").write_text(source)
    attach_functions(services)


@pytest.fixture
async def workers(services: Services) -> AsyncIterator[None]:
    """Job workers and the scheduler, as `minibase serve` runs them."""
    background = background_for(services, reload=False, run_jobs=True)
    background.start()
    yield
    await background.stop()


@dataclass(frozen=True)
class Shop:
    provider: str  # "wechatpay" or "alipay"
    appid: str
    merchant: str  # the mchid, or the Alipay app id
    buyer: Actor
    buyer_headers: dict[str, str]

    async def order(
        self, http: httpx.AsyncClient, key: str = "k1", **fields: Any
    ) -> httpx.Response:
        body = {"product": "coffee", "amount": 1200, "idempotency_key": key, **fields}
        return await http.post("/api/pay/orders", json=body, headers=self.buyer_headers)


async def register_merchant(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    mchid: str,
    appids: list[str],
) -> dict[str, Any]:
    """A merchant as a team sets one up: keys made at the merchant platform (here: the
    sandbox), then registered with the server through the admin API."""
    private_key, public_key = keypair(f"merchant {mchid}")
    serial = secrets.token_hex(20).upper()
    api_v3_key = secrets.token_hex(16)
    platform = await sandbox.wechatpay_merchant(mchid, public_key, serial, api_v3_key)
    response = await http.post(
        "/api/admin/pay/merchants",
        json={
            "mchid": mchid,
            "name": "Coffee Corner",
            "appids": appids,
            "serial_no": serial,
            "private_key": private_key,
            "api_v3_key": api_v3_key,
            "platform_keys": {platform["platform_serial"]: platform["platform_certificate"]},
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return {"private_key": private_key, "api_v3_key": api_v3_key, "serial": serial}


async def _buyer(http: httpx.AsyncClient, sandbox: SandboxClient, platform: str, appid: str):
    session = await sign_in(http, sandbox, platform, appid, "alice")
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    return Actor(session["user"]["id"], session["access_token"]), headers


@pytest.fixture
async def wechat_shop(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, register_app: RegisterApp
) -> Shop:
    await register_app("wechat", "wx-coffee")
    await register_merchant(http, sandbox, admin, "1900000109", ["wx-coffee"])
    buyer, headers = await _buyer(http, sandbox, "wechat", "wx-coffee")
    return Shop("wechatpay", "wx-coffee", "1900000109", buyer, headers)


@pytest.fixture
async def alipay_shop(
    http: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> Shop:
    await register_app("alipay", "2021000000000001")
    buyer, headers = await _buyer(http, sandbox, "alipay", "2021000000000001")
    return Shop("alipay", "2021000000000001", "2021000000000001", buyer, headers)
