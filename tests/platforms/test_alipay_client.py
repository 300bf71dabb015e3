"""The Alipay client: signed alipay.system.oauth.token calls and checked answers."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.alipay import (
    AlipayClient,
    AsyncAlipayClient,
    build_signed_response,
    encrypt_phone_number,
    generate_rsa_keypair,
    verify_params,
)
from tests.platforms.fakes import Driver, FakePlatform

APP_ID = "2021000000000001"
METHOD = "alipay.system.oauth.token"
NEW_YEAR_UTC = 1704067200.0  # 2024-01-01 00:00:00 UTC, 08:00 in Beijing
AES_KEY = "aa4BtZ4tspm2wnXLb1ThQA=="


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture(scope="module")
def alipay_keys() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture
def alipay(mode: str, app_keys, alipay_keys) -> Driver:
    def options(http):
        return {
            "aes_key": AES_KEY,
            "gateway": "https://gateway.test/gateway.do",
            "http": http,
            "clock": lambda: NEW_YEAR_UTC,
        }

    return Driver(
        mode,
        lambda http: AlipayClient(APP_ID, app_keys[0], alipay_keys[1], **options(http)),
        lambda http: AsyncAlipayClient(APP_ID, app_keys[0], alipay_keys[1], **options(http)),
    )


def signed(node: dict, alipay_keys, *, error: bool = False) -> FakePlatform:
    return FakePlatform(text=build_signed_response(METHOD, node, alipay_keys[0], error=error))


TOKEN_NODE = {
    "user_id": "2088102150477652",
    "open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
    "access_token": "authusrB-secret",
    "refresh_token": "authusrB-refresh",
    "expires_in": 1296000,
    "re_expires_in": 2592000,
    "auth_start": "2024-01-01 08:00:00",
}


async def test_a_login_code_is_exchanged_through_a_signed_gateway_call(
    alipay, app_keys, alipay_keys
):
    platform = signed(TOKEN_NODE, alipay_keys)

    session = await alipay(platform).code2session("auth-code")

    assert (session.platform, session.appid, session.openid, session.session_key) == (
        "alipay",
        APP_ID,
        TOKEN_NODE["open_id"],
        None,
    )
    request = platform.request
    query = dict(request.url.params)
    assert (request.method, request.url.path) == ("POST", "/gateway.do")
    assert {k: v for k, v in query.items() if k != "sign"} == {
        "app_id": APP_ID,
        "method": METHOD,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2024-01-01 08:00:00",
        "version": "1.0",
    }
    assert platform.sent_form == {"grant_type": "authorization_code", "code": "auth-code"}
    assert verify_params({**query, **platform.sent_form}, query["sign"], app_keys[1])


async def test_the_raw_answer_keeps_user_id_and_open_id_but_no_tokens(alipay, alipay_keys):
    session = await alipay(signed(TOKEN_NODE, alipay_keys)).code2session("auth-code")

    assert session.raw["user_id"] == "2088102150477652"
    assert session.raw["open_id"] == TOKEN_NODE["open_id"]
    assert "access_token" not in session.raw
    assert "refresh_token" not in session.raw


async def test_apps_before_the_openid_upgrade_are_identified_by_user_id(alipay, alipay_keys):
    node = {k: v for k, v in TOKEN_NODE.items() if k != "open_id"}

    session = await alipay(signed(node, alipay_keys)).code2session("auth-code")

    assert session.openid == "2088102150477652"


async def test_an_answer_signed_by_another_key_is_an_invalid_signature(alipay, app_keys):
    with pytest.raises(PlatformError) as caught:
        await alipay(signed(TOKEN_NODE, app_keys)).code2session("auth-code")

    assert (caught.value.platform, caught.value.kind) == ("alipay", "invalid_signature")


async def test_a_tampered_answer_is_an_invalid_signature(alipay, alipay_keys):
    text = build_signed_response(METHOD, TOKEN_NODE, alipay_keys[0])
    tampered = text.replace("2088102150477652", "2088999999999999")

    with pytest.raises(PlatformError) as caught:
        await alipay(FakePlatform(text=tampered)).code2session("auth-code")

    assert caught.value.kind == "invalid_signature"


async def test_an_unsigned_success_is_an_invalid_signature(alipay):
    platform = FakePlatform({"alipay_system_oauth_token_response": TOKEN_NODE})

    with pytest.raises(PlatformError) as caught:
        await alipay(platform).code2session("auth-code")

    assert caught.value.kind == "invalid_signature"


async def test_an_invalid_code_is_reported_as_invalid_code(alipay, alipay_keys):
    node = {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.code-invalid",
        "sub_msg": "授权码code无效",
    }

    with pytest.raises(PlatformError) as caught:
        await alipay(signed(node, alipay_keys, error=True)).code2session("auth-code")

    assert (caught.value.kind, caught.value.errcode, caught.value.message) == (
        "invalid_code",
        "isv.code-invalid",
        "授权码code无效",
    )


@pytest.mark.parametrize(
    ("node", "kind"),
    [
        ({"code": "40002", "sub_code": "isv.invalid-app-id"}, "invalid_appid"),
        ({"code": "40002", "sub_code": "isv.invalid-signature"}, "invalid_credentials"),
        ({"code": "20000", "sub_code": "isp.unknow-error"}, "unavailable"),
        ({"code": "40006", "sub_code": "isv.insufficient-isv-permissions"}, "other"),
    ],
)
async def test_unsigned_gateway_errors_are_reported_but_never_trusted_as_success(
    alipay, node, kind
):
    with pytest.raises(PlatformError) as caught:
        await alipay(FakePlatform({"error_response": node})).code2session("auth-code")

    assert caught.value.kind == kind


async def test_a_forged_signature_on_an_error_is_refused(alipay, app_keys):
    node = {"code": "40002", "sub_code": "isv.code-invalid"}

    with pytest.raises(PlatformError) as caught:
        await alipay(signed(node, app_keys, error=True)).code2session("auth-code")

    assert caught.value.kind == "invalid_signature"


@pytest.mark.parametrize(
    "platform",
    [
        FakePlatform(error=httpx.ReadTimeout),
        FakePlatform({}, status=504),
        FakePlatform(text="<html>"),
    ],
    ids=["timeout", "HTTP 504", "not JSON"],
)
async def test_network_trouble_is_unavailable(alipay, platform):
    with pytest.raises(PlatformError) as caught:
        await alipay(platform).code2session("auth-code")

    assert caught.value.kind == "unavailable"


async def test_the_client_opens_phone_numbers_with_the_apps_aes_key(alipay, alipay_keys):
    response, sign = encrypt_phone_number("13800000000", AES_KEY, alipay_keys[0])

    phone = await alipay(FakePlatform({})).decrypt_phone_number(response, sign)

    assert phone.phone_number == "13800000000"


def test_without_an_aes_key_phone_numbers_cannot_be_opened(app_keys, alipay_keys):
    with httpx.Client() as http:
        client = AlipayClient(APP_ID, app_keys[0], alipay_keys[1], http=http)

        with pytest.raises(PlatformError) as caught:
            client.decrypt_phone_number("response", "sign")

    assert caught.value.kind == "invalid_credentials"


def test_a_client_with_an_unreadable_key_is_refused_at_once(alipay_keys):
    with pytest.raises(PlatformError) as caught:
        AlipayClient(APP_ID, "not a key", alipay_keys[1])

    assert caught.value.kind == "invalid_credentials"
