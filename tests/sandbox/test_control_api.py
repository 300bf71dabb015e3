"""The control API: apps, fake people, encrypted user data, and its own errors."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.platforms.baidu import crypto as baidu_crypto
from minibase.platforms.douyin import crypto as douyin_crypto
from minibase.platforms.qq import crypto as qq_crypto
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.sandbox import Sandbox, SandboxError

PROFILE = {"nickName": "小明", "avatarUrl": "https://example.com/a.png"}


async def _log_in(client: httpx.AsyncClient, sandbox: Sandbox, platform: str, appid: str) -> str:
    """Log alice in on the app over the platform's real endpoint; her session key."""
    code = sandbox.login_code(platform, appid, "alice")["code"]
    if platform in ("wechat", "qq"):
        params = {"appid": appid, "secret": "s", "js_code": code}
        params["grant_type"] = "authorization_code"
        body: dict[str, Any] = (
            await client.get(f"/{platform}/sns/jscode2session", params=params)
        ).json()
        return str(body["session_key"])
    if platform == "douyin":
        payload = {"appid": appid, "secret": "s", "code": code}
        body = (await client.post("/douyin/api/apps/v2/jscode2session", json=payload)).json()
        return str(body["data"]["session_key"])
    form = {"client_id": appid, "sk": "s", "code": code}
    body = (await client.post("/baidu/oauth/jscode2sessionkey", data=form)).json()
    return str(body["session_key"])


@pytest.mark.parametrize(
    ("platform", "decrypt"),
    [
        ("wechat", wechat_crypto.decrypt_user_data),
        ("qq", qq_crypto.decrypt_user_data),
        ("douyin", douyin_crypto.decrypt_user_data),
    ],
)
async def test_encrypted_data_opens_with_the_current_session_key_and_carries_a_watermark(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    clock: FrozenClock,
    platform: str,
    decrypt: Any,
) -> None:
    sandbox.register_app(platform, "app-1", secret="s")
    session_key = await _log_in(client, sandbox, platform, "app-1")

    sealed = (
        await client.post(
            "/control/encrypted-data",
            json={
                "platform": platform,
                "appid": "app-1",
                "person": "alice",
                "data": PROFILE,
            },
        )
    ).json()
    data = decrypt(session_key, sealed["encrypted_data"], sealed["iv"], "app-1")

    assert data["nickName"] == "小明"
    assert data["watermark"] == {"appid": "app-1", "timestamp": int(clock.now().timestamp())}


async def test_baidu_encrypted_data_opens_with_the_session_key_and_app_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("baidu", "bd-key", secret="s")
    session_key = await _log_in(client, sandbox, "baidu", "bd-key")

    sealed = sandbox.encrypted_data("baidu", "bd-key", "alice", PROFILE)

    data = baidu_crypto.decrypt_user_data(
        session_key, sealed["encrypted_data"], sealed["iv"], "bd-key"
    )
    assert data == PROFILE


async def test_encrypted_data_follows_the_latest_login(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    await _log_in(client, sandbox, "wechat", "wx-1")
    latest = await _log_in(client, sandbox, "wechat", "wx-1")

    sealed = sandbox.encrypted_data("wechat", "wx-1", "alice", PROFILE)

    data = wechat_crypto.decrypt_user_data(latest, sealed["encrypted_data"], sealed["iv"], "wx-1")
    assert data["nickName"] == "小明"


async def test_an_issued_but_unexchanged_code_does_not_change_the_session_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    session_key = await _log_in(client, sandbox, "wechat", "wx-1")
    sandbox.login_code("wechat", "wx-1", "alice")

    sealed = sandbox.encrypted_data("wechat", "wx-1", "alice", PROFILE)

    assert wechat_crypto.decrypt_user_data(
        session_key, sealed["encrypted_data"], sealed["iv"], "wx-1"
    )


async def test_raw_data_signature_is_sha1_of_raw_data_and_session_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    session_key = await _log_in(client, sandbox, "wechat", "wx-1")
    raw_data = '{"nickName":"小明"}'

    answer = (
        await client.post(
            "/control/raw-data-signature",
            json={
                "platform": "wechat",
                "appid": "wx-1",
                "person": "alice",
                "raw_data": raw_data,
            },
        )
    ).json()

    expected = hashlib.sha1((raw_data + session_key).encode()).hexdigest()
    assert answer["signature"] == expected


async def test_encrypted_data_for_someone_never_logged_in_is_a_409(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    response = await client.post(
        "/control/encrypted-data",
        json={
            "platform": "wechat",
            "appid": "wx-1",
            "person": "nobody",
            "data": {},
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "sandbox.not_logged_in"


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        (
            "/control/login-code",
            {"platform": "wechat", "appid": "wx-none", "person": "a"},
            404,
            "sandbox.unknown_app",
        ),
        (
            "/control/login-code",
            {"platform": "myspace", "appid": "x", "person": "a"},
            400,
            "sandbox.unknown_platform",
        ),
        (
            "/control/login-code",
            {"platform": "wechat", "appid": "wx-1"},
            400,
            "sandbox.invalid_request",
        ),
        ("/control/apps", {"platform": "alipay", "appid": "2021"}, 400, "sandbox.invalid_request"),
        (
            "/control/apps",
            {"platform": "alipay", "appid": "2021", "app_public_key": "nope"},
            400,
            "sandbox.invalid_request",
        ),
        (
            "/control/encrypted-data",
            {"platform": "alipay", "appid": "x", "person": "a", "data": {}},
            400,
            "sandbox.unsupported",
        ),
        (
            "/control/outage",
            {"platform": "wechat", "mode": "meteor"},
            400,
            "sandbox.invalid_request",
        ),
        (
            "/control/rate-limit",
            {"platform": "wechat", "appid": "wx-1", "per_minute": "ten"},
            400,
            "sandbox.invalid_request",
        ),
    ],
)
async def test_bad_control_requests_get_a_sandbox_error_code(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    path: str,
    payload: dict[str, Any],
    status: int,
    code: str,
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    response = await client.post(path, json=payload)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["message"]


async def test_a_control_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/control/apps", content=b"platform=wechat")
    assert response.status_code == 400
    assert response.json()["code"] == "sandbox.invalid_request"


async def test_the_python_methods_raise_the_same_errors(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox.login_code("wechat", "wx-none", "alice")
    assert (caught.value.code, caught.value.status) == ("sandbox.unknown_app", 404)


async def test_registering_an_app_generates_a_secret_and_lists_it(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/control/apps", json={"platform": "wechat", "appid": "wx-9"})
    listed = (await client.get("/control/apps")).json()["apps"]

    assert created.status_code == 201
    assert len(created.json()["secret"]) == 32
    assert listed == [created.json()]


async def test_registering_again_replaces_the_app(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-9", secret="old")
    sandbox.register_app("wechat", "wx-9", secret="new")
    assert [app["secret"] for app in sandbox.apps()] == ["new"]


async def test_unionid_comes_with_an_account_only(sandbox: Sandbox) -> None:
    sandbox.register_app("wechat", "wx-a", account="acme")
    sandbox.register_app("wechat", "wx-b")
    assert sandbox.login_code("wechat", "wx-a", "alice")["unionid"]
    assert sandbox.login_code("wechat", "wx-b", "alice")["unionid"] is None


async def test_reset_forgets_apps_codes_and_calls(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    code = sandbox.login_code("wechat", "wx-1", "alice")["code"]
    await client.get("/wechat/cgi-bin/token")

    assert (await client.post("/control/reset")).json() == {"reset": True}

    assert sandbox.apps() == []
    assert sandbox.calls() == {}
    sandbox.register_app("wechat", "wx-1", secret="s")
    params = {"appid": "wx-1", "secret": "s", "js_code": code, "grant_type": "authorization_code"}
    assert (await client.get("/wechat/sns/jscode2session", params=params)).json()[
        "errcode"
    ] == 40029


async def test_calls_counts_every_platform_call_by_path(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-1", secret="s")
    token = {"grant_type": "client_credential", "appid": "wx-1", "secret": "s"}
    await client.get("/wechat/cgi-bin/token", params=token)
    await client.get("/wechat/cgi-bin/token", params=token)
    await client.get("/wechat/sns/jscode2session", params={"appid": "wx-1"})
    await client.post("/baidu/oauth/jscode2sessionkey")
    await client.get("/control/apps")

    calls = (await client.get("/control/calls")).json()

    assert calls == {
        "baidu": {"/oauth/jscode2sessionkey": 1},
        "wechat": {"/cgi-bin/token": 2, "/sns/jscode2session": 1},
    }


async def test_a_wrong_method_on_a_known_path_is_a_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/control/login-code")
    assert response.status_code == 405
    assert response.json()["code"] == "sandbox.method_not_allowed"


async def test_the_sandbox_answers_when_mounted_under_a_prefix(sandbox: Sandbox) -> None:
    transport = httpx.ASGITransport(app=sandbox, root_path="/sandbox")
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as http:
        created = await http.post("/sandbox/control/apps", json={"platform": "qq", "appid": "q1"})
        assert created.status_code == 201
        assert (await http.get("/sandbox/qq/sns/jscode2session")).json()["errcode"] == 41002


async def test_login_codes_are_minted_in_bulk_each_good_once(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx1", secret="s")
    answer = await client.post(
        "/control/login-codes",
        json={"platform": "wechat", "appid": "wx1", "persons": ["ann", "bob", "ann"]},
    )
    codes = answer.json()["codes"]
    assert len(set(codes)) == 3
    params = {"appid": "wx1", "secret": "s", "grant_type": "authorization_code"}
    openids = [
        (await client.get("/wechat/sns/jscode2session", params={**params, "js_code": c})).json()[
            "openid"
        ]
        for c in codes
    ]
    assert openids[0] == openids[2] != openids[1]
    refused = await client.post(
        "/control/login-codes", json={"platform": "wechat", "appid": "wx1", "persons": "ann"}
    )
    assert refused.status_code == 400
