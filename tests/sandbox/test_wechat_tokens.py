"""WeChat access tokens (cgi-bin/token, cgi-bin/stable_token) and getuserphonenumber."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.sandbox import Sandbox

CREDENTIALS = {"appid": "wx-shop", "secret": "shop-secret"}


@pytest.fixture(autouse=True)
def app(sandbox: Sandbox) -> None:
    sandbox.register_app("wechat", "wx-shop", secret="shop-secret")


async def _token(client: httpx.AsyncClient, **overrides: str) -> dict[str, Any]:
    params = {"grant_type": "client_credential", **CREDENTIALS, **overrides}
    body: dict[str, Any] = (await client.get("/wechat/cgi-bin/token", params=params)).json()
    return body


async def _stable(client: httpx.AsyncClient, force: bool = False) -> dict[str, Any]:
    payload = {"grant_type": "client_credential", **CREDENTIALS, "force_refresh": force}
    body: dict[str, Any] = (await client.post("/wechat/cgi-bin/stable_token", json=payload)).json()
    return body


async def _phone(client: httpx.AsyncClient, token: str, code: str) -> dict[str, Any]:
    response = await client.post(
        "/wechat/wxa/business/getuserphonenumber",
        params={"access_token": token},
        json={"code": code},
    )
    body: dict[str, Any] = response.json()
    return body


async def test_an_access_token_lasts_7200_seconds(client: httpx.AsyncClient) -> None:
    body = await _token(client)
    assert body["expires_in"] == 7200
    assert body["access_token"]


async def test_token_refuses_a_wrong_secret_40125_and_an_unknown_app_40013(
    client: httpx.AsyncClient,
) -> None:
    assert (await _token(client, secret="wrong"))["errcode"] == 40125
    assert (await _token(client, appid="wx-nobody"))["errcode"] == 40013
    assert (await _token(client, grant_type="password"))["errcode"] == 40002


async def test_a_new_token_leaves_the_old_one_usable_for_five_minutes_then_40001(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    old = (await _token(client))["access_token"]
    await _token(client)

    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert (await _phone(client, old, code))["errcode"] == 0

    clock.advance(seconds=300)
    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert (await _phone(client, old, code))["errcode"] == 40001


async def test_an_expired_token_is_refused_with_42001(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    token = (await _token(client))["access_token"]
    clock.advance(seconds=7200)
    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert (await _phone(client, token, code))["errcode"] == 42001


async def test_an_unknown_or_missing_token_is_refused(client: httpx.AsyncClient) -> None:
    assert (await _phone(client, "forged", "any"))["errcode"] == 40001
    response = await client.post("/wechat/wxa/business/getuserphonenumber", json={"code": "x"})
    assert response.json()["errcode"] == 41001


async def test_stable_token_returns_the_same_token_until_its_last_five_minutes(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    first = await _stable(client)
    clock.advance(seconds=1000)
    again = await _stable(client)
    clock.advance(seconds=5900)  # 300 seconds left
    renewed = await _stable(client)

    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 6200
    assert renewed["access_token"] != first["access_token"]
    assert renewed["expires_in"] == 7200


async def test_force_refresh_replaces_the_stable_token_at_once(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    old = (await _stable(client))["access_token"]
    new = (await _stable(client, force=True))["access_token"]

    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert new != old
    assert (await _phone(client, old, code))["errcode"] == 40001
    assert (await _phone(client, new, code))["errcode"] == 0


async def test_stable_and_plain_tokens_do_not_replace_each_other(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    stable = (await _stable(client))["access_token"]
    await _token(client)
    await _token(client)
    clock.advance(seconds=600)

    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert (await _phone(client, stable, code))["errcode"] == 0


async def test_stable_token_wants_a_json_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/wechat/cgi-bin/stable_token", content=b"grant_type=x")
    assert response.json()["errcode"] == 47001


async def test_a_phone_code_gives_the_number_with_a_watermark(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    token = (await _token(client))["access_token"]
    code = (
        await client.post(
            "/control/phone-code",
            json={
                "appid": "wx-shop",
                "person": "alice",
                "phone": "13800138000",
            },
        )
    ).json()["code"]

    body = await _phone(client, token, code)

    assert body["errcode"] == 0
    assert body["errmsg"] == "ok"
    assert body["phone_info"] == {
        "phoneNumber": "13800138000",
        "purePhoneNumber": "13800138000",
        "countryCode": "86",
        "watermark": {"timestamp": int(clock.now().timestamp()), "appid": "wx-shop"},
    }


async def test_a_number_outside_mainland_china_carries_its_country_code(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = (await _token(client))["access_token"]
    code = sandbox.phone_code("wx-shop", "bob", "51234567", country_code="852")["code"]
    info = (await _phone(client, token, code))["phone_info"]
    assert info["phoneNumber"] == "+85251234567"
    assert info["purePhoneNumber"] == "51234567"
    assert info["countryCode"] == "852"


async def test_a_phone_code_is_single_use_40029(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = (await _token(client))["access_token"]
    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    assert (await _phone(client, token, code))["errcode"] == 0
    assert (await _phone(client, token, code))["errcode"] == 40029


async def test_a_phone_code_expires_40029(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    token = (await _token(client))["access_token"]
    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]
    clock.advance(seconds=300)
    assert (await _phone(client, token, code))["errcode"] == 40029


async def test_a_phone_code_of_another_app_is_invalid_40029(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-other", secret="s")
    token = (await _token(client))["access_token"]
    code = sandbox.phone_code("wx-other", "alice", "13800138000")["code"]
    assert (await _phone(client, token, code))["errcode"] == 40029


async def test_qq_get_token_issues_its_own_tokens_that_wechat_refuses(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("qq", "wx-shop", secret="shop-secret")
    params = {"grant_type": "client_credential", **CREDENTIALS}
    body = (await client.get("/qq/api/getToken", params=params)).json()
    code = sandbox.phone_code("wx-shop", "alice", "13800138000")["code"]

    assert body["expires_in"] == 7200
    assert (await _phone(client, body["access_token"], code))["errcode"] == 40001
