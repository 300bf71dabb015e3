"""minibase's own platform clients, pointed at the sandbox by base URL only, log people in on
every platform: the sandbox and the clients agree on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from minibase.platforms.alipay import crypto as alipay_crypto
from minibase.platforms.errors import PlatformError
from minibase.platforms.login import async_client
from minibase.platforms.models import AppCredentials
from minibase.platforms.wechat import AsyncWeChatClient
from minibase.sandbox import Sandbox

ROOT = "http://sandbox"


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox)) as client:
        yield client


def _credentials(sandbox: Sandbox, platform: str) -> tuple[AppCredentials, str]:
    """Register an app on the platform; its credentials and base URL, as a server has them."""
    if platform == "alipay":
        private_key, public_key = alipay_crypto.generate_rsa_keypair()
        app: dict[str, Any] = sandbox.register_app("alipay", "2021", app_public_key=public_key)
        credentials = AppCredentials(
            "alipay",
            "2021",
            private_key=private_key,
            platform_public_key=app["alipay_public_key"],
            aes_key=app["aes_key"],
        )
        return credentials, f"{ROOT}/alipay/gateway.do"
    app = sandbox.register_app(platform, f"{platform}-app", account="acme")
    return AppCredentials(platform, app["appid"], secret=app["secret"]), f"{ROOT}/{platform}"


@pytest.mark.parametrize("platform", ["wechat", "qq", "douyin", "baidu", "alipay"])
async def test_a_platform_client_logs_a_person_in_and_is_refused_a_reused_code(
    sandbox: Sandbox, http: httpx.AsyncClient, platform: str
) -> None:
    credentials, base_url = _credentials(sandbox, platform)
    client = async_client(credentials, base_url=base_url, http=http)
    issued = sandbox.login_code(platform, credentials.appid, "alice")

    session = await client.code2session(issued["code"])

    assert session.openid == issued["openid"]
    with pytest.raises(PlatformError):
        await client.code2session(issued["code"])


async def test_the_wechat_client_reads_a_phone_number_with_a_stable_token(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    credentials, base_url = _credentials(sandbox, "wechat")
    client = async_client(credentials, base_url=base_url, http=http)
    assert isinstance(client, AsyncWeChatClient)
    code = sandbox.phone_code(credentials.appid, "alice", "13800138000")["code"]

    token = await client.get_access_token()
    phone = await client.get_phone_number(code, token.value)

    assert phone.pure_phone_number == "13800138000"
    assert sandbox.calls()["wechat"] == {
        "/cgi-bin/stable_token": 1,
        "/wxa/business/getuserphonenumber": 1,
    }
