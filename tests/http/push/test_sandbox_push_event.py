"""Other sandbox features push their events with `push_event` (WeChat's own media-check
results, for one): it reaches the server as a signed, encrypted push, which the server records
and hands to the built-in handler a feature registered for it."""

from __future__ import annotations

from typing import Any

import httpx
from tests.functions.conftest import run_jobs
from tests.http.push.conftest import APPID, TOKEN, recorded

from minibase.messaging.push import PushMessage
from minibase.platforms.wechat.push import new_encoding_aes_key
from minibase.sandbox import create_sandbox
from minibase.sandbox.wechat_push import push_event
from minibase.services import Services
from minibase.testing.plugin import Actor


async def test_an_event_pushed_by_a_sandbox_feature_reaches_a_builtin_handler(
    http: httpx.AsyncClient, admin: Actor, server: str, services: Services
) -> None:
    seen: list[dict[str, Any]] = []

    async def media_checked(message: PushMessage) -> None:
        seen.append(message.fields)

    services.push.handle(
        "minibase.test_media_check", media_checked, msg_type="event", event="wxa_media_check"
    )
    key = new_encoding_aes_key()
    app = {"platform": "wechat", "appid": APPID, "secret": "s", "push_token": TOKEN}
    created = await http.post(
        "/api/admin/apps", json={**app, "push_aes_key": key}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    sandbox = create_sandbox()  # in this process: its Python functions are at hand
    sandbox.register_app("wechat", APPID, secret="s")
    await sandbox.wechat_push.configure(
        APPID, f"{server}/api/push/wechat/{APPID}", TOKEN, encoding_aes_key=key, mode="safe"
    )
    check = {"Event": "wxa_media_check", "trace_id": "t-1", "result": {"suggest": "pass"}}
    [delivered] = await push_event(sandbox._state, APPID, check, person="ann")
    assert (delivered["status"], delivered["body"]) == (200, "success")
    assert [m["event"] for m in await recorded(http, admin)] == ["wxa_media_check"]
    assert await run_jobs(services) == 2  # this handler, and content checks' own
    assert seen == [
        {
            **{k: seen[0][k] for k in ("ToUserName", "FromUserName", "CreateTime")},
            "MsgType": "event",
            "Event": "wxa_media_check",
            "trace_id": "t-1",
            "result": {"suggest": "pass"},
        }
    ]
    assert await push_event(sandbox._state, "wx-no-server", check) == []
