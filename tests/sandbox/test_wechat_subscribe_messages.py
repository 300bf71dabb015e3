"""subscribeMessage.send in the sandbox, through the SDK: an acceptance is one message, a send
without one is 43101, and the platform's other refusals (40003, 40037, 47003, 45009, 40001)
come back as WeChat gives them."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.wechat import AsyncWeChatClient
from minibase.sandbox import Sandbox

TEMPLATE = "tmpl-order-shipped"
DATA = {"thing1": "a flat white", "time2": "2026-12-01 10:00"}


@pytest.fixture
async def wechat(sandbox: Sandbox, client: httpx.AsyncClient) -> AsyncWeChatClient:
    sandbox.register_app("wechat", "wx-msg", secret="msg-secret")
    return AsyncWeChatClient("wx-msg", "msg-secret", base_url="http://sandbox/wechat", http=client)


async def _refusal(wechat: AsyncWeChatClient, token: str, **message: object) -> object:
    with pytest.raises(PlatformError) as refused:
        await wechat.send_subscribe_message(token, **message)
    return refused.value.errcode


async def test_one_acceptance_is_one_message(wechat: AsyncWeChatClient, sandbox: Sandbox) -> None:
    openid = sandbox.subscribe("wechat", "wx-msg", "ann", TEMPLATE, 1)
    token = (await wechat.get_access_token()).value
    await wechat.send_subscribe_message(
        token, touser=openid, template_id=TEMPLATE, data=DATA, page="pages/order?id=1"
    )
    sent = sandbox.subscribe_messages()
    assert [(m["person"], m["template_id"], m["data"], m["page"]) for m in sent] == [
        ("ann", TEMPLATE, DATA, "pages/order?id=1")
    ]
    again = await _refusal(wechat, token, touser=openid, template_id=TEMPLATE, data=DATA)
    assert again == 43101


async def test_the_platforms_refusals(wechat: AsyncWeChatClient, sandbox: Sandbox) -> None:
    openid = sandbox.subscribe("wechat", "wx-msg", "ann", TEMPLATE, 5)
    token = (await wechat.get_access_token()).value
    assert (
        await _refusal(wechat, token, touser="o-nobody", template_id=TEMPLATE, data=DATA) == 40003
    )
    assert await _refusal(wechat, token, touser=openid, template_id="tmpl-x", data=DATA) == 40037
    empty = {"thing1": ""}
    assert await _refusal(wechat, token, touser=openid, template_id=TEMPLATE, data=empty) == 47003
    assert await _refusal(
        wechat, "not-a-token", touser=openid, template_id=TEMPLATE, data=DATA
    ) == (40001)
    sandbox.rate_limit("wechat", "wx-msg", 0)
    assert await _refusal(wechat, token, touser=openid, template_id=TEMPLATE, data=DATA) == 45009
    assert sandbox.subscribe_messages() == []  # nothing was delivered by a refused call


async def test_the_control_api_grants_and_lists(
    client: httpx.AsyncClient, wechat: AsyncWeChatClient
) -> None:
    granted = await client.post(
        "/control/subscribe",
        json={"appid": "wx-msg", "person": "bob", "template_id": TEMPLATE, "count": 2},
    )
    openid = granted.json()["openid"]
    token = (await wechat.get_access_token()).value
    for _ in range(2):
        await wechat.send_subscribe_message(token, touser=openid, template_id=TEMPLATE, data=DATA)
    listed = (await client.get("/control/subscribe-messages")).json()["items"]
    assert [m["touser"] for m in listed] == [openid, openid]
    bad = await client.post(
        "/control/subscribe",
        json={"appid": "wx-msg", "person": "bob", "template_id": TEMPLATE, "count": 0},
    )
    assert bad.status_code == 400
