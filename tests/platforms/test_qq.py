"""QQ mini programs: WeChat's protocol and crypto on api.q.qq.com, errors named for QQ."""

from __future__ import annotations

import pytest

from minibase.platforms import PlatformError
from minibase.platforms.qq import (
    AsyncQQClient,
    QQClient,
    decrypt_phone_number,
    decrypt_user_data,
    encrypt_user_data,
)
from tests.platforms.fakes import Driver, FakePlatform

APPID = "1112214148"
SESSION_KEY = "dGhpcyBpcyAxNiBieXRlcw=="  # base64 of 16 bytes


@pytest.fixture
def qq(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: QQClient(APPID, "qq-secret", http=http),
        lambda http: AsyncQQClient(APPID, "qq-secret", http=http),
    )


async def test_a_login_code_is_exchanged_on_api_q_qq_com(qq):
    platform = FakePlatform({"openid": "qq-o-1", "session_key": SESSION_KEY, "unionid": "qq-u"})

    session = await qq(platform).code2session("qq-code")

    assert (session.platform, session.openid, session.unionid) == ("qq", "qq-o-1", "qq-u")
    url = platform.request.url
    assert (url.host, url.path) == ("api.q.qq.com", "/sns/jscode2session")
    assert dict(url.params) == {
        "appid": APPID,
        "secret": "qq-secret",
        "js_code": "qq-code",
        "grant_type": "authorization_code",
    }


@pytest.mark.parametrize(
    ("errcode", "kind"), [(40029, "invalid_code"), (45011, "rate_limited"), (-1, "unavailable")]
)
async def test_qq_errcodes_map_like_wechat_ones(qq, errcode, kind):
    with pytest.raises(PlatformError) as caught:
        await qq(FakePlatform({"errcode": errcode, "errmsg": "x"})).code2session("qq-code")

    assert (caught.value.platform, caught.value.kind) == ("qq", kind)


async def test_the_access_token_comes_from_api_get_token(qq):
    platform = FakePlatform({"access_token": "qq-token", "expires_in": 7200})

    token = await qq(platform).get_access_token()

    assert token.value == "qq-token"
    assert platform.request.url.path == "/api/getToken"
    assert platform.request.url.params["grant_type"] == "client_credential"


def test_qq_user_data_uses_the_wechat_scheme_and_names_qq_in_errors():
    encrypted, iv = encrypt_user_data(SESSION_KEY, {"phoneNumber": "13800000000"}, APPID)

    assert decrypt_phone_number(SESSION_KEY, encrypted, iv, APPID).phone_number == "13800000000"
    with pytest.raises(PlatformError) as caught:
        decrypt_user_data(SESSION_KEY, encrypted, iv, "another-app")
    assert (caught.value.platform, caught.value.kind) == ("qq", "watermark_mismatch")
