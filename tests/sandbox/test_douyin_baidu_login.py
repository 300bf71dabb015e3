"""Douyin's v2 jscode2session and Baidu's jscode2sessionkey, with their own error formats."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.sandbox import Sandbox


@pytest.fixture(autouse=True)
def apps(sandbox: Sandbox) -> None:
    sandbox.register_app("douyin", "tt-shop", secret="dy-secret", account="bytedance-acct")
    sandbox.register_app("baidu", "bd-key", secret="bd-secret")


async def _douyin(client: httpx.AsyncClient, **fields: str) -> dict[str, Any]:
    payload = {"appid": "tt-shop", "secret": "dy-secret", **fields}
    response = await client.post("/douyin/api/apps/v2/jscode2session", json=payload)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_douyin_code_and_anonymous_code_give_both_openids(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    issued = sandbox.login_code("douyin", "tt-shop", "alice")

    body = await _douyin(client, code=issued["code"], anonymous_code=issued["anonymous_code"])

    assert body["err_no"] == 0
    assert body["err_tips"] == "success"
    assert body["log_id"]
    data = body["data"]
    assert data["openid"] == issued["openid"]
    assert data["anonymous_openid"] == issued["anonymous_openid"]
    assert data["unionid"] == issued["unionid"]
    assert len(base64.b64decode(data["session_key"])) == 16


async def test_douyin_anonymous_code_alone_gives_no_session_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    issued = sandbox.login_code("douyin", "tt-shop", "alice")
    data = (await _douyin(client, anonymous_code=issued["anonymous_code"]))["data"]
    assert data["anonymous_openid"] == issued["anonymous_openid"]
    assert data["openid"] == data["session_key"] == ""


async def test_a_douyin_guest_gets_only_an_anonymous_code_from_the_control_api(
    client: httpx.AsyncClient,
) -> None:
    """tt.login for a person not logged in to the Douyin app: anonymousCode, no code."""
    minted = await client.post(
        "/control/login-code",
        json={"platform": "douyin", "appid": "tt-shop", "person": "alice", "guest": True},
    )
    issued = minted.json()
    assert minted.status_code == 200
    assert issued["code"] is issued["openid"] is issued["unionid"] is None
    assert issued["anonymous_code"]

    data = (await _douyin(client, anonymous_code=issued["anonymous_code"]))["data"]

    assert data["anonymous_openid"] == issued["anonymous_openid"]
    assert data["openid"] == data["session_key"] == data["unionid"] == ""


async def test_only_douyin_has_guests_and_guest_is_a_boolean(client: httpx.AsyncClient) -> None:
    baidu = {"platform": "baidu", "appid": "bd-key", "person": "alice", "guest": True}
    answer = await client.post("/control/login-code", json=baidu)
    assert (answer.status_code, answer.json()["code"]) == (400, "sandbox.unsupported")
    douyin = {"platform": "douyin", "appid": "tt-shop", "person": "alice", "guest": "yes"}
    answer = await client.post("/control/login-code", json=douyin)
    assert (answer.status_code, answer.json()["code"]) == (400, "sandbox.invalid_request")


async def test_douyin_codes_are_single_use_and_expire_40018_40019(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    issued = sandbox.login_code("douyin", "tt-shop", "alice")
    await _douyin(client, code=issued["code"], anonymous_code=issued["anonymous_code"])
    assert (await _douyin(client, code=issued["code"]))["err_no"] == 40018
    assert (await _douyin(client, anonymous_code=issued["anonymous_code"]))["err_no"] == 40019

    late = sandbox.login_code("douyin", "tt-shop", "alice")
    clock.advance(seconds=300)
    assert (await _douyin(client, code=late["code"]))["err_no"] == 40018


@pytest.mark.parametrize(
    ("fields", "err_no"),
    [
        ({"code": "c", "appid": "tt-nobody"}, 40015),
        ({"code": "c", "secret": "wrong"}, 40017),
        ({"code": "never-issued"}, 40018),
        ({}, 40014),
    ],
)
async def test_douyin_errors_use_their_real_err_no(
    client: httpx.AsyncClient, fields: dict[str, str], err_no: int
) -> None:
    body = await _douyin(client, **fields)
    assert body["err_no"] == err_no
    assert body["err_tips"]


async def test_douyin_refuses_a_body_that_is_not_json_40014(client: httpx.AsyncClient) -> None:
    response = await client.post("/douyin/api/apps/v2/jscode2session", content=b"appid=x")
    assert response.json()["err_no"] == 40014


async def _baidu(client: httpx.AsyncClient, **fields: str) -> dict[str, Any]:
    form = {"client_id": "bd-key", "sk": "bd-secret", **fields}
    body: dict[str, Any] = (await client.post("/baidu/oauth/jscode2sessionkey", data=form)).json()
    return body


async def test_baidu_code_gives_openid_and_a_24_byte_session_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    issued = sandbox.login_code("baidu", "bd-key", "alice")

    body = await _baidu(client, code=issued["code"])

    assert body["openid"] == issued["openid"]
    assert len(base64.b64decode(body["session_key"])) == 24


async def test_baidu_takes_its_parameters_from_the_query_string_too(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    code = sandbox.login_code("baidu", "bd-key", "alice")["code"]
    params = {"client_id": "bd-key", "sk": "bd-secret", "code": code}
    body = (await client.post("/baidu/oauth/jscode2sessionkey", params=params)).json()
    assert "openid" in body


async def test_baidu_code_is_single_use(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    code = sandbox.login_code("baidu", "bd-key", "alice")["code"]
    await _baidu(client, code=code)
    body = await _baidu(client, code=code)
    assert body["error"] == "invalid_grant"
    assert body["errno"] != 0
    assert body["error_description"]


async def test_baidu_refuses_bad_clients_and_missing_parameters(client: httpx.AsyncClient) -> None:
    assert (await _baidu(client, code="c", sk="wrong"))["error"] == "invalid_client"
    assert (await _baidu(client, code="c", client_id="nobody"))["error"] == "invalid_client"
    missing = await _baidu(client)
    assert missing["errno"] == 10010100
    assert "code" in missing["error_description"]


async def test_douyin_access_tokens_and_a_new_one_shortens_the_old_ones_life(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FrozenClock
) -> None:
    from minibase.platforms.douyin import AsyncDouyinClient

    douyin = AsyncDouyinClient(
        "tt-shop", "dy-secret", base_url="http://sandbox/douyin", http=client
    )
    first = await douyin.get_access_token()
    assert first.expires_in == 7200
    second = await douyin.get_access_token()
    assert second.value != first.value
    with sandbox._state.lock:  # the sandbox's own view of the two tokens
        old = sandbox._state.access_token(first.value)
        assert old is not None
        assert old.usable_until - clock.now().timestamp() == pytest.approx(300, abs=1)
    refused = await client.post(
        "/douyin/api/apps/v2/token",
        json={"appid": "tt-shop", "secret": "wrong", "grant_type": "client_credential"},
    )
    assert refused.json()["err_no"] == 40017
    bad_grant = await client.post(
        "/douyin/api/apps/v2/token", json={"appid": "tt-shop", "secret": "dy-secret"}
    )
    assert bad_grant.json()["err_no"] == 40020
