"""Alipay RSA2 signatures and AES content encryption.

Published vectors: the RSA2 parameter signatures in alipay-sdk-java-all's RSACheckTest (public
key from its fixture appCertPublicKey_2019091767145019.crt) and the AES sample in its
EncryptTest ("test1234567" under aa4BtZ4tspm2wnXLb1ThQA==).
"""

from __future__ import annotations

import json

import pytest

from minibase.platforms import PlatformError
from minibase.platforms.alipay import (
    build_signed_response,
    decrypt_content,
    decrypt_phone_number,
    encrypt_content,
    encrypt_phone_number,
    generate_rsa_keypair,
    response_node_text,
    sign_content,
    sign_params,
    verify_content,
    verify_params,
)
from minibase.platforms.alipay.crypto import signing_string

JAVA_SDK_APP_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAjuWo0SEz7Oa6h927DFEL
8d4BxhbVLX9iahEQXvURXZu3jF7FyzSneE8YTEzUhe6vscRl9zWOyr7tTaSFGg0R
Wxp0FkyxU9O1zdqK6IdY3+BSJJvi4z+GcBFBJS3UzuYRfGklHPSRYmxJSqNzHYGi
+7TRwYVshkZe/8fzpDMF8+lF32oBPfSt9KJlvcKO2J5UxOrrTCZYh13z/WtmkbL4
QRcEYaRc5CgZMGBReh9AjPCtaKABM23/42DHrS440x4lMuTVFij7UX9XaJY2CwQK
qFTrbzeJDpJyOZSGs5VW6HbRM5JoXHbFzM0LULDmo/6Ea0hOdi4YhMNXFKGjWT7T
hQIDAQAB
-----END PUBLIC KEY-----
"""
JAVA_SDK_PARAMS = {
    "method": "koubei.marketing.data.indicator.query",
    "app_id": "2019090366875133",
    "sign_type": "RSA2",
}
JAVA_SDK_SIGN = (
    "JzoDc8VxY1/w6yN9WdWV10aipS3YcRpK+jw4xfLybf90ZK9L3AHLUJbNLWVnHW3IuLoJbBeSGVxSbPBhe4ggPklcY"
    "UkPowgtlZ6YlthuQDtjF23h2obXuXkQRd+RPbDWvOA5AYQjsKH8uSHil5aRARewPIPhukl9Mn4HEovUccsBR/RirQ"
    "FSGmGYiMM0zvhVSR7pXZDEhiADzvzAkvVVTI1/HbNqcoBU4ctSPAGsuDPO/mah1+IwGQAuPP6xoEPL+3zQ0wztQCwH"
    "T2o8aQmxFJ9a09q8ybRprHaNjCgTaLDeTWE0o1pllZIE8c7wnG3cOuj6quYjTcQyLm6P4M87Zw=="
)
JAVA_SDK_UTF8_SIGN = (
    "KrRGUY3/2JX3KtlLgus8CbK0xuUIBDCpOdJkVzJDefez6HvlA8RA6uCVj2rrMd7DgVfarG5SROdSnkZbf8MLKHbVoF"
    "qi9w0QCvto9mc8n3ezfWejZECJVCZhbJ3OslB+4gij9+F70usrnCNEJZm02ntyNdVzcqMbgdRMB93BJIRC1jjmCotp"
    "XgXWrRdTb/SfhIAkoHqgGi2aCUHuLDInLGZCn8NeziGWMnFOic6/sE/nMpwriOmwLb2nyzD0fGiolwuuxlOGMcBHAb"
    "22J8XqchFHyCpbs2A/rWdJMjhUfqsErbtZQM93fi1xfL2pUa9RMWX0Q81Qk7iSEeHCR+NGyQ=="
)
AES_KEY = "aa4BtZ4tspm2wnXLb1ThQA=="


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture(scope="module")
def other_keys() -> tuple[str, str]:
    return generate_rsa_keypair()


def test_the_java_sdk_signatures_verify_with_sign_type_in_the_signed_string():
    assert verify_params(JAVA_SDK_PARAMS, JAVA_SDK_SIGN, JAVA_SDK_APP_PUBLIC_KEY)
    with_chinese = {**JAVA_SDK_PARAMS, "extra": "中文测试"}
    assert verify_params(with_chinese, JAVA_SDK_UTF8_SIGN, JAVA_SDK_APP_PUBLIC_KEY)


def test_the_java_sdk_signature_fails_under_the_notification_rule():
    assert not verify_params(
        JAVA_SDK_PARAMS, JAVA_SDK_SIGN, JAVA_SDK_APP_PUBLIC_KEY, notification=True
    )


def test_signed_params_verify_and_ignore_empty_values_and_the_sign_itself(keys):
    private_key, public_key = keys
    params = {"app_id": "2021", "method": "alipay.system.oauth.token", "code": "c", "empty": ""}

    sign = sign_params(params, private_key)

    assert verify_params({**params, "sign": sign}, sign, public_key)
    assert verify_params({k: v for k, v in params.items() if k != "empty"}, sign, public_key)


@pytest.mark.parametrize(
    "tampered",
    [
        {"app_id": "2021", "method": "alipay.system.oauth.token", "code": "other"},
        {"app_id": "2021", "method": "alipay.system.oauth.token", "code": "c", "extra": "1"},
        {"app_id": "2021", "method": "alipay.system.oauth.token"},
    ],
    ids=["changed value", "added param", "dropped param"],
)
def test_tampered_params_are_rejected(keys, tampered):
    private_key, public_key = keys
    sign = sign_params(
        {"app_id": "2021", "method": "alipay.system.oauth.token", "code": "c"}, private_key
    )

    assert not verify_params(tampered, sign, public_key)


def test_a_signature_from_another_key_or_garbage_is_rejected(keys, other_keys):
    sign = sign_content("hello", other_keys[0])

    assert not verify_content("hello", sign, keys[1])
    assert not verify_content("hello", "not base64 !!", keys[1])
    assert verify_content("hello", sign, other_keys[1])


def test_notifications_leave_sign_type_out_of_the_signed_string(keys):
    private_key, public_key = keys
    notify = {"trade_no": "2024", "trade_status": "TRADE_SUCCESS"}
    sign = sign_params(notify, private_key)

    assert verify_params(
        {**notify, "sign_type": "RSA2", "sign": sign}, sign, public_key, notification=True
    )


def test_keys_are_accepted_as_the_bare_base64_the_console_hands_out(keys):
    private_key, public_key = keys

    def bare(pem: str) -> str:
        return "".join(line for line in pem.splitlines() if "-----" not in line)

    assert verify_content("x", sign_content("x", bare(private_key)), bare(public_key))


def test_an_unreadable_key_is_invalid_credentials():
    with pytest.raises(PlatformError) as caught:
        sign_content("x", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----")

    assert (caught.value.platform, caught.value.kind) == ("alipay", "invalid_credentials")


def test_the_java_sdk_aes_sample_encrypts_and_decrypts_exactly():
    assert encrypt_content("test1234567", AES_KEY) == "ILpoMowjIQjfYMR847rnFQ=="
    assert decrypt_content("ILpoMowjIQjfYMR847rnFQ==", AES_KEY) == "test1234567"


@pytest.mark.parametrize("key_bytes", [16, 32])
def test_content_round_trips_under_aes_128_and_256(key_bytes):
    import base64

    key = base64.b64encode(bytes(range(key_bytes))).decode()

    assert decrypt_content(encrypt_content('{"mobile":"13800000000"}', key), key) == (
        '{"mobile":"13800000000"}'
    )


@pytest.mark.parametrize(
    "key", ["bm90IHRoZSBrZXkhISEhISE=", "c2hvcnQ="], ids=["wrong key", "not an AES key"]
)
def test_content_under_a_wrong_key_fails_to_decrypt(key):
    with pytest.raises(PlatformError) as caught:
        decrypt_content("ILpoMowjIQjfYMR847rnFQ==", key)

    assert caught.value.kind == "decrypt_failed"


def test_a_phone_number_from_my_get_phone_number_is_verified_and_decrypted(keys):
    response, sign = encrypt_phone_number("13800000000", AES_KEY, keys[0])

    phone = decrypt_phone_number(response, sign, AES_KEY, keys[1])

    assert (phone.phone_number, phone.pure_phone_number, phone.country_code) == (
        "13800000000",
        "13800000000",
        "86",
    )


def test_the_encrypted_phone_response_is_signed_with_quotes_around_it(keys):
    response, sign = encrypt_phone_number("13800000000", AES_KEY, keys[0])

    assert verify_content(f'"{response}"', sign, keys[1])
    assert not verify_content(response, sign, keys[1])


def test_a_tampered_or_foreign_phone_response_is_an_invalid_signature(keys, other_keys):
    response, sign = encrypt_phone_number("13800000000", AES_KEY, keys[0])
    other_response, _ = encrypt_phone_number("13900000000", AES_KEY, keys[0])

    for args in [(other_response, sign, keys[1]), (response, sign, other_keys[1])]:
        with pytest.raises(PlatformError) as caught:
            decrypt_phone_number(args[0], args[1], AES_KEY, args[2])
        assert caught.value.kind == "invalid_signature"


def test_an_unencrypted_response_is_verified_as_it_is(keys):
    response = json.dumps({"code": "10000", "msg": "Success", "mobile": "13800000000"})

    phone = decrypt_phone_number(response, sign_content(response, keys[0]), AES_KEY, keys[1])

    assert phone.phone_number == "13800000000"


@pytest.mark.parametrize(
    ("payload", "kind", "errcode"),
    [
        (
            {
                "code": "40003",
                "msg": "Insufficient Conditions",
                "subCode": "isv.invalid-auth-relations",
            },
            "other",
            "isv.invalid-auth-relations",
        ),
        (
            {
                "code": "20000",
                "msg": "Service Currently Unavailable",
                "subCode": "aop.unknow-error",
            },
            "unavailable",
            "aop.unknow-error",
        ),
        ({"code": "10000", "msg": "Success"}, "bad_response", None),
    ],
    ids=["no authorization", "busy", "no mobile"],
)
def test_a_phone_response_that_carries_an_error_is_raised(keys, payload, kind, errcode):
    response = encrypt_content(json.dumps(payload), AES_KEY)
    sign = sign_content(f'"{response}"', keys[0])

    with pytest.raises(PlatformError) as caught:
        decrypt_phone_number(response, sign, AES_KEY, keys[1])

    assert (caught.value.kind, caught.value.errcode) == (kind, errcode)


def test_the_signed_text_is_the_exact_response_node_as_written():
    raw = (
        '{ "alipay_system_oauth_token_response" : {"user_id":"2088","note":"} {\\"x\\":1}",'
        '"nested":{"a":[1,{"b":"}"}]}} ,\n "sign":"abc"}'
    )

    text = response_node_text(raw, "alipay.system.oauth.token")

    assert text == '{"user_id":"2088","note":"} {\\"x\\":1}","nested":{"a":[1,{"b":"}"}]}}'


def test_the_error_response_node_is_found_when_the_method_failed():
    raw = '{"error_response":{"code":"40002","sub_code":"isv.code-invalid"},"sign":"abc"}'

    assert response_node_text(raw, "alipay.system.oauth.token") == (
        '{"code":"40002","sub_code":"isv.code-invalid"}'
    )


@pytest.mark.parametrize(
    "raw",
    ['{"sign":"abc"}', "<html></html>", '{"a":1,}', "[]"],
    ids=["no node", "html", "bad", "list"],
)
def test_an_answer_without_a_response_node_is_a_bad_response(raw):
    with pytest.raises(PlatformError) as caught:
        response_node_text(raw, "alipay.system.oauth.token")

    assert caught.value.kind == "bad_response"


def test_a_built_response_verifies_over_its_node_text(keys):
    raw = build_signed_response(
        "alipay.system.oauth.token", {"user_id": "2088", "中": "文"}, keys[0]
    )

    node_text = response_node_text(raw, "alipay.system.oauth.token")

    assert verify_content(node_text, json.loads(raw)["sign"], keys[1])


def test_encrypting_under_a_key_that_is_not_an_aes_key_is_a_programming_error():
    with pytest.raises(ValueError, match="AES key"):
        encrypt_content("x", "c2hvcnQ=")


NOTIFY = {
    "notify_type": "trade_status_sync",
    "app_id": "2021000000000001",
    "trade_no": "2026120622001400000000000001",
    "out_trade_no": "order-1",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "12.00",
}


@pytest.mark.parametrize(
    "notify",
    [NOTIFY, {**NOTIFY, "passback_params": ""}, {**NOTIFY, "passback_params": "a%3D1"}],
    ids=["no passback_params", "empty passback_params", "passback_params"],
)
def test_a_notification_is_checked_over_every_parameter_as_alipays_sdks_check_it(keys, notify):
    """Alipay's SDKs verify notifications over every parameter but sign and sign_type, empty
    ones included (Java's getSignCheckContentV1; the Python SDKs build the same text)."""
    from alipay import AliPay
    from alipay.aop.api.util.SignatureUtils import get_sign_content

    private_key, public_key = keys
    sign = sign_params(notify, private_key, notification=True)
    received = {**notify, "sign_type": "RSA2", "sign": sign}

    assert verify_params(received, sign, public_key, notification=True)
    assert get_sign_content(notify) == signing_string(received, notification=True)
    python_alipay_sdk = AliPay(
        appid=notify["app_id"],
        app_private_key_string=private_key,
        alipay_public_key_string=public_key,
    )
    data = dict(received)
    signature = data.pop("sign")  # as python-alipay-sdk's README does with a notification
    assert python_alipay_sdk.verify(data, signature)


def test_an_empty_parameter_left_out_of_a_notification_breaks_its_signature(keys):
    private_key, public_key = keys
    sign = sign_params({**NOTIFY, "passback_params": ""}, private_key, notification=True)
    assert not verify_params(NOTIFY, sign, public_key, notification=True)
