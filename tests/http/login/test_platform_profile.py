"""The user's platform profile is taken only from data the platform signed or encrypted."""

from __future__ import annotations

import httpx
import orjson
import pytest
from tests.http.login.conftest import bearer, sign_in

from minibase.testing.plugin import MakeUser, RegisterApp
from minibase.testing.sandbox import SandboxClient

INFO = {
    "nickName": "Ann",
    "avatarUrl": "https://example.com/a.png",
    "gender": 2,
    "city": "Hangzhou",
    "openId": "must-not-be-stored",
}


@pytest.mark.parametrize(
    ("platform", "appid"), [("wechat", "wx1111"), ("qq", "1110001"), ("douyin", "tt2222")]
)
async def test_signed_raw_data_updates_the_profile(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    platform: str,
    appid: str,
) -> None:
    await register_app(platform, appid)
    session = await sign_in(client, sandbox, platform, appid, "ann")
    raw = orjson.dumps(INFO).decode()
    signature = await sandbox.raw_data_signature(platform, appid, "ann", raw)
    answer = await client.post(
        "/api/auth/profile", headers=bearer(session), json={"raw_data": raw, "signature": signature}
    )
    assert answer.status_code == 200, answer.text
    profile = answer.json()["profile"]
    assert profile["nickName"] == "Ann"
    assert "openId" not in profile

    forged = await client.post(
        "/api/auth/profile",
        headers=bearer(session),
        json={"raw_data": raw.replace("Ann", "Eve"), "signature": signature},
    )
    assert (forged.status_code, forged.json()["code"]) == (400, "auth.invalid_encrypted_data")
    not_hex = await client.post(
        "/api/auth/profile",
        headers=bearer(session),
        json={"raw_data": raw.replace("Ann", "Eve"), "signature": "«签名»"},
    )
    assert (not_hex.status_code, not_hex.json()["code"]) == (400, "auth.invalid_encrypted_data")
    me = await client.get("/api/auth/me", headers=bearer(session))
    assert me.json()["profile"]["nickName"] == "Ann"


async def test_encrypted_user_info_updates_the_profile_on_baidu(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("baidu", "bdkey3333")
    session = await sign_in(client, sandbox, "baidu", "bdkey3333", "ann")
    encrypted = await sandbox.encrypted_data("baidu", "bdkey3333", "ann", INFO)
    answer = await client.post("/api/auth/profile", headers=bearer(session), json=encrypted)
    assert answer.status_code == 200, answer.text
    assert answer.json()["profile"]["city"] == "Hangzhou"


async def test_a_user_without_a_platform_session_is_told_to_log_in(
    client: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    user = await make_user()
    answer = await client.post(
        "/api/auth/profile", headers=user.headers, json={"raw_data": "{}", "signature": "x"}
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "auth.no_session")
