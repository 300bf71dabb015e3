"""WeChat message-push crypto, checked against the vectors of WeChat's official message
encryption sample code (WXBizMsgCrypt): a safe-mode push with its msg_signature, and an
encryption with a fixed random prefix."""

from __future__ import annotations

import base64

import pytest

from minibase.platforms.wechat import PushCrypto, PushError, msg_signature, parse_body
from minibase.platforms.wechat.push import (
    aes_key,
    decrypt,
    encrypt,
    new_encoding_aes_key,
    render_body,
    signature,
)

ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# The sample's decryption vector (token "spamtest", appid wx2c2769f8efd9abc2).
TOKEN, APPID = "spamtest", "wx2c2769f8efd9abc2"
TIMESTAMP, NONCE = "1409735669", "1320562132"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8P"
    "GHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa"
    "+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8"
    "tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9Fy"
    "JvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
# The sample's encryption vector: a fixed 16-byte prefix for appid wxb11529c136998cb6.
ENCRYPTED_CHINESE = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)


def _query(**extra: str) -> dict[str, str]:
    return {
        "signature": signature(TOKEN, TIMESTAMP, NONCE),
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "encrypt_type": "aes",
        **extra,
    }


def test_the_samples_msg_signature_and_plaintext() -> None:
    assert msg_signature(TOKEN, TIMESTAMP, NONCE, ENCRYPT) == MSG_SIGNATURE
    message = decrypt(ENCODING_AES_KEY, APPID, ENCRYPT)
    assert parse_body(message) == {
        "ToUserName": "gh_10f6c3c3ac5a",
        "FromUserName": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        "CreateTime": "1409735668",
        "MsgType": "text",
        "Content": "abcdteT",
        "MsgId": "6054768590064713728",
    }


def test_the_samples_encryption_with_a_fixed_prefix() -> None:
    sealed = encrypt(
        ENCODING_AES_KEY,
        "wxb11529c136998cb6",
        "我是中文abcd123".encode(),
        random_bytes=b"aaaabbbbccccdddd",
    )
    assert sealed == ENCRYPTED_CHINESE


def test_a_safe_mode_push_of_the_sample_opens() -> None:
    body = render_body({"ToUserName": "gh_10f6c3c3ac5a", "Encrypt": ENCRYPT}, "xml")
    opened = PushCrypto(TOKEN, ENCODING_AES_KEY, APPID).open(
        _query(msg_signature=MSG_SIGNATURE), body
    )
    assert (opened.format, opened.encrypted) == ("xml", True)
    assert opened.fields["Content"] == "abcdteT"


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
@pytest.mark.parametrize("format", ["xml", "json"])
def test_a_sealed_push_opens_to_its_fields(mode: str, format: str) -> None:
    push = PushCrypto("tok", new_encoding_aes_key(), "wx-app")
    fields = {"ToUserName": "gh_1", "MsgType": "event", "Event": "x]]>y", "CreateTime": 17}
    query, body = push.seal_push(fields, format, mode)  # type: ignore[arg-type]
    opened = push.open(query, body)
    assert opened.encrypted is (mode != "plaintext")
    expected = fields if format == "json" else {**fields, "CreateTime": "17"}
    assert opened.fields == expected


@pytest.mark.parametrize("format", ["xml", "json"])
def test_an_encrypted_reply_opens_on_the_platforms_side(format: str) -> None:
    push = PushCrypto("tok", new_encoding_aes_key(), "wx-app")
    reply = {"ToUserName": "o-1", "MsgType": "transfer_customer_service", "CreateTime": 5}
    sealed = push.seal_reply(reply, format)  # type: ignore[arg-type]
    outer = parse_body(sealed)
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    opened = push.open_reply(sealed)
    assert opened["MsgType"] == "transfer_customer_service"


def test_a_wrong_signature_is_refused() -> None:
    body = render_body({"ToUserName": "gh_10f6c3c3ac5a", "Encrypt": ENCRYPT}, "xml")
    query = _query(msg_signature=MSG_SIGNATURE, signature="0" * 40)
    with pytest.raises(PushError) as refused:
        PushCrypto(TOKEN, ENCODING_AES_KEY, APPID).open(query, body)
    assert refused.value.reason == "signature"


def test_a_tampered_encrypt_fails_its_msg_signature() -> None:
    tampered = ENCRYPT[:-8] + "AAAAAAA="
    body = render_body({"ToUserName": "gh_10f6c3c3ac5a", "Encrypt": tampered}, "xml")
    with pytest.raises(PushError) as refused:
        PushCrypto(TOKEN, ENCODING_AES_KEY, APPID).open(_query(msg_signature=MSG_SIGNATURE), body)
    assert refused.value.reason == "msg_signature"


def test_a_push_for_another_app_is_refused() -> None:
    with pytest.raises(PushError) as refused:
        decrypt(ENCODING_AES_KEY, "wx-someone-else", ENCRYPT)
    assert refused.value.reason == "appid"


def test_bad_padding_is_refused() -> None:
    key = aes_key(ENCODING_AES_KEY)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    # 32 bytes whose last byte (0) is no PKCS#7 padding
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    broken = base64.b64encode(encryptor.update(b"x" * 31 + b"\x00") + encryptor.finalize())
    with pytest.raises(PushError) as refused:
        decrypt(ENCODING_AES_KEY, APPID, broken.decode())
    assert refused.value.reason == "decrypt"


@pytest.mark.parametrize("key", ["short", ENCODING_AES_KEY[:-1] + "!", ENCODING_AES_KEY + "A"])
def test_an_encoding_aes_key_is_43_characters_of_base64(key: str) -> None:
    with pytest.raises(PushError) as refused:
        PushCrypto("tok", key, "wx-app")
    assert refused.value.reason == "aes_key"


def test_xml_with_entities_is_refused() -> None:
    body = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    with pytest.raises(PushError) as refused:
        parse_body(body)
    assert refused.value.reason == "body"
