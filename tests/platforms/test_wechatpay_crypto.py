"""WeChat Pay v3's signatures and resource encryption, as the docs define them: the exact
strings that are signed, a signature that any change breaks, stale timestamps refused, the
AEAD resource bound to its key, nonce and associated data, and wx.requestPayment's paySign."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import crypto

MERCHANT = rsa.generate_keypair()
PLATFORM_KEY = rsa.generate_keypair()
SERIAL = "PUB_KEY_ID_0114232134912410000000000000"
API_V3_KEY = "0123456789abcdef0123456789abcdef"
NOW = 1_554_208_460


def test_the_request_message_is_the_docs_five_lines() -> None:
    message = crypto.request_message(
        "get", "/v3/certificates", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", ""
    )
    assert message == "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"


def test_the_payment_message_is_the_docs_four_lines() -> None:
    message = crypto.payment_message(
        "wx8888888888888888",
        "1414561699",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "prepay_id=wx201410272009395522657a690389285100",
    )
    assert message == (
        "wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
        "prepay_id=wx201410272009395522657a690389285100\n"
    )


def test_an_authorization_header_is_a_sha256_rsa_signature_of_the_request() -> None:
    body = '{"appid":"wx1","mchid":"1900000001","amount":{"total":100}}'
    header = crypto.authorization(
        "POST",
        "/v3/pay/transactions/jsapi",
        body,
        mchid="1900000001",
        serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        private_key=MERCHANT[0],
        timestamp=NOW,
        nonce="N1",
    )
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    auth = crypto.parse_authorization(header)
    assert (auth.mchid, auth.serial_no, auth.nonce, auth.timestamp) == (
        "1900000001",
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "N1",
        str(NOW),
    )
    # checked with the bare primitives, not with our own verify
    public = serialization.load_pem_public_key(MERCHANT[1].encode())
    message = f"POST\n/v3/pay/transactions/jsapi\n{NOW}\nN1\n{body}\n".encode()
    public.verify(  # type: ignore[union-attr]
        base64.b64decode(auth.signature), message, padding.PKCS1v15(), hashes.SHA256()
    )
    path = "/v3/pay/transactions/jsapi"
    assert crypto.verify_request("POST", path, body, header, MERCHANT[1], now=NOW).mchid
    with pytest.raises(PlatformError) as tampered:
        crypto.verify_request("POST", path, body.replace("100", "1"), header, MERCHANT[1], now=NOW)
    assert tampered.value.kind == "invalid_signature"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer abc", 'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n"', "WECHATPAY2 x"],
)
def test_a_header_that_is_not_a_v3_signature_is_refused(header: str) -> None:
    with pytest.raises(PlatformError) as refused:
        crypto.parse_authorization(header)
    assert refused.value.kind == "invalid_signature"


def _notification(timestamp: int = NOW) -> tuple[dict[str, str], str]:
    body = json.dumps({"id": "EV-1", "event_type": "TRANSACTION.SUCCESS"})
    return crypto.sign_response(body, PLATFORM_KEY[0], SERIAL, timestamp=timestamp), body


def test_a_signed_notification_verifies_with_the_key_its_serial_names() -> None:
    headers, body = _notification()
    lower_case = {name.lower(): value for name, value in headers.items()}
    signed = crypto.Signed.from_headers(lower_case, body.encode())
    crypto.verify_signed(signed, {SERIAL: PLATFORM_KEY[1]}, now=NOW + 10)


Headers = dict[str, str]


def _signed_by_someone_else(headers: Headers, body: str) -> tuple[Headers, str]:
    forged = crypto.sign_response(
        body, MERCHANT[0], SERIAL, timestamp=NOW, nonce=headers["Wechatpay-Nonce"]
    )
    return {**headers, "Wechatpay-Signature": forged["Wechatpay-Signature"]}, body


FORGERIES: dict[str, Callable[[Headers, str], tuple[Headers, str]]] = {
    "tampered body": lambda h, b: (h, b.replace("EV-1", "EV-2")),
    "other nonce": lambda h, b: ({**h, "Wechatpay-Nonce": "other"}, b),
    "other timestamp": lambda h, b: ({**h, "Wechatpay-Timestamp": str(NOW + 1)}, b),
    "unknown serial": lambda h, b: ({**h, "Wechatpay-Serial": "PUB_KEY_ID_unknown"}, b),
    "someone else's key": _signed_by_someone_else,
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_or_tampered_notification_is_refused(forgery: str) -> None:
    headers, body = FORGERIES[forgery](*_notification())
    with pytest.raises(PlatformError) as refused:
        crypto.verify_signed(
            crypto.Signed.from_headers(headers, body), {SERIAL: PLATFORM_KEY[1]}, now=NOW
        )
    assert refused.value.kind == "invalid_signature"


def test_a_notification_outside_the_five_minute_window_is_refused_as_stale() -> None:
    headers, body = _notification(timestamp=NOW - 301)
    signed = crypto.Signed.from_headers(headers, body)
    with pytest.raises(PlatformError) as stale:
        crypto.verify_signed(signed, {SERIAL: PLATFORM_KEY[1]}, now=NOW)
    assert stale.value.kind == "expired_data"
    crypto.verify_signed(signed, {SERIAL: PLATFORM_KEY[1]}, now=NOW - 1)  # 300 s: still fine


def test_an_unsigned_notification_is_refused() -> None:
    with pytest.raises(PlatformError) as unsigned:
        crypto.Signed.from_headers({"Content-Type": "application/json"}, "{}")
    assert unsigned.value.kind == "invalid_signature"


def test_the_resource_decrypts_only_with_its_key_nonce_and_associated_data() -> None:
    plaintext = json.dumps({"out_trade_no": "o1", "amount": {"total": 100}}).encode()
    resource = crypto.encrypt_resource(plaintext, API_V3_KEY, associated_data="transaction")
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert len(resource["nonce"]) == 12
    assert len(base64.b64decode(resource["ciphertext"])) == len(plaintext) + 16  # + the tag
    assert crypto.decrypt_resource(resource, API_V3_KEY) == plaintext
    for broken in (
        {**resource, "associated_data": "refund"},
        {**resource, "nonce": "000000000000"},
        {**resource, "ciphertext": base64.b64encode(b"x" * 40).decode()},
        {**resource, "algorithm": "AES-CBC"},
        {**resource, "ciphertext": "not base64!"},
    ):
        with pytest.raises(PlatformError) as failed:
            crypto.decrypt_resource(broken, API_V3_KEY)
        assert failed.value.kind == "decrypt_failed"
    with pytest.raises(PlatformError):
        crypto.decrypt_resource(resource, "fedcba9876543210fedcba9876543210")


def test_an_apiv3_key_that_is_not_32_bytes_is_a_credentials_error() -> None:
    with pytest.raises(PlatformError) as refused:
        crypto.encrypt_resource(b"x", "too short")
    assert refused.value.kind == "invalid_credentials"


def test_request_payment_params_carry_a_paysign_over_the_app_and_the_prepay_id() -> None:
    params = crypto.request_payment_params(
        "wx8888888888888888", "wx2014102720093955", MERCHANT[0], timestamp=NOW, nonce="N2"
    )
    assert params["package"] == "prepay_id=wx2014102720093955"
    assert (params["timeStamp"], params["nonceStr"], params["signType"]) == (str(NOW), "N2", "RSA")
    assert crypto.verify_payment_params("wx8888888888888888", params, MERCHANT[1])
    assert not crypto.verify_payment_params("wx9999999999999999", params, MERCHANT[1])
    assert not crypto.verify_payment_params(
        "wx8888888888888888", {**params, "package": "prepay_id=other"}, MERCHANT[1]
    )


def test_platform_keys_may_be_given_as_certificates() -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = rsa.load_private_key(PLATFORM_KEY[0], platform="wechatpay")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    headers, body = _notification()
    signed = crypto.Signed.from_headers(headers, body)
    crypto.verify_signed(signed, {SERIAL: pem}, now=NOW)
