"""One way in for a server: credentials in, a login client for that platform out."""

from __future__ import annotations

from typing import Protocol

import httpx

from minibase.platforms.alipay import AlipayClient, AsyncAlipayClient
from minibase.platforms.alipay.client import GATEWAY
from minibase.platforms.baidu import AsyncBaiduClient, BaiduClient
from minibase.platforms.baidu.client import BASE_URL as BAIDU_URL
from minibase.platforms.douyin import AsyncDouyinClient, DouyinClient
from minibase.platforms.douyin.client import BASE_URL as DOUYIN_URL
from minibase.platforms.errors import PlatformError
from minibase.platforms.models import PLATFORMS, AppCredentials, LoginSession
from minibase.platforms.qq import AsyncQQClient, QQClient
from minibase.platforms.qq.client import BASE_URL as QQ_URL
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from minibase.platforms.wechat.client import BASE_URL as WECHAT_URL

# The platforms' own addresses; a server points them at a sandbox through `base_url`.
DEFAULT_BASE_URLS = {
    "wechat": WECHAT_URL,
    "alipay": GATEWAY,
    "douyin": DOUYIN_URL,
    "baidu": BAIDU_URL,
    "qq": QQ_URL,
}


class SyncLoginClient(Protocol):
    @property
    def platform(self) -> str: ...

    @property
    def appid(self) -> str: ...

    def code2session(self, code: str) -> LoginSession: ...

    def close(self) -> None: ...


class AsyncLoginClient(Protocol):
    @property
    def platform(self) -> str: ...

    @property
    def appid(self) -> str: ...

    async def code2session(self, code: str) -> LoginSession: ...

    async def aclose(self) -> None: ...


def sync_client(
    credentials: AppCredentials, *, base_url: str | None = None, http: httpx.Client | None = None
) -> SyncLoginClient:
    """The platform's client; `base_url` (Alipay: the gateway) points it at a sandbox."""
    platform = _known(credentials)
    url = base_url or DEFAULT_BASE_URLS[platform]
    if platform == "alipay":
        private_key, public_key = _alipay_keys(credentials)
        return AlipayClient(
            credentials.appid,
            private_key,
            public_key,
            aes_key=credentials.aes_key,
            gateway=url,
            http=http,
        )
    classes: dict[str, type[WeChatClient | QQClient | DouyinClient | BaiduClient]] = {
        "wechat": WeChatClient,
        "qq": QQClient,
        "douyin": DouyinClient,
        "baidu": BaiduClient,
    }
    return classes[platform](credentials.appid, _secret(credentials), base_url=url, http=http)


def async_client(
    credentials: AppCredentials,
    *,
    base_url: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> AsyncLoginClient:
    platform = _known(credentials)
    url = base_url or DEFAULT_BASE_URLS[platform]
    if platform == "alipay":
        private_key, public_key = _alipay_keys(credentials)
        return AsyncAlipayClient(
            credentials.appid,
            private_key,
            public_key,
            aes_key=credentials.aes_key,
            gateway=url,
            http=http,
        )
    classes: dict[
        str, type[AsyncWeChatClient | AsyncQQClient | AsyncDouyinClient | AsyncBaiduClient]
    ] = {
        "wechat": AsyncWeChatClient,
        "qq": AsyncQQClient,
        "douyin": AsyncDouyinClient,
        "baidu": AsyncBaiduClient,
    }
    return classes[platform](credentials.appid, _secret(credentials), base_url=url, http=http)


def _known(credentials: AppCredentials) -> str:
    if credentials.platform not in PLATFORMS:
        raise ValueError(f"unknown platform {credentials.platform!r}; known: {PLATFORMS}")
    return credentials.platform


def _secret(credentials: AppCredentials) -> str:
    if not credentials.secret:
        raise PlatformError(
            credentials.platform, "invalid_credentials", "the app has no secret configured"
        )
    return credentials.secret


def _alipay_keys(credentials: AppCredentials) -> tuple[str, str]:
    if not credentials.private_key or not credentials.platform_public_key:
        raise PlatformError(
            "alipay",
            "invalid_credentials",
            "an Alipay app needs its private key and the Alipay public key",
        )
    return credentials.private_key, credentials.platform_public_key
