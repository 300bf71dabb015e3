"""A media check's verdict comes back the way WeChat sends it: pushed, encrypted, to the app's
message server. The server records the push, and its built-in handler moves the pending check
to the verdict, once, however often WeChat delivers it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in
from tests.http.push.conftest import APPID, recorded, set_up_push

from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient


async def _media_check(http: httpx.AsyncClient, headers: dict[str, str], url: str) -> Any:
    queued = await http.post(
        "/api/content/media-checks",
        json={"media_url": url, "media_type": "image", "scene": "comment"},
        headers=headers,
    )
    assert queued.status_code == 202, queued.text
    return queued.json()


@pytest.mark.parametrize("format", ["xml", "json"])
async def test_a_pushed_verdict_finishes_the_media_check_once(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    server: str,
    services: Services,
    format: str,
) -> None:
    await set_up_push(http, sandbox, admin, server, mode="safe", format=format)
    session = await sign_in(http, sandbox, "wechat", APPID, "ann")
    check = await _media_check(http, bearer(session), "https://cdn.example.com/sandbox-risky.png")
    url = f"/api/content/media-checks/{check['trace_id']}"
    assert (await http.get(url, headers=bearer(session))).json()["state"] == "pending"

    event = await sandbox.finish_media_check(check["trace_id"])  # WeChat pushes the verdict
    [delivery] = await sandbox.wechat_push_deliveries()
    assert (delivery["status"], delivery["body"]) == (200, "success")
    assert [m["event"] for m in await recorded(http, admin)] == ["wxa_media_check"]
    assert await run_jobs(services) == 1
    seen = (await http.get(url, headers=bearer(session))).json()
    assert (seen["state"], seen["label"]) == ("risky", event["result"]["label"])

    # WeChat delivers again (no answer reached it): one record, the verdict unchanged
    await sandbox.wechat_push(APPID, event)
    assert len(await recorded(http, admin)) == 1
    assert await run_jobs(services) == 0
    assert (await http.get(url, headers=bearer(session))).json()["checked_at"] == seen["checked_at"]


async def test_without_a_message_server_the_check_stays_pending(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, services: Services
) -> None:
    await sandbox.register_app("wechat", "wx-quiet", secret="s3cret")
    created = await http.post(
        "/api/admin/apps",
        json={"platform": "wechat", "appid": "wx-quiet", "secret": "s3cret"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    session = await sign_in(http, sandbox, "wechat", "wx-quiet", "bo")
    check = await _media_check(http, bearer(session), "https://cdn.example.com/cat.png")
    await sandbox.finish_media_check(check["trace_id"])
    assert await sandbox.wechat_push_deliveries() == []
    assert await run_jobs(services) == 0
    url = f"/api/content/media-checks/{check['trace_id']}"
    assert (await http.get(url, headers=bearer(session))).json()["state"] == "pending"
