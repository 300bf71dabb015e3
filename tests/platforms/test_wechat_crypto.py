"""WeChat user-data crypto, checked against WeChat's official sample data.

The vector is the one shipped with WeChat's "encrypted data decryption" demo code (appid
wx4f4bc4dec97d474b); wechatpy and WxJava test against the same data. The rawData signature
vector is the one from WeChat's signature docs, also used by wechat-django's tests.
"""

from __future__ import annotations

import base64

import pytest

from minibase.platforms import PlatformError
from minibase.platforms.wechat import (
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
    sign_raw_data,
    verify_raw_data,
)

APPID = "wx4f4bc4dec97d474b"
SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
IV = "r7BXXKkLb8qrSNn05n0qiA=="
ENCRYPTED_DATA = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC"
    "+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOF"
    "tnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz"
    "+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5a"
    "naHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYm"
    "YVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)
PLAINTEXT = {
    "openId": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
    "nickName": "Band",
    "gender": 1,
    "language": "zh_CN",
    "city": "Guangzhou",
    "province": "Guangdong",
    "country": "CN",
    "avatarUrl": "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7"
    "GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
    "unionId": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
    "watermark": {"timestamp": 1477314187, "appid": APPID},
}
OTHER_KEY = base64.b64encode(b"another 16B key!").decode()


def test_the_official_wechat_sample_decrypts_exactly():
    assert decrypt_user_data(SESSION_KEY, ENCRYPTED_DATA, IV, APPID) == PLAINTEXT


def test_encryption_reproduces_the_official_sample_byte_for_byte():
    user = {k: v for k, v in PLAINTEXT.items() if k != "watermark"}

    encrypted, iv = encrypt_user_data(SESSION_KEY, user, APPID, iv=IV, timestamp=1477314187)

    assert (encrypted, iv) == (ENCRYPTED_DATA, IV)


def test_encrypted_data_round_trips_with_a_fresh_iv_and_watermark():
    encrypted, iv = encrypt_user_data(OTHER_KEY, {"phoneNumber": "13800000000"}, "wx-app")

    data = decrypt_user_data(OTHER_KEY, encrypted, iv, "wx-app", max_age=60)

    assert data["phoneNumber"] == "13800000000"
    assert data["watermark"]["appid"] == "wx-app"


def test_a_wrong_session_key_fails_to_decrypt():
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(OTHER_KEY, ENCRYPTED_DATA, IV, APPID)

    assert (caught.value.platform, caught.value.kind) == ("wechat", "decrypt_failed")


def test_tampered_ciphertext_is_caught_by_its_padding():
    raw = bytearray(base64.b64decode(ENCRYPTED_DATA))
    raw[-17] ^= 0x01  # the block before the last decides the last block's padding bytes
    tampered = base64.b64encode(bytes(raw)).decode()

    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, tampered, IV, APPID)

    assert caught.value.kind == "decrypt_failed"


@pytest.mark.parametrize(
    ("session_key", "encrypted_data", "iv"),
    [
        ("not base64!", ENCRYPTED_DATA, IV),
        (base64.b64encode(b"short").decode(), ENCRYPTED_DATA, IV),
        (SESSION_KEY, ENCRYPTED_DATA[:-4], IV),
        (SESSION_KEY, ENCRYPTED_DATA, base64.b64encode(b"short iv").decode()),
    ],
    ids=["key not base64", "key not 16 bytes", "partial block", "iv not 16 bytes"],
)
def test_malformed_inputs_fail_to_decrypt(session_key, encrypted_data, iv):
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(session_key, encrypted_data, iv, APPID)

    assert caught.value.kind == "decrypt_failed"


def test_a_plaintext_that_is_not_json_fails_to_decrypt():
    from minibase.platforms.cipher import cbc_encrypt

    key, iv = base64.b64decode(OTHER_KEY), bytes(16)
    garbage = base64.b64encode(cbc_encrypt(key, iv, b"\xff not json")).decode()

    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(OTHER_KEY, garbage, base64.b64encode(iv).decode(), APPID)

    assert caught.value.kind == "decrypt_failed"


def test_data_made_for_another_app_is_a_watermark_mismatch():
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, ENCRYPTED_DATA, IV, "wx-someone-else")

    assert caught.value.kind == "watermark_mismatch"


def test_stale_data_is_refused_when_the_caller_sets_a_max_age():
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, ENCRYPTED_DATA, IV, APPID, max_age=300, now=1477314187 + 301)

    assert caught.value.kind == "expired_data"


def test_fresh_data_passes_the_max_age_check():
    data = decrypt_user_data(
        SESSION_KEY, ENCRYPTED_DATA, IV, APPID, max_age=300, now=1477314187 + 299
    )

    assert data["nickName"] == "Band"


def test_the_old_phone_number_payload_decrypts_to_a_phone_number():
    payload = {"phoneNumber": "13580006666", "purePhoneNumber": "13580006666", "countryCode": "86"}
    encrypted, iv = encrypt_user_data(SESSION_KEY, payload, APPID, timestamp=1700000000)

    phone = decrypt_phone_number(SESSION_KEY, encrypted, iv, APPID)

    assert (phone.phone_number, phone.country_code, phone.appid, phone.timestamp) == (
        "13580006666",
        "86",
        APPID,
        1700000000,
    )


RAW_DATA = (
    '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong",'
    '"country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7b'
    'QxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}'
)
RAW_DATA_SESSION_KEY = "HyVFkGl5F5OQWJZZaNzBBg=="
RAW_DATA_SIGNATURE = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"


def test_the_raw_data_signature_matches_the_published_sample():
    assert sign_raw_data(RAW_DATA, RAW_DATA_SESSION_KEY) == RAW_DATA_SIGNATURE
    assert verify_raw_data(RAW_DATA, RAW_DATA_SIGNATURE, RAW_DATA_SESSION_KEY)


def test_tampered_raw_data_or_another_session_key_fails_verification():
    assert not verify_raw_data(
        RAW_DATA.replace("Band", "Bond"), RAW_DATA_SIGNATURE, RAW_DATA_SESSION_KEY
    )
    assert not verify_raw_data(RAW_DATA, RAW_DATA_SIGNATURE, SESSION_KEY)
    assert not verify_raw_data(RAW_DATA, "fake_sign", RAW_DATA_SESSION_KEY)


def test_encrypting_with_a_key_that_is_not_a_session_key_is_a_programming_error():
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt_user_data(base64.b64encode(b"short").decode(), {}, APPID)
