"""Alipay's gateway: requests verified with the app's key, replies signed with the platform's."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from minibase.clock import FrozenClock
from minibase.platforms.alipay import crypto
from minibase.sandbox import Sandbox

METHOD = "alipay.system.oauth.token"


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return crypto.generate_rsa_keypair()


@pytest.fixture
def registered(sandbox: Sandbox, app_keys: tuple[str, str]) -> dict[str, Any]:
    return sandbox.register_app("alipay", "2021000000000001", app_public_key=app_keys[1])


def _signed(private_key: str, **fields: str) -> dict[str, str]:
    params = {
        "app_id": "2021000000000001",
        "method": METHOD,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-01-01 08:00:00",
        "version": "1.0",
        "grant_type": "authorization_code",
        **fields,
    }
    params["sign"] = crypto.sign_params(params, private_key)
    return params


def _node(response: httpx.Response, alipay_public_key: str | None) -> tuple[str, dict[str, Any]]:
    """The response node's name and content, after checking its sign when a key is given."""
    text = response.text
    name, node_text = crypto.find_response_node(text, METHOD)
    if alipay_public_key is not None:
        sign = orjson.loads(text)["sign"]
        assert crypto.verify_content(node_text, sign, alipay_public_key)
    node: dict[str, Any] = orjson.loads(node_text)
    return name, node


async def test_a_signed_code_exchange_answers_a_token_signed_by_the_platform_key(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    registered: dict[str, Any],
    app_keys: tuple[str, str],
) -> None:
    issued = sandbox.login_code("alipay", "2021000000000001", "alice")

    response = await client.post(
        "/alipay/gateway.do", data=_signed(app_keys[0], code=issued["code"])
    )

    name, node = _node(response, registered["alipay_public_key"])
    assert name == "alipay_system_oauth_token_response"
    assert node["user_id"] == issued["user_id"]
    assert node["user_id"].startswith("2088")
    assert len(node["user_id"]) == 16
    assert node["open_id"] == issued["openid"]
    assert node["access_token"]
    assert node["refresh_token"]
    assert node["expires_in"] > 0
    assert node["re_expires_in"] > 0


async def test_common_parameters_may_come_in_the_query_string(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    registered: dict[str, Any],
    app_keys: tuple[str, str],
) -> None:
    code = sandbox.login_code("alipay", "2021000000000001", "alice")["code"]
    params = _signed(app_keys[0], code=code)
    query = {key: value for key, value in params.items() if key not in ("grant_type", "code")}
    form = {"grant_type": params["grant_type"], "code": code}

    response = await client.post("/alipay/gateway.do", params=query, data=form)

    assert _node(response, registered["alipay_public_key"])[0] == (
        "alipay_system_oauth_token_response"
    )


async def test_a_request_signed_with_another_key_is_refused_as_an_invalid_signature(
    client: httpx.AsyncClient, sandbox: Sandbox, registered: dict[str, Any]
) -> None:
    stranger_private, _ = crypto.generate_rsa_keypair()
    code = sandbox.login_code("alipay", "2021000000000001", "alice")["code"]

    response = await client.post("/alipay/gateway.do", data=_signed(stranger_private, code=code))

    name, node = _node(response, None)
    assert name == "error_response"
    assert node["code"] == "40002"
    assert node["msg"] == "Invalid Arguments"
    assert node["sub_code"] == "isv.invalid-signature"


async def test_a_tampered_parameter_breaks_the_signature(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    registered: dict[str, Any],
    app_keys: tuple[str, str],
) -> None:
    code = sandbox.login_code("alipay", "2021000000000001", "alice")["code"]
    params = _signed(app_keys[0], code=code)
    params["timestamp"] = "2026-01-01 08:00:01"
    response = await client.post("/alipay/gateway.do", data=params)
    assert _node(response, None)[1]["sub_code"] == "isv.invalid-signature"


async def test_an_unsigned_request_is_refused_as_missing_its_signature(
    client: httpx.AsyncClient, registered: dict[str, Any], app_keys: tuple[str, str]
) -> None:
    params = _signed(app_keys[0], code="c")
    del params["sign"]
    node = _node(await client.post("/alipay/gateway.do", data=params), None)[1]
    assert (node["code"], node["sub_code"]) == ("40001", "isv.missing-signature")


async def test_an_unknown_app_id_is_refused(
    client: httpx.AsyncClient, registered: dict[str, Any], app_keys: tuple[str, str]
) -> None:
    params = _signed(app_keys[0], code="c", app_id="2021999999999999")
    node = _node(await client.post("/alipay/gateway.do", data=params), None)[1]
    assert node["sub_code"] == "isv.invalid-app-id"


async def test_a_used_or_expired_code_is_refused_with_a_signed_code_invalid(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    registered: dict[str, Any],
    app_keys: tuple[str, str],
    clock: FrozenClock,
) -> None:
    code = sandbox.login_code("alipay", "2021000000000001", "alice")["code"]
    await client.post("/alipay/gateway.do", data=_signed(app_keys[0], code=code))

    used = await client.post("/alipay/gateway.do", data=_signed(app_keys[0], code=code))
    late_code = sandbox.login_code("alipay", "2021000000000001", "alice")["code"]
    clock.advance(seconds=300)
    late = await client.post("/alipay/gateway.do", data=_signed(app_keys[0], code=late_code))

    for response in (used, late):
        name, node = _node(response, registered["alipay_public_key"])
        assert name == "error_response"
        assert (node["code"], node["msg"]) == ("40002", "Invalid Arguments")
        assert node["sub_code"] == "isv.code-invalid"


async def test_the_same_person_has_one_user_id_and_an_open_id_per_app(
    sandbox: Sandbox, app_keys: tuple[str, str]
) -> None:
    sandbox.register_app("alipay", "2021000000000001", app_public_key=app_keys[1])
    sandbox.register_app("alipay", "2021000000000002", app_public_key=app_keys[1])
    first = sandbox.login_code("alipay", "2021000000000001", "alice")
    second = sandbox.login_code("alipay", "2021000000000002", "alice")
    assert first["user_id"] == second["user_id"]
    assert first["openid"] != second["openid"]


async def test_my_get_phone_number_output_decrypts_with_the_app_aes_key(
    client: httpx.AsyncClient, registered: dict[str, Any]
) -> None:
    answer = (
        await client.post(
            "/control/alipay-phone",
            json={
                "appid": "2021000000000001",
                "person": "alice",
                "phone": "13800138000",
            },
        )
    ).json()

    phone = crypto.decrypt_phone_number(
        answer["response"], answer["sign"], registered["aes_key"], registered["alipay_public_key"]
    )

    assert phone.phone_number == "13800138000"
    assert answer["encrypt_type"] == "AES"
    assert answer["sign_type"] == "RSA2"


async def test_an_alipay_app_keeps_the_aes_key_it_registers_with(
    sandbox: Sandbox, app_keys: tuple[str, str]
) -> None:
    aes_key = "aGVsbG8taGVsbG8tMTIzNA=="
    app = sandbox.register_app(
        "alipay", "2021000000000003", app_public_key=app_keys[1], aes_key=aes_key
    )
    assert app["aes_key"] == aes_key


async def test_the_platform_key_stays_the_same_for_every_app_and_after_reset(
    sandbox: Sandbox, app_keys: tuple[str, str]
) -> None:
    first = sandbox.register_app("alipay", "a1", app_public_key=app_keys[1])
    sandbox.reset()
    second = sandbox.register_app("alipay", "a2", app_public_key=app_keys[1])
    assert first["alipay_public_key"] == second["alipay_public_key"]
    assert first["alipay_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
