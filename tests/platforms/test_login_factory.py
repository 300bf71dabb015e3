"""Credentials in, the platform's login client out: how a server uses the SDK."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import (
    KINDS,
    PLATFORMS,
    AppCredentials,
    PlatformError,
    async_client,
    sync_client,
)
from minibase.platforms.alipay import AlipayClient, AsyncAlipayClient, generate_rsa_keypair
from minibase.platforms.baidu import AsyncBaiduClient, BaiduClient
from minibase.platforms.douyin import AsyncDouyinClient, DouyinClient
from minibase.platforms.qq import AsyncQQClient, QQClient
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from tests.platforms.fakes import FakePlatform

CLASSES = {
    "wechat": (WeChatClient, AsyncWeChatClient, "https://api.weixin.qq.com"),
    "qq": (QQClient, AsyncQQClient, "https://api.q.qq.com"),
    "douyin": (DouyinClient, AsyncDouyinClient, "https://developer.toutiao.com"),
    "baidu": (BaiduClient, AsyncBaiduClient, "https://spapi.baidu.com"),
}


@pytest.fixture(scope="module")
def alipay_credentials() -> AppCredentials:
    app_private, _ = generate_rsa_keypair()
    _, alipay_public = generate_rsa_keypair()
    return AppCredentials(
        "alipay", "2021000000000001", private_key=app_private, platform_public_key=alipay_public
    )


def test_every_platform_is_known():
    assert PLATFORMS == ("wechat", "alipay", "douyin", "baidu", "qq")
    assert "unavailable" in KINDS


@pytest.mark.parametrize("platform", sorted(CLASSES))
async def test_secret_platforms_get_their_client_at_the_official_address(platform):
    sync_class, async_class, base_url = CLASSES[platform]
    credentials = AppCredentials(platform, "app-1", secret="s3cret")

    with httpx.Client() as http:
        client = sync_client(credentials, http=http)
        assert isinstance(client, sync_class)
        assert (client.platform, client.appid, client.base_url) == (platform, "app-1", base_url)
    async with httpx.AsyncClient() as http:
        aclient = async_client(credentials, base_url="http://127.0.0.1:9000", http=http)
        assert isinstance(aclient, async_class)
        assert aclient.base_url == "http://127.0.0.1:9000"


def test_alipay_gets_its_client_with_the_sandbox_as_gateway(alipay_credentials):
    with httpx.Client() as http:
        client = sync_client(
            alipay_credentials, base_url="http://127.0.0.1:9000/gateway.do", http=http
        )
        assert isinstance(client, AlipayClient)
        assert client.gateway == "http://127.0.0.1:9000/gateway.do"
        assert sync_client(alipay_credentials, http=http).gateway.startswith(
            "https://openapi.alipay"
        )


async def test_the_async_alipay_client_comes_from_the_same_credentials(alipay_credentials):
    async with httpx.AsyncClient() as http:
        assert isinstance(async_client(alipay_credentials, http=http), AsyncAlipayClient)


async def test_a_factory_client_logs_in(mode):
    platform = FakePlatform({"openid": "o-1", "session_key": "c2Vzc2lvbg=="})
    credentials = AppCredentials("wechat", "wx1", secret="s3cret")
    transport = httpx.MockTransport(platform)

    if mode == "sync":
        with httpx.Client(transport=transport) as http:
            session = sync_client(credentials, http=http).code2session("js-code")
    else:
        async with httpx.AsyncClient(transport=transport) as http:
            session = await async_client(credentials, http=http).code2session("js-code")

    assert session.openid == "o-1"


@pytest.mark.parametrize(
    "credentials",
    [AppCredentials("wechat", "wx1"), AppCredentials("alipay", "2021", private_key="k")],
    ids=["wechat without secret", "alipay without public key"],
)
def test_missing_credentials_are_reported_before_any_call(credentials):
    with pytest.raises(PlatformError) as caught:
        sync_client(credentials)

    assert caught.value.kind == "invalid_credentials"


def test_an_unknown_platform_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown platform"):
        sync_client(AppCredentials("myspace", "x", secret="s"))


def test_credentials_keep_their_secrets_out_of_reprs():
    credentials = AppCredentials(
        "alipay", "2021", secret="s3cret", private_key="PRIVATE", aes_key="AESKEY"
    )

    text = repr(credentials)

    assert "2021" in text
    assert not any(secret in text for secret in ("s3cret", "PRIVATE", "AESKEY"))
