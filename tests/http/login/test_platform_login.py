"""Platform login on all five platforms, over real HTTP to the sandbox: a one-time code becomes
a minibase session, with the same answer everywhere and one account per person."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.http.login.conftest import bearer, sign_in

from minibase.auth.identities import session_key_context
from minibase.services import Services
from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient

APPS = {
    "wechat": "wx1111",
    "qq": "1110001",
    "douyin": "tt2222",
    "baidu": "bdkey3333",
    "alipay": "2021000000000001",
}


@pytest.mark.parametrize("platform", sorted(APPS))
async def test_a_login_code_becomes_a_session_with_the_same_shape_on_every_platform(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, platform: str
) -> None:
    appid = APPS[platform]
    await register_app(platform, appid)
    first = await sign_in(client, sandbox, platform, appid, "ann")
    assert set(first) >= {
        "access_token",
        "refresh_token",
        "expires_in",
        "user",
        "identity",
        "is_new_user",
    }
    assert first["is_new_user"] is True
    assert first["identity"]["platform"] == platform
    assert first["identity"]["appid"] == appid
    assert "session_key" not in str(first)
    me = await client.get("/api/auth/me", headers=bearer(first))
    assert me.json()["id"] == first["user"]["id"]

    again = await sign_in(client, sandbox, platform, appid, "ann")
    assert again["is_new_user"] is False
    assert again["user"]["id"] == first["user"]["id"]
    someone_else = await sign_in(client, sandbox, platform, appid, "bob")
    assert someone_else["user"]["id"] != first["user"]["id"]


async def test_two_apps_of_one_open_platform_account_share_the_person_through_unionid(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("wechat", "wxshop", account="acme")
    await register_app("wechat", "wxclub", account="acme")
    await register_app("wechat", "wxother", account="globex")
    shop = await sign_in(client, sandbox, "wechat", "wxshop", "ann")
    club = await sign_in(client, sandbox, "wechat", "wxclub", "ann")
    other = await sign_in(client, sandbox, "wechat", "wxother", "ann")
    assert club["user"]["id"] == shop["user"]["id"]
    assert club["identity"]["openid"] != shop["identity"]["openid"]
    assert club["is_new_user"] is False
    assert other["user"]["id"] != shop["user"]["id"]


async def test_the_session_key_is_stored_sealed_and_never_answered(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    sealed, openid = await services.db.fetch_one("SELECT session_key, openid FROM user_identities")
    plain = services.vault.open(sealed, session_key_context("wechat", "wx1111", openid)).reveal()
    assert plain not in sealed
    assert plain not in str(session)
    me = await client.get("/api/auth/me", headers=bearer(session))
    assert plain not in me.text


async def test_concurrent_first_logins_of_one_person_create_exactly_one_user(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    codes = [(await sandbox.login_code("wechat", "wx1111", "ann"))["code"] for _ in range(12)]
    answers = await asyncio.gather(
        *(
            client.post("/api/auth/wechat/login", json={"appid": "wx1111", "code": code})
            for code in codes
        )
    )
    assert [a.status_code for a in answers] == [200] * 12
    assert len({a.json()["user"]["id"] for a in answers}) == 1
    assert await services.db.fetch_value("SELECT COUNT(*) FROM users") == 1
    assert await services.db.fetch_value("SELECT COUNT(*) FROM user_identities") == 1
