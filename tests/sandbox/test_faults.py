"""Platforms broken on purpose: outages for the next N calls, and per-minute quotas."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.sandbox import Sandbox

TOKEN = {"grant_type": "client_credential", "appid": "wx-1", "secret": "s"}


@pytest.fixture(autouse=True)
def apps(sandbox: Sandbox) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    sandbox.register_app("douyin", "tt-1", secret="s")


async def _token(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/wechat/cgi-bin/token", params=TOKEN)


async def test_an_http_500_outage_fails_exactly_the_next_count_calls(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await client.post(
        "/control/outage", json={"platform": "wechat", "mode": "http_500", "count": 2}
    )

    statuses = [(await _token(client)).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert sandbox.calls()["wechat"]["/cgi-bin/token"] == 3


async def test_an_outage_touches_only_its_platform(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.outage("douyin", "http_500", count=1)
    assert (await _token(client)).status_code == 200
    response = await client.post("/douyin/api/apps/v2/jscode2session", json={})
    assert response.status_code == 500


async def test_a_bad_json_outage_answers_a_body_no_json_parser_accepts(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.outage("wechat", "bad_json", count=1)
    response = await _token(client)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_system_busy_is_errcode_minus_one_on_wechat(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.outage("wechat", "system_busy", count=1)
    body = (await _token(client)).json()
    assert body["errcode"] == -1
    assert body["errmsg"].startswith("system error")


async def test_system_busy_speaks_each_platforms_format(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    for platform in ("douyin", "baidu", "alipay"):
        sandbox.outage(platform, "system_busy", count=1)
    douyin = (await client.post("/douyin/api/apps/v2/jscode2session", json={})).json()
    baidu = (await client.post("/baidu/oauth/jscode2sessionkey")).json()
    alipay = (await client.post("/alipay/gateway.do")).json()

    assert douyin["err_no"] == -1
    assert baidu["errno"] != 0
    assert baidu["error"]
    assert alipay["error_response"]["code"] == "20000"


async def test_a_timeout_outage_holds_the_call_longer_than_the_client_waits(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.outage("wechat", "timeout", count=1, seconds=5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_token(client), timeout=0.2)
    assert (await _token(client)).status_code == 200


async def test_a_timeout_outage_defaults_to_the_sandboxs_configured_hold(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    answer = (
        await client.post("/control/outage", json={"platform": "wechat", "mode": "timeout"})
    ).json()
    assert answer == {"platform": "wechat", "mode": "timeout", "count": 1, "seconds": 0.2}
    assert (await _token(client)).status_code == 504


async def test_count_zero_ends_an_outage(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.outage("wechat", "http_500", count=5)
    sandbox.outage("wechat", "http_500", count=0)
    assert (await _token(client)).status_code == 200


async def test_control_calls_are_not_platform_calls_and_never_fail(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.outage("wechat", "http_500", count=1)
    assert (await client.get("/control/apps")).status_code == 200
    assert (await _token(client)).status_code == 500


async def test_a_rate_limit_answers_45011_past_the_quota_until_the_next_minute(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    clock.set(clock.now().replace(second=0))
    await client.post(
        "/control/rate-limit", json={"platform": "wechat", "appid": "wx-1", "per_minute": 2}
    )

    answers = [(await _token(client)).json() for _ in range(3)]
    clock.advance(seconds=60)
    next_minute = (await _token(client)).json()

    assert "access_token" in answers[0]
    assert "access_token" in answers[1]
    assert answers[2]["errcode"] == 45011
    assert "access_token" in next_minute


async def test_a_rate_limit_counts_logins_and_leaves_the_code_usable(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    clock.set(clock.now().replace(second=0))
    sandbox.rate_limit("wechat", "wx-1", 0)
    code = sandbox.login_code("wechat", "wx-1", "alice")["code"]
    params = {"appid": "wx-1", "secret": "s", "js_code": code, "grant_type": "authorization_code"}

    assert (await client.get("/wechat/sns/jscode2session", params=params)).json()[
        "errcode"
    ] == 45011
    sandbox.rate_limit("wechat", "wx-1", None)
    assert "openid" in (await client.get("/wechat/sns/jscode2session", params=params)).json()


async def test_rate_limits_are_off_by_default(client: httpx.AsyncClient) -> None:
    answers = [(await _token(client)).json() for _ in range(50)]
    assert all("access_token" in answer for answer in answers)


async def test_rate_limits_are_offered_for_wechat_qq_and_douyin_only(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/control/rate-limit", json={"platform": "baidu", "appid": "bd-1", "per_minute": 1}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "sandbox.unsupported"
