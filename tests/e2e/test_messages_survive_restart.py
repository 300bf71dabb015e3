"""A queued subscribe message with the real server: queued on one `minibase serve` that is
killed (SIGKILL) before sending it, then sent by the next server through a WeChat outage —
retried, delivered once, its status readable throughout."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from minibase.testing.sandbox import SandboxClient
from tests.e2e.conftest import admin_headers, start_server, stop_server

APPID, SECRET = "wx-outbox", "s3cret-outbox-test"
TEMPLATE = "tmpl-shipped"
TOML = f"""\
[[apps]]
platform = "wechat"
appid = "{APPID}"
secret = "{SECRET}"
"""


async def _status(http: httpx.AsyncClient, url: str, admin: dict[str, str], id: str) -> Any:
    return (await http.get(f"{url}/api/admin/messages/{id}", headers=admin)).json()


async def test_a_queued_message_survives_a_crash_and_an_outage(
    tmp_path: Path, sandbox: SandboxClient
) -> None:
    await sandbox.register_app("wechat", APPID, secret=SECRET)
    (tmp_path / "minibase.toml").write_text(TOML)
    env = {"MINIBASE_SANDBOX_URL": sandbox.url}
    # an API-only instance: it queues, it never sends
    first = start_server(tmp_path, env={**env, "MINIBASE_RUN_JOBS": "false"})
    try:
        admin = admin_headers(first, "ops@example.com")
        async with httpx.AsyncClient(timeout=30) as http:
            code = (await sandbox.login_code("wechat", APPID, "ann"))["code"]
            session = await http.post(
                f"{first.url}/api/auth/wechat/login", json={"appid": APPID, "code": code}
            )
            user = session.json()["user"]["id"]
            await sandbox.subscribe("wechat", APPID, "ann", TEMPLATE)
            queued = await http.post(
                f"{first.url}/api/messages/subscribe",
                headers=admin,
                json={"user": user, "template_id": TEMPLATE, "data": {"thing1": "shipped"}},
            )
            assert queued.status_code == 202, queued.text
            message = queued.json()["id"]
    finally:
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
    # WeChat fails the next two calls; the new server's worker retries through it
    await sandbox.outage("wechat", "http_500", count=2)
    second = start_server(tmp_path, env=env)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            deadline = time.monotonic() + 30
            status = await _status(http, second.url, admin, message)
            while status["state"] == "queued" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                status = await _status(http, second.url, admin, message)
            assert status["state"] == "sent", status
    finally:
        stop_server(second)
    delivered = await sandbox.subscribe_messages()
    assert [(m["person"], m["template_id"]) for m in delivered] == [("ann", TEMPLATE)]
    calls = (await sandbox.calls())["wechat"]
    # two token fetches failed in the outage, the third went through; one send
    assert calls.get("/cgi-bin/stable_token") == 3
    assert calls.get("/cgi-bin/message/subscribe/send") == 1
