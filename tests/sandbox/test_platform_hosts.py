"""Each platform's API at its real paths: below `/<platform>` on the sandbox, or at the root for
a request whose Host header names the platform's own host."""

from __future__ import annotations

import httpx
import pytest

from minibase.sandbox import Sandbox
from minibase.sandbox.hosts import in_sandbox, platform_of_host


@pytest.fixture(autouse=True)
def app(sandbox: Sandbox) -> None:
    sandbox.register_app("wechat", "wx-shop", secret="shop-secret")


TOKEN = {"grant_type": "client_credential", "appid": "wx-shop", "secret": "shop-secret"}


async def test_wechat_is_served_below_slash_wechat(client: httpx.AsyncClient) -> None:
    answer = await client.get("/wechat/cgi-bin/token", params=TOKEN)
    assert answer.json()["expires_in"] == 7200


@pytest.mark.parametrize("host", ["api.weixin.qq.com", "API.WEIXIN.QQ.COM:443"])
async def test_a_request_for_the_platforms_host_is_served_at_the_root(
    client: httpx.AsyncClient, host: str
) -> None:
    answer = await client.get("/cgi-bin/token", params=TOKEN, headers={"Host": host})
    assert answer.json()["expires_in"] == 7200


async def test_another_platforms_host_does_not_serve_wechats_paths(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/cgi-bin/token", params=TOKEN, headers={"Host": "api.q.qq.com"})
    assert "access_token" not in answer.json()
    assert answer.json()["errcode"] == 40066  # invalid url, as QQ (like WeChat) answers it


@pytest.mark.parametrize(
    ("url", "moved"),
    [
        (
            "https://api.weixin.qq.com/sns/jscode2session?js_code=1",
            "http://127.0.0.1:9000/wechat/sns/jscode2session?js_code=1",
        ),
        (
            "https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi",
            "http://127.0.0.1:9000/wechatpay/v3/pay/transactions/jsapi",
        ),
        ("https://openapi.alipay.com/gateway.do", "http://127.0.0.1:9000/alipay/gateway.do"),
        (
            "https://developer.toutiao.com/api/apps/v2/jscode2session",
            "http://127.0.0.1:9000/douyin/api/apps/v2/jscode2session",
        ),
        ("https://example.com/x", "https://example.com/x"),
    ],
)
def test_a_platform_url_moves_into_the_sandbox_with_its_path(url: str, moved: str) -> None:
    assert in_sandbox(url, "http://127.0.0.1:9000/") == moved


def test_only_the_platforms_hosts_are_known() -> None:
    assert platform_of_host("api.mch.weixin.qq.com") == "wechatpay"
    assert platform_of_host("127.0.0.1:9000") is None
    assert platform_of_host("[::1]") is None


def test_the_requests_adapter_refuses_hosts_it_does_not_move() -> None:
    import requests

    from minibase.sandbox.requests_adapter import IntoSandbox

    session = requests.Session()
    session.mount("https://", IntoSandbox("http://127.0.0.1:9"))
    with pytest.raises(requests.ConnectionError, match="not a platform host"):
        session.get("https://example.com/cgi-bin/token")
