"""Douyin (ByteDance): the v2 code2session endpoint and the shared user-data scheme."""

from __future__ import annotations

import base64

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.cipher import cbc_encrypt
from minibase.platforms.douyin import (
    AsyncDouyinClient,
    DouyinClient,
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
)
from tests.platforms.fakes import Driver, FakePlatform

APPID = "tt5daf2b12c2857910"
SESSION_KEY = "ZG91eWluIHNlc3Npb24hIQ=="  # base64 of 16 bytes


@pytest.fixture
def douyin(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: DouyinClient(APPID, "tt-secret", http=http),
        lambda http: AsyncDouyinClient(APPID, "tt-secret", http=http),
    )


def answer(**data: str) -> dict:
    return {"err_no": 0, "err_tips": "success", "log_id": "log-1", "data": data}


async def test_a_login_code_is_posted_as_json_to_the_v2_endpoint(douyin):
    platform = FakePlatform(
        answer(session_key=SESSION_KEY, openid="tt-o", anonymous_openid="", unionid="tt-u")
    )

    session = await douyin(platform).code2session("tt-code")

    assert (session.platform, session.openid, session.unionid) == ("douyin", "tt-o", "tt-u")
    assert session.session_key == SESSION_KEY
    assert session.anonymous_openid is None
    assert session.raw["data"] == {"openid": "tt-o", "anonymous_openid": "", "unionid": "tt-u"}
    request = platform.request
    assert (request.method, request.url.host, request.url.path) == (
        "POST",
        "developer.toutiao.com",
        "/api/apps/v2/jscode2session",
    )
    assert platform.sent_json == {"appid": APPID, "secret": "tt-secret", "code": "tt-code"}


async def test_a_guest_login_has_only_the_anonymous_openid(douyin):
    platform = FakePlatform(
        answer(session_key="", openid="", anonymous_openid="tt-anon", unionid="")
    )

    session = await douyin(platform).code2session(anonymous_code="anon-code")

    assert session.guest is True
    assert (session.openid, session.anonymous_openid) == ("", "tt-anon")
    assert (session.session_key, session.unionid) == (None, None)
    assert platform.sent_json == {
        "appid": APPID,
        "secret": "tt-secret",
        "anonymous_code": "anon-code",
    }


async def test_a_login_with_both_codes_answers_both_openids_and_is_no_guest(douyin):
    platform = FakePlatform(
        answer(session_key=SESSION_KEY, openid="tt-o", anonymous_openid="tt-anon", unionid="")
    )

    session = await douyin(platform).code2session("tt-code", anonymous_code="anon-code")

    assert session.guest is False
    assert (session.openid, session.anonymous_openid) == ("tt-o", "tt-anon")
    assert platform.sent_json == {
        "appid": APPID,
        "secret": "tt-secret",
        "code": "tt-code",
        "anonymous_code": "anon-code",
    }


async def test_a_code_answered_without_an_openid_is_a_bad_response(douyin):
    platform = FakePlatform(answer(openid="", anonymous_openid="tt-anon"))
    with pytest.raises(PlatformError) as caught:
        await douyin(platform).code2session("tt-code", anonymous_code="anon-code")
    assert caught.value.kind == "bad_response"


def test_a_login_needs_a_code_or_an_anonymous_code():
    with httpx.Client() as http, pytest.raises(ValueError, match="anonymous_code"):
        DouyinClient(APPID, "tt-secret", http=http).code2session()


@pytest.mark.parametrize(
    ("err_no", "kind"),
    [
        (40018, "invalid_code"),
        (40019, "invalid_code"),
        (40017, "invalid_credentials"),
        (40015, "invalid_appid"),
        (40014, "other"),
        (-1, "unavailable"),
    ],
)
async def test_err_no_values_become_stable_kinds(douyin, err_no, kind):
    platform = FakePlatform({"err_no": err_no, "err_tips": "bad code", "data": {}})

    with pytest.raises(PlatformError) as caught:
        await douyin(platform).code2session("tt-code")

    assert (caught.value.platform, caught.value.kind, caught.value.errcode) == (
        "douyin",
        kind,
        err_no,
    )


async def test_an_answer_without_data_is_a_bad_response(douyin):
    with pytest.raises(PlatformError) as caught:
        await douyin(FakePlatform({"err_no": 0})).code2session("tt-code")

    assert caught.value.kind == "bad_response"


async def test_a_timeout_is_unavailable(douyin):
    with pytest.raises(PlatformError) as caught:
        await douyin(FakePlatform(error=httpx.ReadTimeout)).code2session("tt-code")

    assert caught.value.kind == "unavailable"


def test_an_encrypted_phone_number_round_trips():
    payload = {"phoneNumber": "13800000000", "purePhoneNumber": "13800000000", "countryCode": "86"}
    encrypted, iv = encrypt_user_data(SESSION_KEY, payload, APPID)

    phone = decrypt_phone_number(SESSION_KEY, encrypted, iv, APPID)

    assert (phone.pure_phone_number, phone.country_code, phone.appid) == (
        "13800000000",
        "86",
        APPID,
    )


def test_data_without_a_watermark_is_accepted_since_douyin_does_not_promise_one():
    key, iv = base64.b64decode(SESSION_KEY), bytes(range(16))
    plain = cbc_encrypt(key, iv, b'{"phoneNumber":"13800000000"}')

    data = decrypt_user_data(
        SESSION_KEY, base64.b64encode(plain).decode(), base64.b64encode(iv).decode(), APPID
    )

    assert data == {"phoneNumber": "13800000000"}


def test_a_watermark_for_another_app_is_still_refused():
    encrypted, iv = encrypt_user_data(SESSION_KEY, {"phoneNumber": "1"}, "tt-other")

    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, encrypted, iv, APPID)

    assert (caught.value.platform, caught.value.kind) == ("douyin", "watermark_mismatch")


def test_a_wrong_session_key_fails_to_decrypt():
    encrypted, iv = encrypt_user_data(SESSION_KEY, {"phoneNumber": "1"}, APPID)

    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(base64.b64encode(b"x" * 16).decode(), encrypted, iv, APPID)

    assert (caught.value.platform, caught.value.kind) == ("douyin", "decrypt_failed")
