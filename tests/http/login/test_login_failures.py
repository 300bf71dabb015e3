"""Bad codes, wrong keys, unknown apps and platform outages: a clear 4xx/5xx with a stable code
and the platform's errcode in details, never a 500, never a half-created user."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from minibase.auth.apps import check_app, save_app
from minibase.services import Services
from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient


async def _login(client: httpx.AsyncClient, platform: str, appid: str, code: str) -> Any:
    return await client.post(f"/api/auth/{platform}/login", json={"appid": appid, "code": code})


async def _users(services: Services) -> int:
    count: int = await services.db.fetch_value("SELECT COUNT(*) FROM users")
    return count


async def test_a_reused_code_is_refused_with_the_platforms_errcode(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    code = (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    assert (await _login(client, "wechat", "wx1111", code)).status_code == 200
    reused = await _login(client, "wechat", "wx1111", code)
    assert reused.status_code == 400
    body = reused.json()
    assert body["code"] == "auth.invalid_code"
    assert body["details"]["errcode"] == 40163
    assert body["details"]["reason"] == "code_used"
    assert await _users(services) == 1


@pytest.mark.parametrize(
    ("platform", "appid"),
    [
        ("wechat", "wx1111"),
        ("qq", "1110001"),
        ("douyin", "tt2222"),
        ("baidu", "bdkey"),
        ("alipay", "2021000000000001"),
    ],
)
async def test_an_unknown_code_is_an_invalid_code_on_every_platform(
    client: httpx.AsyncClient,
    register_app: RegisterApp,
    services: Services,
    platform: str,
    appid: str,
) -> None:
    await register_app(platform, appid)
    answer = await _login(client, platform, appid, "not-a-real-code")
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "auth.invalid_code"
    assert await _users(services) == 0


async def test_a_wrong_app_secret_is_the_platforms_refusal_not_the_clients_fault(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    services: Services,
) -> None:
    await sandbox.register_app("wechat", "wx1111", secret="the-real-secret")
    async with services.db.transaction() as conn:
        values = check_app({"platform": "wechat", "appid": "wx1111", "secret": "a-stale-one"})
        await save_app(conn, services.apps, services.clock, services.ids, values)
    await services.apps.load()
    code = (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    answer = await _login(client, "wechat", "wx1111", code)
    assert answer.status_code == 502
    assert answer.json()["code"] == "platform.rejected_credentials"
    assert answer.json()["details"]["errcode"] == 40125


async def test_an_unregistered_app_and_an_unknown_platform_are_404(
    client: httpx.AsyncClient,
    register_app: RegisterApp,
) -> None:
    assert (await _login(client, "wechat", "wxnobody", "c")).json()["code"] == "apps.not_found"
    unknown = await _login(client, "myspace", "x", "c")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "request.not_found"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"appid": "wx1111"},
        {"appid": "wx1111", "code": ""},
        {"appid": 5, "code": "c"},
        {"appid": "wx1111", "code": "c" * 600},
        {"appid": "wx1111", "code": "c", "anonymous_code": "a"},
    ],
)
async def test_malformed_login_bodies_are_400_before_any_platform_call(
    client: httpx.AsyncClient,
    register_app: RegisterApp,
    sandbox: SandboxClient,
    body: dict[str, Any],
) -> None:
    await register_app("wechat", "wx1111")
    answer = await client.post("/api/auth/wechat/login", json=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "request.invalid_body"
    assert (await sandbox.calls()).get("wechat", {}).get("/sns/jscode2session") is None


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("timeout", 503, "platform.unavailable"),
        ("http_500", 503, "platform.unavailable"),
        ("bad_json", 503, "platform.unavailable"),
        ("system_busy", 503, "platform.unavailable"),
    ],
)
async def test_a_platform_outage_is_a_retryable_error_and_creates_nobody(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    mode: str,
    status: int,
    code: str,
) -> None:
    await register_app("wechat", "wx1111")
    await sandbox.outage("wechat", mode, count=1, seconds=3)
    minted = (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    answer = await _login(client, "wechat", "wx1111", minted)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert await _users(services) == 0
    retried = await _login(
        client, "wechat", "wx1111", (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    )
    assert retried.status_code == 200


async def test_the_platforms_rate_limit_is_reported_as_such(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("wechat", "wx1111")
    await sandbox.rate_limit("wechat", "wx1111", per_minute=1)
    first = await _login(
        client, "wechat", "wx1111", (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    )
    assert first.status_code == 200
    second = await _login(
        client, "wechat", "wx1111", (await sandbox.login_code("wechat", "wx1111", "bob"))["code"]
    )
    assert second.status_code == 503
    assert second.json()["code"] == "platform.rate_limited"
    assert second.json()["details"]["errcode"] == 45011
