"""Subscribe messages on Douyin and Alipay in the sandbox, through the SDK: as on WeChat, an
acceptance is one message; the refusals come back in each platform's own codes (Douyin's
err_no 1001, 1000, 1010 and 28001003; Alipay's 40004 sub_codes, signed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.platforms import PlatformError
from minibase.platforms.alipay import AsyncAlipayClient, crypto
from minibase.platforms.douyin import AsyncDouyinClient
from minibase.sandbox import Sandbox

TEMPLATE = "MSG1234567890"
DATA = {"物品名称": "两杯咖啡", "购买金额": "23.00"}
ALIPAY_APP = "2021000000000009"


@pytest.fixture
def douyin(sandbox: Sandbox, client: httpx.AsyncClient) -> AsyncDouyinClient:
    sandbox.register_app("douyin", "tt-msg", secret="tt-secret")
    return AsyncDouyinClient("tt-msg", "tt-secret", base_url="http://sandbox/douyin", http=client)


@pytest.fixture
async def alipay(
    sandbox: Sandbox, client: httpx.AsyncClient, clock: FrozenClock
) -> AsyncIterator[AsyncAlipayClient]:
    private_key, public_key = crypto.generate_rsa_keypair()
    registered = sandbox.register_app("alipay", ALIPAY_APP, app_public_key=public_key)
    pay = AsyncAlipayClient(
        ALIPAY_APP,
        private_key,
        registered["alipay_public_key"],
        gateway="http://sandbox/alipay/gateway.do",
        http=client,
        clock=lambda: clock.now().timestamp(),
    )
    yield pay
    await pay.aclose()


async def test_a_douyin_subscription_is_one_notification(
    douyin: AsyncDouyinClient, sandbox: Sandbox
) -> None:
    openid = sandbox.subscribe("douyin", "tt-msg", "ann", TEMPLATE)
    token = (await douyin.get_access_token()).value
    await douyin.send_subscribe_notification(
        token, open_id=openid, tpl_id=TEMPLATE, data=DATA, page="pages/order?id=1"
    )
    sent = sandbox.subscribe_messages()
    assert [(m["platform"], m["person"], m["data"], m["page"]) for m in sent] == [
        ("douyin", "ann", DATA, "pages/order?id=1")
    ]
    with pytest.raises(PlatformError) as used_up:
        await douyin.send_subscribe_notification(token, open_id=openid, tpl_id=TEMPLATE, data=DATA)
    assert used_up.value.errcode == 1001
    assert len(sandbox.subscribe_messages()) == 1


async def test_douyin_refusals(douyin: AsyncDouyinClient, sandbox: Sandbox) -> None:
    openid = sandbox.subscribe("douyin", "tt-msg", "ann", TEMPLATE, count=5)
    token = (await douyin.get_access_token()).value

    async def refusal(token: str, **message: object) -> PlatformError:
        with pytest.raises(PlatformError) as refused:
            await douyin.send_subscribe_notification(token, **message)
        return refused.value

    stale = await refusal("not-a-token", open_id=openid, tpl_id=TEMPLATE, data=DATA)
    assert (stale.errcode, stale.access_token_rejected) == (28001003, True)
    assert (await refusal(token, open_id=openid, tpl_id="MSG-other", data=DATA)).errcode == 1001
    assert (await refusal(token, open_id="_000nobody", tpl_id=TEMPLATE, data=DATA)).errcode == 1001
    assert (await refusal(token, open_id=openid, tpl_id=TEMPLATE, data={})).errcode == 1000
    sandbox.rate_limit("douyin", "tt-msg", 0)
    busy = await refusal(token, open_id=openid, tpl_id=TEMPLATE, data=DATA)
    assert (busy.errcode, busy.kind) == (1010, "rate_limited")
    assert sandbox.subscribe_messages() == []


async def test_an_alipay_acceptance_is_one_message(
    alipay: AsyncAlipayClient, sandbox: Sandbox
) -> None:
    openid = sandbox.subscribe("alipay", ALIPAY_APP, "bo", TEMPLATE)
    await alipay.send_template_message(
        to=openid, user_template_id=TEMPLATE, data=DATA, page="pages/order?id=2"
    )
    sent = sandbox.subscribe_messages()
    assert [(m["platform"], m["person"], m["data"], m["page"]) for m in sent] == [
        ("alipay", "bo", DATA, "pages/order?id=2")
    ]
    with pytest.raises(PlatformError) as used_up:
        await alipay.send_template_message(to=openid, user_template_id=TEMPLATE, data=DATA)
    assert used_up.value.errcode == "USER_NOT_SUBSCRIBED"


async def test_alipay_refusals_name_the_problem(
    alipay: AsyncAlipayClient, sandbox: Sandbox
) -> None:
    openid = sandbox.subscribe("alipay", ALIPAY_APP, "bo", TEMPLATE, count=3)

    async def refusal(**message: object) -> object:
        with pytest.raises(PlatformError) as refused:
            await alipay.send_template_message(**message)
        assert refused.value.kind == "other"  # a lasting refusal: retrying will not help
        return refused.value.errcode

    assert await refusal(to=openid, user_template_id="other", data=DATA) == "USER_TEMPLATE_ILLEGAL"
    long_value = {"keyword1": "x" * 51}
    assert (
        await refusal(to=openid, user_template_id=TEMPLATE, data=long_value)
        == "USER_KEYWORD_LENGTH_ERROR"
    )
    assert (
        await refusal(to=openid, user_template_id=TEMPLATE, data={}) == "USER_TEMPLATE_LACK_KEYWORD"
    )
    assert sandbox.subscribe_messages() == []


async def test_the_control_api_takes_a_platform(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("douyin", "tt-ctl", secret="s")
    granted = await client.post(
        "/control/subscribe",
        json={"platform": "douyin", "appid": "tt-ctl", "person": "cy", "template_id": TEMPLATE},
    )
    assert granted.json()["openid"].startswith("_000")
    unsupported = await client.post(
        "/control/subscribe",
        json={"platform": "baidu", "appid": "tt-ctl", "person": "cy", "template_id": TEMPLATE},
    )
    assert unsupported.status_code == 400
