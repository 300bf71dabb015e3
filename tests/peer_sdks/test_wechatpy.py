"""wechatpy, the SDK most WeChat back ends already use, against the sandbox over real HTTP: the
only change from production is where its requests go (the sandbox instead of
api.weixin.qq.com, same paths)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from minibase.sandbox.requests_adapter import IntoSandbox
from minibase.testing.sandbox import SandboxClient

APPID = "wx5ee1d4b2c3a40001"
SECRET = "d2a3f1c0b9e84c7d6a5f4e3d2c1b0a99"
TEMPLATE = "tmpl-order-shipped"


def wechatpy_client(sandbox: SandboxClient, client_class: type[WeChatClient] = WeChatClient) -> Any:
    client = client_class(APPID, SECRET)
    client._http.mount("https://", IntoSandbox(sandbox.url))
    return client


class StableTokenClient(WeChatClient):
    """How wechatpy users take the stable token (wechatpy wraps only cgi-bin/token)."""

    def fetch_access_token(self) -> dict[str, Any]:
        answer = self._http.post(
            "https://api.weixin.qq.com/cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        result: dict[str, Any] = self._decode_result(answer)
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result["errmsg"], client=self)
        self.session.set(self.access_token_key, result["access_token"], result["expires_in"])
        self.expires_at = int(time.time()) + result["expires_in"]
        return result


@pytest.fixture
async def sandbox_app(sandbox: SandboxClient) -> SandboxClient:
    await sandbox.register_app("wechat", APPID, secret=SECRET)
    return sandbox


async def test_wechatpy_fetches_an_access_token_that_the_other_apis_accept(
    sandbox_app: SandboxClient,
) -> None:
    client = wechatpy_client(sandbox_app)
    answer = client.fetch_access_token()
    assert answer["expires_in"] == 7200
    assert client.access_token == answer["access_token"]
    assert (await sandbox_app.calls())["wechat"]["/cgi-bin/token"] == 1


async def test_wechatpy_with_a_wrong_secret_gets_wechats_40125(sandbox_app: SandboxClient) -> None:
    client = WeChatClient(APPID, "not-the-secret")
    client._http.mount("https://", IntoSandbox(sandbox_app.url))
    with pytest.raises(WeChatClientException) as refused:
        client.fetch_access_token()
    assert refused.value.errcode == 40125


async def test_a_stable_token_taken_twice_is_the_same_token(sandbox_app: SandboxClient) -> None:
    first = wechatpy_client(sandbox_app, StableTokenClient).fetch_access_token()
    again = wechatpy_client(sandbox_app, StableTokenClient).fetch_access_token()
    assert first["access_token"] == again["access_token"]
    assert 0 < again["expires_in"] <= 7200


async def test_code_to_session_gives_the_persons_openid_once(sandbox_app: SandboxClient) -> None:
    login = await sandbox_app.login_code("wechat", APPID, "alice")
    client = wechatpy_client(sandbox_app)

    session = client.wxa.code_to_session(login["code"])
    assert session["openid"] == login["openid"]
    assert session["session_key"]

    with pytest.raises(WeChatClientException) as used:
        client.wxa.code_to_session(login["code"])
    assert used.value.errcode == 40163


async def test_get_phone_number_reads_the_number_the_person_allowed(
    sandbox_app: SandboxClient,
) -> None:
    code = await sandbox_app.phone_code(APPID, "alice", "13800138000")
    answer = wechatpy_client(sandbox_app).wxa.get_phone_number(code)
    assert answer["phone_info"]["purePhoneNumber"] == "13800138000"
    assert answer["phone_info"]["countryCode"] == "86"
    assert answer["phone_info"]["watermark"]["appid"] == APPID


async def test_a_subscribe_message_goes_to_a_person_who_accepted_it(
    sandbox_app: SandboxClient,
) -> None:
    openid = await sandbox_app.subscribe("wechat", APPID, "alice", TEMPLATE)
    client = wechatpy_client(sandbox_app)
    data = {"thing1": {"value": "两杯咖啡"}, "time2": {"value": "2026-12-06 16:30"}}

    client.wxa.send_subscribe_message(openid, TEMPLATE, data, page="pages/order?id=1")

    [sent] = await sandbox_app.subscribe_messages()
    assert (sent["touser"], sent["template_id"], sent["page"]) == (
        openid,
        TEMPLATE,
        "pages/order?id=1",
    )
    assert sent["data"] == {"thing1": "两杯咖啡", "time2": "2026-12-06 16:30"}
    with pytest.raises(WeChatClientException) as refused:  # one acceptance, one message
        client.wxa.send_subscribe_message(openid, TEMPLATE, data)
    assert refused.value.errcode == 43101


async def test_an_unlimited_mini_program_code_is_a_png_carrying_the_scene(
    sandbox_app: SandboxClient,
) -> None:
    await sandbox_app.publish_pages(APPID, ["pages/index/index", "pages/shop/shop"])
    answer = wechatpy_client(sandbox_app).wxa.get_wxa_code_unlimited(
        "shop=42", page="pages/shop/shop", width=280
    )
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    [drawn] = await sandbox_app.wechat_codes()
    assert (drawn["scene"], drawn["page"]) == ("shop=42", "pages/shop/shop")
