"""WeChat's and QQ's code2session: single-use codes, expiry, and the real errcodes."""

from __future__ import annotations

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.sandbox import Sandbox


@pytest.fixture
def app(sandbox: Sandbox) -> dict[str, object]:
    return sandbox.register_app("wechat", "wx-shop", secret="shop-secret")


async def _exchange(
    client: httpx.AsyncClient, code: str, *, appid: str = "wx-shop", secret: str = "shop-secret"
) -> httpx.Response:
    params = {
        "appid": appid,
        "secret": secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    return await client.get("/wechat/sns/jscode2session", params=params)


async def test_a_login_code_exchanges_for_the_persons_openid_and_a_session_key(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    issued = (
        await client.post(
            "/control/login-code",
            json={
                "platform": "wechat",
                "appid": "wx-shop",
                "person": "alice",
            },
        )
    ).json()

    response = await _exchange(client, issued["code"])

    assert response.status_code == 200
    body = response.json()
    assert body["openid"] == issued["openid"]
    assert len(body["session_key"]) == 24  # 16 bytes, base64
    assert "unionid" not in body
    assert "errcode" not in body


async def test_code2session_answers_text_plain_like_the_real_one(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    code = sandbox.login_code("wechat", "wx-shop", "alice")["code"]
    response = await _exchange(client, code)
    assert response.headers["content-type"].startswith("text/plain")


async def test_the_same_person_gets_the_same_openid_from_every_login(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    first = (await _exchange(client, sandbox.login_code("wechat", "wx-shop", "bob")["code"])).json()
    second = (
        await _exchange(client, sandbox.login_code("wechat", "wx-shop", "bob")["code"])
    ).json()
    assert first["openid"] == second["openid"]
    assert first["session_key"] != second["session_key"]


async def test_a_used_code_is_refused_with_40163(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    code = sandbox.login_code("wechat", "wx-shop", "alice")["code"]
    assert (await _exchange(client, code)).status_code == 200

    body = (await _exchange(client, code)).json()

    assert body["errcode"] == 40163
    assert body["errmsg"].startswith("code been used, rid: ")


async def test_a_code_past_its_lifetime_is_invalid_40029(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object, clock: FrozenClock
) -> None:
    code = sandbox.login_code("wechat", "wx-shop", "alice")["code"]
    clock.advance(seconds=300)

    body = (await _exchange(client, code)).json()

    assert body["errcode"] == 40029
    assert body["errmsg"].startswith("invalid code")


async def test_a_code_just_inside_its_lifetime_still_works(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object, clock: FrozenClock
) -> None:
    code = sandbox.login_code("wechat", "wx-shop", "alice")["code"]
    clock.advance(seconds=299)
    assert "openid" in (await _exchange(client, code)).json()


async def test_an_unknown_code_is_invalid_40029(client: httpx.AsyncClient, app: object) -> None:
    assert (await _exchange(client, "never-issued")).json()["errcode"] == 40029


async def test_a_code_issued_for_another_app_is_invalid_40029(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    sandbox.register_app("wechat", "wx-other", secret="other-secret")
    code = sandbox.login_code("wechat", "wx-other", "alice")["code"]
    assert (await _exchange(client, code)).json()["errcode"] == 40029


async def test_a_wrong_secret_is_refused_with_40125_and_leaves_the_code_usable(
    client: httpx.AsyncClient, sandbox: Sandbox, app: object
) -> None:
    code = sandbox.login_code("wechat", "wx-shop", "alice")["code"]

    body = (await _exchange(client, code, secret="wrong")).json()

    assert body["errcode"] == 40125
    assert body["errmsg"].startswith("invalid appsecret")
    assert "openid" in (await _exchange(client, code)).json()


async def test_an_unregistered_appid_is_refused_with_40013(client: httpx.AsyncClient) -> None:
    body = (await _exchange(client, "any", appid="wx-nobody")).json()
    assert body["errcode"] == 40013


@pytest.mark.parametrize(
    ("missing", "errcode"), [("appid", 41002), ("secret", 41004), ("js_code", 41008)]
)
async def test_a_missing_parameter_has_its_own_errcode(
    client: httpx.AsyncClient, app: object, missing: str, errcode: int
) -> None:
    params = {"appid": "wx-shop", "secret": "shop-secret", "js_code": "c"}
    params["grant_type"] = "authorization_code"
    del params[missing]
    response = await client.get("/wechat/sns/jscode2session", params=params)
    assert response.json()["errcode"] == errcode


async def test_unionid_is_shared_by_apps_of_one_account_and_differs_across_accounts(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "wx-a", secret="s", account="acme")
    sandbox.register_app("wechat", "wx-b", secret="s", account="acme")
    sandbox.register_app("wechat", "wx-c", secret="s", account="globex")

    async def login(appid: str) -> dict[str, str]:
        code = sandbox.login_code("wechat", appid, "carol")["code"]
        body: dict[str, str] = (await _exchange(client, code, appid=appid, secret="s")).json()
        return body

    a, b, c = await login("wx-a"), await login("wx-b"), await login("wx-c")

    assert a["unionid"] == b["unionid"]
    assert a["openid"] != b["openid"]
    assert c["unionid"] != a["unionid"]


async def test_qq_code2session_has_the_same_shape_on_its_own_apps(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("qq", "1109", secret="qq-secret", account="tencent")
    issued = sandbox.login_code("qq", "1109", "dave")
    params = {
        "appid": "1109",
        "secret": "qq-secret",
        "js_code": issued["code"],
        "grant_type": "authorization_code",
    }

    body = (await client.get("/qq/sns/jscode2session", params=params)).json()
    again = (await client.get("/qq/sns/jscode2session", params=params)).json()

    assert body["openid"] == issued["openid"]
    assert body["unionid"] == issued["unionid"]
    assert again["errcode"] == 40163


async def test_a_wechat_code_does_not_work_on_qq(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.register_app("wechat", "same-id", secret="s")
    sandbox.register_app("qq", "same-id", secret="s")
    code = sandbox.login_code("wechat", "same-id", "erin")["code"]
    params = {"appid": "same-id", "secret": "s", "js_code": code}
    params["grant_type"] = "authorization_code"
    assert (await client.get("/qq/sns/jscode2session", params=params)).json()["errcode"] == 40029


async def test_an_unknown_wechat_path_answers_40066(client: httpx.AsyncClient) -> None:
    assert (await client.get("/wechat/cgi-bin/nothing")).json()["errcode"] == 40066
