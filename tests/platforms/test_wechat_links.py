"""Codes and links in the WeChat client, sync and async, against a scripted platform: what is
sent, an image told from an errcode by its content type, and answers of the wrong shape."""

from __future__ import annotations

import json

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from tests.platforms.fakes import Driver, FakePlatform

JPEG = b"\xff\xd8\xff\xe0 a jpeg, as WeChat sometimes labels its codes"


@pytest.fixture
def wechat(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: WeChatClient("wx-1", "s", base_url="https://wx.test", http=http),
        lambda http: AsyncWeChatClient("wx-1", "s", base_url="https://wx.test", http=http),
    )


class ImagePlatform(FakePlatform):
    def __init__(self, content: bytes, content_type: str) -> None:
        super().__init__()
        self.content, self.content_type = content, content_type

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            200, content=self.content, headers={"content-type": self.content_type}
        )


async def test_a_code_sends_only_what_was_given_and_returns_the_image(wechat: Driver) -> None:
    platform = ImagePlatform(JPEG, "image/jpeg")
    code = await wechat(platform).get_unlimited_qrcode(
        "TOKEN", scene="id=1", width=300, line_color={"r": 1, "g": 2, "b": 3}
    )
    assert (code.content_type, code.data) == ("image/jpeg", JPEG)
    request = platform.request
    assert (request.method, request.url.path) == ("POST", "/wxa/getwxacodeunlimit")
    assert request.url.params["access_token"] == "TOKEN"
    assert json.loads(request.content) == {
        "scene": "id=1",
        "width": 300,
        "line_color": {"r": 1, "g": 2, "b": 3},
    }


async def test_a_refused_code_is_its_errcode_whatever_the_content_type(wechat: Driver) -> None:
    for content_type in ("application/json; charset=utf-8", "text/plain"):
        body = b'{"errcode": 41030, "errmsg": "invalid page rid: 1"}'
        with pytest.raises(PlatformError) as refused:
            await wechat(ImagePlatform(body, content_type)).get_unlimited_qrcode("T", scene="a")
        assert (refused.value.errcode, refused.value.kind) == (41030, "other")
    with pytest.raises(PlatformError) as quota:
        await wechat(FakePlatform({"errcode": 45009, "errmsg": "quota"})).get_unlimited_qrcode(
            "T", scene="a"
        )
    assert quota.value.kind == "rate_limited"


async def test_answers_of_the_wrong_shape_are_bad_responses(wechat: Driver) -> None:
    for platform in (
        ImagePlatform(b"", "image/png"),  # an empty image
        FakePlatform({"errcode": 0, "errmsg": "ok"}),  # JSON without an image or errcode
    ):
        with pytest.raises(PlatformError) as broken:
            await wechat(platform).get_unlimited_qrcode("T", scene="a")
        assert broken.value.kind == "bad_response"
    with pytest.raises(PlatformError) as no_link:
        await wechat(FakePlatform({"errcode": 0, "errmsg": "ok"})).generate_url_link("T")
    assert no_link.value.kind == "bad_response"


async def test_a_scheme_and_a_link_send_their_target_and_expiry(wechat: Driver) -> None:
    scheme = FakePlatform({"errcode": 0, "errmsg": "ok", "openlink": "weixin://dl/business/?t=x"})
    opened = await wechat(scheme).generate_scheme(
        "T", path="pages/a", query="q=1", expire_type=1, expire_interval=3
    )
    assert opened == "weixin://dl/business/?t=x"
    assert scheme.request.url.path == "/wxa/generatescheme"
    assert scheme.sent_json == {
        "jump_wxa": {"path": "pages/a", "query": "q=1"},
        "is_expire": True,
        "expire_type": 1,
        "expire_interval": 3,
    }
    link = FakePlatform({"errcode": 0, "errmsg": "ok", "url_link": "https://wxaurl.cn/x"})
    linked = await wechat(link).generate_url_link("T", env_version="trial", expire_time=1900000000)
    assert linked == "https://wxaurl.cn/x"
    assert link.request.url.path == "/wxa/generate_urllink"
    assert link.sent_json == {"env_version": "trial", "is_expire": True, "expire_time": 1900000000}
