"""Subscribe messages on Douyin and Alipay, as on WeChat: the message goes through the app the
user signed in with, a lasting refusal fails it with the platform's own code, a rate limit is
retried; admins list messages with filters."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in
from tests.messaging.conftest import OffsetClock, message_status

TEMPLATE = "MSG-order-shipped"
DATA = {"物品名称": "两杯咖啡", "购买金额": "23.00"}


async def _queue(client: httpx.AsyncClient, admin: Actor, **body: Any) -> dict[str, Any]:
    queued = await client.post(
        "/api/messages/subscribe", json={"data": DATA, **body}, headers=admin.headers
    )
    assert queued.status_code == 202, queued.text
    answer: dict[str, Any] = queued.json()
    return answer


async def test_a_douyin_user_gets_a_subscribe_notification(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await register_app("douyin", "tt-shop")
    session = await sign_in(client, sandbox, "douyin", "tt-shop", "ann")
    await sandbox.subscribe("douyin", "tt-shop", "ann", TEMPLATE)
    granted = await client.post(
        "/api/messages/grants", json={TEMPLATE: "accept"}, headers=bearer(session)
    )
    assert granted.json() == {TEMPLATE: 1}
    user = session["user"]["id"]
    queued = await _queue(client, admin, user=user, template_id=TEMPLATE, page="pages/order")
    assert (queued["platform"], queued["appid"]) == ("douyin", "tt-shop")
    assert await run_jobs(services) == 1
    assert (await message_status(client, admin, queued["id"]))["state"] == "sent"
    assert [
        (m["platform"], m["person"], m["data"]) for m in await sandbox.subscribe_messages()
    ] == [("douyin", "ann", DATA)]
    # the acceptance is used: a second message fails for good with Douyin's err_no
    again = await _queue(client, admin, user=user, template_id=TEMPLATE)
    assert await run_jobs(services) == 1
    failed = await message_status(client, admin, again["id"])
    assert (failed["state"], failed["errcode"]) == ("failed", "1001")
    mine = await client.get("/api/messages/grants", headers=bearer(session))
    assert mine.json() == {TEMPLATE: 0}


async def test_a_douyin_rate_limit_is_retried(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
) -> None:
    await register_app("douyin", "tt-shop")
    session = await sign_in(client, sandbox, "douyin", "tt-shop", "bo")
    await sandbox.subscribe("douyin", "tt-shop", "bo", TEMPLATE)
    queued = await _queue(client, admin, user=session["user"]["id"], template_id=TEMPLATE)
    await sandbox.rate_limit("douyin", "tt-shop", 0)
    assert await run_jobs(services) == 1
    waiting = await message_status(client, admin, queued["id"])
    assert (waiting["state"], waiting["errcode"]) == ("queued", "1010")
    await sandbox.rate_limit("douyin", "tt-shop", 1000)
    clock.advance(hours=1)
    assert await run_jobs(services) == 1
    assert (await message_status(client, admin, queued["id"]))["state"] == "sent"


async def test_an_alipay_user_gets_a_subscribe_message(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await register_app("alipay", "2021000000000123")
    session = await sign_in(client, sandbox, "alipay", "2021000000000123", "cy")
    await sandbox.subscribe("alipay", "2021000000000123", "cy", TEMPLATE)
    user = session["user"]["id"]
    queued = await _queue(client, admin, user=user, template_id=TEMPLATE, page="pages/order")
    assert await run_jobs(services) == 1
    assert (await message_status(client, admin, queued["id"]))["state"] == "sent"
    delivered = await sandbox.subscribe_messages()
    assert [(m["platform"], m["person"], m["page"]) for m in delivered] == [
        ("alipay", "cy", "pages/order")
    ]
    unknown = await _queue(client, admin, user=user, template_id="MSG-never-offered")
    assert await run_jobs(services) == 1
    failed = await message_status(client, admin, unknown["id"])
    assert (failed["state"], failed["errcode"]) == ("failed", "USER_TEMPLATE_ILLEGAL")


async def test_the_platform_is_chosen_by_the_apps_the_user_has(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await register_app("douyin", "tt-shop")
    session = await sign_in(client, sandbox, "douyin", "tt-shop", "di")
    user = session["user"]["id"]
    for body, status, code in (
        ({"template_id": TEMPLATE, "miniprogram_state": "trial"}, 400, "messages.invalid"),
        ({"template_id": TEMPLATE, "platform": "wechat"}, 400, "messages.invalid"),
        ({"template_id": TEMPLATE, "platform": "baidu"}, 400, "messages.invalid"),
        ({"template_id": TEMPLATE, "appid": "wx-elsewhere"}, 409, "messages.no_openid"),
    ):
        refused = await client.post(
            "/api/messages/subscribe",
            json={"user": user, "data": DATA, **body},
            headers=admin.headers,
        )
        assert (refused.status_code, refused.json()["code"]) == (status, code), body
    assert await services.db.fetch_value("SELECT COUNT(*) FROM subscribe_messages") == 0


async def test_admins_list_messages_newest_first_with_filters(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await register_app("douyin", "tt-shop")
    await register_app("wechat", "wx-shop")
    ann = (await sign_in(client, sandbox, "douyin", "tt-shop", "ann"))["user"]["id"]
    bob = (await sign_in(client, sandbox, "wechat", "wx-shop", "bob"))["user"]["id"]
    await sandbox.subscribe("douyin", "tt-shop", "ann", TEMPLATE)
    first = await _queue(client, admin, user=ann, template_id=TEMPLATE)
    assert await run_jobs(services) == 1  # sent
    second = await _queue(client, admin, user=bob, template_id="tmpl-wx", data={"thing1": "x"})
    third = await _queue(client, admin, user=ann, template_id=TEMPLATE)

    async def listed(**query: Any) -> list[str]:
        answer = await client.get("/api/admin/messages", params=query, headers=admin.headers)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert await listed() == [third["id"], second["id"], first["id"]]
    assert await listed(user=ann) == [third["id"], first["id"]]
    assert await listed(platform="wechat") == [second["id"]]
    assert await listed(state="sent") == [first["id"]]
    assert await listed(state="queued", appid="tt-shop") == [third["id"]]
    assert await listed(template_id="tmpl-wx") == [second["id"]]
    assert await listed(limit=2) == [third["id"], second["id"]]
    assert await listed(limit=2, before=second["id"]) == [first["id"]]
    bad = await client.get("/api/admin/messages?state=lost", headers=admin.headers)
    assert (bad.status_code, bad.json()["code"]) == (400, "request.invalid_query")
    as_user = await client.get(
        "/api/admin/messages",
        headers=bearer(await sign_in(client, sandbox, "wechat", "wx-shop", "x")),
    )
    assert as_user.status_code == 403
