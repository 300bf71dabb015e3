"""Baidu smart programs: the session-key endpoint and the AES-192 user-data format.

The vector is Baidu's own decryption sample (app key y2dTfnWfkx2OXttMEMWlGHoB1KzMogm7), which its
PHP and Python demos decrypt to the JSON below.
"""

from __future__ import annotations

import base64

import pytest

from minibase.platforms import PlatformError
from minibase.platforms.baidu import (
    AsyncBaiduClient,
    BaiduClient,
    decrypt_user_data,
    encrypt_user_data,
)
from tests.platforms.fakes import Driver, FakePlatform

APP_KEY = "y2dTfnWfkx2OXttMEMWlGHoB1KzMogm7"
SESSION_KEY = "1df09d0a1677dd72b8325aec59576e0c"
IV = "1df09d0a1677dd72b8325Q=="
CIPHERTEXT = (
    "OpCoJgs7RrVgaMNDixIvaCIyV2SFDBNLivgkVqtzq2GC10egsn+PKmQ/+5q+chT8xzldLUog2haTItyIkKyvzvmX"
    "onBQLIMeq54axAu9c3KG8IhpFD6+ymHocmx07ZKi7eED3t0KyIxJgRNSDkFk5RV1ZP2mSWa7ZgCXXcAbP0RsiUcvhcJ"
    "frSwlpsm0E1YJzKpYy429xrEEGvK+gfL+Cw=="
)
PLAINTEXT = {"openid": "open_id", "nickname": "baidu_user", "headimgurl": "url of image", "sex": 1}


@pytest.fixture
def baidu(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: BaiduClient(APP_KEY, "baidu-sk", http=http),
        lambda http: AsyncBaiduClient(APP_KEY, "baidu-sk", http=http),
    )


async def test_a_login_code_is_posted_as_a_form_for_openid_and_session_key(baidu):
    platform = FakePlatform({"openid": "l214zFqNrEuIEnp6m7Y01sw8yj", "session_key": SESSION_KEY})

    session = await baidu(platform).code2session("swan-code")

    assert (session.platform, session.appid, session.openid) == (
        "baidu",
        APP_KEY,
        "l214zFqNrEuIEnp6m7Y01sw8yj",
    )
    assert session.session_key == SESSION_KEY
    assert session.raw == {"openid": "l214zFqNrEuIEnp6m7Y01sw8yj"}
    request = platform.request
    assert (request.method, request.url.host, request.url.path) == (
        "POST",
        "spapi.baidu.com",
        "/oauth/jscode2sessionkey",
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert platform.sent_form == {"code": "swan-code", "client_id": APP_KEY, "sk": "baidu-sk"}


@pytest.mark.parametrize(
    ("body", "status", "kind", "errcode"),
    [
        (
            {"error": "invalid_grant", "error_description": "Invalid authorization code: x"},
            400,
            "invalid_code",
            "invalid_grant",
        ),
        (
            {"error": "invalid_client", "error_description": "unknown client id"},
            401,
            "invalid_credentials",
            "invalid_client",
        ),
        (
            {"errno": 10010100, "error": "parameter is invalid", "error_description": "ClientID"},
            200,
            "other",
            10010100,
        ),
    ],
    ids=["bad code", "bad app key or secret", "missing parameter"],
)
async def test_baidu_errors_become_stable_kinds(baidu, body, status, kind, errcode):
    with pytest.raises(PlatformError) as caught:
        await baidu(FakePlatform(body, status=status)).code2session("swan-code")

    error = caught.value
    assert (error.platform, error.kind, error.errcode, error.http_status) == (
        "baidu",
        kind,
        errcode,
        status,
    )


def test_baidus_published_sample_decrypts_exactly():
    assert decrypt_user_data(SESSION_KEY, CIPHERTEXT, IV, APP_KEY) == PLAINTEXT


def test_encryption_reproduces_baidus_sample_byte_for_byte():
    # The sample's 16 random bytes were ASCII hex digits; its padding runs to 32-byte blocks.
    encrypted, iv = encrypt_user_data(
        SESSION_KEY, PLAINTEXT, APP_KEY, iv=IV, random_prefix=b"5d0aa9913c63765d"
    )

    assert (encrypted, iv) == (CIPHERTEXT, IV)


def test_user_data_round_trips_with_random_prefix_and_iv():
    encrypted, iv = encrypt_user_data(SESSION_KEY, {"mobile": "13800000000"}, APP_KEY)

    assert decrypt_user_data(SESSION_KEY, encrypted, iv, APP_KEY) == {"mobile": "13800000000"}


def test_data_made_for_another_app_key_is_a_watermark_mismatch():
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, CIPHERTEXT, IV, "another-app-key")

    assert (caught.value.platform, caught.value.kind) == ("baidu", "watermark_mismatch")


@pytest.mark.parametrize(
    "session_key",
    [base64.b64encode(b"w" * 24).decode(), base64.b64encode(b"sixteen byte key").decode()],
    ids=["wrong key", "AES-128 sized key"],
)
def test_a_wrong_session_key_fails_to_decrypt(session_key):
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(session_key, CIPHERTEXT, IV, APP_KEY)

    assert caught.value.kind == "decrypt_failed"


def test_a_length_that_runs_past_the_plaintext_fails_to_decrypt():
    from minibase.platforms.cipher import cbc_encrypt

    key, iv = base64.b64decode(SESSION_KEY), base64.b64decode(IV)
    lying = b"r" * 16 + (10_000).to_bytes(4, "big") + b"{}" + APP_KEY.encode()
    encrypted = base64.b64encode(cbc_encrypt(key, iv, lying, pad_to=32)).decode()

    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, encrypted, IV, APP_KEY)

    assert caught.value.kind == "decrypt_failed"


def test_encrypting_with_a_wechat_sized_key_is_a_programming_error():
    with pytest.raises(ValueError, match="24 bytes"):
        encrypt_user_data(base64.b64encode(b"sixteen byte key").decode(), {}, APP_KEY)
