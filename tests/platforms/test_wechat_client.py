"""The WeChat client, sync and async, against a scripted api.weixin.qq.com."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import AccessToken, PlatformError
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from tests.platforms.fakes import Driver, FakePlatform

APPID = "wx4f4bc4dec97d474b"
SECRET = "app-secret"


@pytest.fixture
def wechat(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: WeChatClient(APPID, SECRET, base_url="https://wx.test", http=http),
        lambda http: AsyncWeChatClient(APPID, SECRET, base_url="https://wx.test", http=http),
    )


async def test_a_login_code_is_exchanged_for_openid_unionid_and_session_key(wechat):
    platform = FakePlatform({"openid": "o-1", "session_key": "c2Vzc2lvbg==", "unionid": "u-1"})

    session = await wechat(platform).code2session("js-code")

    assert (session.platform, session.appid, session.openid, session.unionid) == (
        "wechat",
        APPID,
        "o-1",
        "u-1",
    )
    assert session.session_key == "c2Vzc2lvbg=="
    request = platform.request
    assert (request.method, request.url.path) == ("GET", "/sns/jscode2session")
    assert dict(request.url.params) == {
        "appid": APPID,
        "secret": SECRET,
        "js_code": "js-code",
        "grant_type": "authorization_code",
    }


async def test_the_raw_answer_keeps_everything_but_the_session_key(wechat):
    platform = FakePlatform({"openid": "o-1", "session_key": "c2Vzc2lvbg=="})

    session = await wechat(platform).code2session("js-code")

    assert session.raw == {"openid": "o-1"}
    assert session.unionid is None
    assert "c2Vzc2lvbg" not in repr(session)


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (40029, "invalid_code"),
        (40163, "code_used"),
        (40125, "invalid_credentials"),
        (40013, "invalid_appid"),
        (45011, "rate_limited"),
        (-1, "unavailable"),
        (40226, "other"),
    ],
)
async def test_login_errcodes_become_stable_kinds(wechat, errcode, kind):
    platform = FakePlatform({"errcode": errcode, "errmsg": "scripted, rid: 1"})

    with pytest.raises(PlatformError) as caught:
        await wechat(platform).code2session("js-code")

    error = caught.value
    assert (error.platform, error.kind, error.errcode) == ("wechat", kind, errcode)
    assert error.message == "scripted, rid: 1"
    assert error.http_status == 200


async def test_a_reused_code_is_reported_as_code_used(wechat):
    platform = FakePlatform({"errcode": 40163, "errmsg": "code been used, rid: 2"})

    with pytest.raises(PlatformError, match="code_used"):
        await wechat(platform).code2session("js-code")


async def test_an_answer_without_openid_is_a_bad_response(wechat):
    with pytest.raises(PlatformError) as caught:
        await wechat(FakePlatform({"session_key": "c2Vzc2lvbg=="})).code2session("js-code")

    assert caught.value.kind == "bad_response"


@pytest.mark.parametrize(
    "platform",
    [
        FakePlatform(error=httpx.ConnectTimeout),
        FakePlatform(error=httpx.ConnectError),
        FakePlatform({"errcode": 0}, status=502),
        FakePlatform(text="<html>gateway timeout</html>"),
    ],
    ids=["timeout", "connection refused", "HTTP 502", "not JSON"],
)
async def test_network_trouble_is_reported_as_unavailable(wechat, platform):
    with pytest.raises(PlatformError) as caught:
        await wechat(platform).code2session("js-code")

    assert (caught.value.platform, caught.value.kind) == ("wechat", "unavailable")


async def test_the_stable_access_token_is_requested_as_json(wechat):
    platform = FakePlatform({"access_token": "token-1", "expires_in": 7200})

    token = await wechat(platform).get_access_token()

    assert token == AccessToken("token-1", 7200)
    assert "token-1" not in repr(token)
    assert (platform.request.method, platform.request.url.path) == ("POST", "/cgi-bin/stable_token")
    assert platform.sent_json == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }


async def test_a_forced_refresh_asks_for_a_new_stable_token(wechat):
    platform = FakePlatform({"access_token": "token-2", "expires_in": 7200})

    await wechat(platform).get_access_token(force_refresh=True)

    assert platform.sent_json["force_refresh"] is True


async def test_the_classic_access_token_is_a_get(wechat):
    platform = FakePlatform({"access_token": "token-3", "expires_in": 7200})

    token = await wechat(platform).get_access_token(stable=False)

    assert token.value == "token-3"
    assert platform.request.url.path == "/cgi-bin/token"
    assert dict(platform.request.url.params) == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
    }


def test_a_forced_refresh_of_the_classic_token_is_refused():
    with httpx.Client() as http, pytest.raises(ValueError, match="stable"):
        WeChatClient(APPID, SECRET, http=http).get_access_token(stable=False, force_refresh=True)


async def test_a_wrong_secret_on_the_token_endpoint_is_invalid_credentials(wechat):
    platform = FakePlatform({"errcode": 40125, "errmsg": "invalid appsecret"})

    with pytest.raises(PlatformError) as caught:
        await wechat(platform).get_access_token()

    assert caught.value.kind == "invalid_credentials"


async def test_a_phone_code_is_exchanged_for_the_number(wechat):
    platform = FakePlatform(
        {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": "+86 13800000000",
                "purePhoneNumber": "13800000000",
                "countryCode": 86,
                "watermark": {"timestamp": 1637744274, "appid": APPID},
            },
        }
    )

    phone = await wechat(platform).get_phone_number("phone-code", "token-1")

    assert (phone.phone_number, phone.pure_phone_number, phone.country_code) == (
        "+86 13800000000",
        "13800000000",
        "86",
    )
    assert (phone.appid, phone.timestamp) == (APPID, 1637744274)
    assert "13800000000" not in repr(phone)
    assert platform.request.url.path == "/wxa/business/getuserphonenumber"
    assert platform.request.url.params["access_token"] == "token-1"
    assert platform.sent_json == {"code": "phone-code"}


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
async def test_a_stale_access_token_asks_the_caller_to_refresh_and_retry(wechat, errcode):
    platform = FakePlatform({"errcode": errcode, "errmsg": "access_token expired"})

    with pytest.raises(PlatformError) as caught:
        await wechat(platform).get_phone_number("phone-code", "old-token")

    assert caught.value.errcode == errcode
    assert caught.value.access_token_rejected


async def test_an_invalid_phone_code_is_not_a_token_problem(wechat):
    platform = FakePlatform({"errcode": 40029, "errmsg": "invalid code"})

    with pytest.raises(PlatformError) as caught:
        await wechat(platform).get_phone_number("phone-code", "token-1")

    assert caught.value.kind == "invalid_code"
    assert not caught.value.access_token_rejected


async def test_a_phone_number_for_another_app_is_refused(wechat):
    info = {"phoneNumber": "13800000000", "watermark": {"appid": "wx-other", "timestamp": 1}}
    platform = FakePlatform({"errcode": 0, "phone_info": info})

    with pytest.raises(PlatformError) as caught:
        await wechat(platform).get_phone_number("phone-code", "token-1")

    assert caught.value.kind == "watermark_mismatch"


async def test_an_answer_without_phone_info_is_a_bad_response(wechat):
    with pytest.raises(PlatformError) as caught:
        await wechat(FakePlatform({"errcode": 0})).get_phone_number("phone-code", "token-1")

    assert caught.value.kind == "bad_response"
