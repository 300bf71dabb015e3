"""Mini program codes, URL schemes and URL links in the sandbox, through the SDK: a code is a
real PNG of the asked width that carries its scene and page and is drawn in the asked colour;
the platform's refusals (40169, 40129, 41030, 40097, 40165, 40212, 85401, 85402, 45009,
40001) come back as WeChat gives them; issued links are remembered with their expiry."""

from __future__ import annotations

import httpx
import pytest

from minibase.clock import FrozenClock
from minibase.platforms import PlatformError
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from minibase.sandbox import Sandbox
from minibase.testing.png import decode_png
from minibase.testing.sandbox import SandboxProcess

PAGES = ["pages/index/index", "pages/shop/item"]


@pytest.fixture
async def wechat(sandbox: Sandbox, client: httpx.AsyncClient) -> AsyncWeChatClient:
    sandbox.register_app("wechat", "wx-codes", secret="codes-secret")
    sandbox.publish_pages("wx-codes", PAGES)
    return AsyncWeChatClient(
        "wx-codes", "codes-secret", base_url="http://sandbox/wechat", http=client
    )


@pytest.fixture
async def token(wechat: AsyncWeChatClient) -> str:
    return (await wechat.get_access_token()).value


async def _refused(call: object) -> object:
    with pytest.raises(PlatformError) as refused:
        await call  # type: ignore[misc]
    return refused.value.errcode


async def test_a_code_is_a_png_of_the_asked_width_carrying_scene_page_and_colour(
    wechat: AsyncWeChatClient, token: str
) -> None:
    code = await wechat.get_unlimited_qrcode(
        token, scene="id=42&from=poster", page="pages/shop/item", width=300,
        line_color={"r": 200, "g": 30, "b": 60},
    )  # fmt: skip
    assert code.content_type == "image/png"
    png = decode_png(code.data)
    assert (png.width, png.height, png.has_alpha) == (300, 300, False)
    assert png.text["scene"] == "id=42&from=poster"
    assert png.text["page"] == "pages/shop/item"
    assert png.colours == {(200, 30, 60), (255, 255, 255)}


async def test_defaults_hyaline_and_auto_colour(wechat: AsyncWeChatClient, token: str) -> None:
    plain = decode_png((await wechat.get_unlimited_qrcode(token, scene="a")).data)
    assert (plain.width, plain.text["page"], plain.text["env_version"]) == (
        430,
        "pages/index/index",  # no page: the home page
        "release",
    )
    assert plain.colours == {(0, 0, 0), (255, 255, 255)}
    clear = decode_png((await wechat.get_unlimited_qrcode(token, scene="a", is_hyaline=True)).data)
    assert clear.has_alpha
    assert (255, 255, 255, 0) in clear.colours
    auto = decode_png((await wechat.get_unlimited_qrcode(token, scene="a", auto_color=True)).data)
    assert auto.text["auto_color"] == "true"
    assert auto.colours - {(255, 255, 255)} != {(0, 0, 0)}


async def test_two_scenes_draw_two_different_codes(wechat: AsyncWeChatClient, token: str) -> None:
    one = await wechat.get_unlimited_qrcode(token, scene="u=1")
    other = await wechat.get_unlimited_qrcode(token, scene="u=2")
    again = await wechat.get_unlimited_qrcode(token, scene="u=1")
    assert one.data != other.data
    assert one.data == again.data


async def test_the_code_refusals(wechat: AsyncWeChatClient, token: str, sandbox: Sandbox) -> None:
    make = wechat.get_unlimited_qrcode
    assert await _refused(make(token, scene="")) == 40169
    assert await _refused(make(token, scene="x" * 33)) == 40169
    assert await _refused(make(token, scene="中文")) == 40129
    assert await _refused(make(token, scene="a", page="pages/missing")) == 41030
    assert await _refused(make(token, scene="a", page="/pages/index/index")) == 41030
    assert await _refused(make(token, scene="a", env_version="beta")) == 40097
    assert await _refused(make(token, scene="a", width=279)) == 40097
    assert await _refused(make(token, scene="a", line_color={"r": 300, "g": 0, "b": 0})) == 40097
    unpublished = await make(token, scene="a", page="pages/draft", check_path=False)
    assert decode_png(unpublished.data).text["page"] == "pages/draft"
    assert await _refused(make("not-a-token", scene="a")) == 40001
    sandbox.rate_limit("wechat", "wx-codes", 0)
    assert await _refused(make(token, scene="a")) == 45009


async def test_a_scheme_and_a_link_are_remembered_with_their_expiry(
    wechat: AsyncWeChatClient, token: str, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    now = int(clock.now().timestamp())
    scheme = await wechat.generate_scheme(
        token, path="pages/shop/item", query="id=42", expire_type=1, expire_interval=7
    )
    assert scheme.startswith("weixin://dl/business/?t=")
    link = await wechat.generate_url_link(
        token, path="/pages/shop/item", query="id=43", expire_time=now + 3600
    )
    assert link.startswith("https://wxaurl.cn/")
    issued = (await client.get("/control/wechat/links")).json()["items"]
    assert [(i["kind"], i["link"], i["query"], i["expire_time"]) for i in issued] == [
        ("scheme", scheme, "id=42", now + 7 * 86400),
        ("url_link", link, "id=43", now + 3600),
    ]
    home = await wechat.generate_url_link(token)
    assert (await client.get("/control/wechat/links")).json()["items"][-1] == {
        "kind": "url_link", "appid": "wx-codes", "link": home, "path": "", "query": "",
        "env_version": "release", "expire_time": now + 30 * 86400,
    }  # fmt: skip


async def test_the_link_refusals(wechat: AsyncWeChatClient, token: str, clock: FrozenClock) -> None:
    now = int(clock.now().timestamp())
    for generate in (wechat.generate_scheme, wechat.generate_url_link):
        assert await _refused(generate(token, path="pages/missing")) == 40165
        assert await _refused(generate(token, query="a=<b>")) == 40212
        assert await _refused(generate(token, query="a" * 1025)) == 40212
        assert await _refused(generate(token, expire_time=now + 31 * 86400)) == 85401
        assert await _refused(generate(token, expire_time=now + 30)) == 85401
        assert await _refused(generate(token, expire_type=1, expire_interval=31)) == 85402
        assert await _refused(generate(token, env_version="beta")) == 40097


@pytest.fixture
def sandbox_url(_sandbox_process: SandboxProcess) -> str:
    """The standalone sandbox process on loopback (the plugin's, shared by the session)."""
    return _sandbox_process.url


def test_the_sync_client_over_a_socket(sandbox_url: str) -> None:
    with httpx.Client(base_url=sandbox_url, timeout=5) as control:
        control.post("/control/reset").raise_for_status()
        control.post(
            "/control/apps", json={"platform": "wechat", "appid": "wx-sync", "secret": "s"}
        ).raise_for_status()
    with WeChatClient("wx-sync", "s", base_url=f"{sandbox_url}/wechat") as wechat:
        token = wechat.get_access_token().value
        png = decode_png(wechat.get_unlimited_qrcode(token, scene="s=1", width=280).data)
        assert (png.width, png.text["scene"]) == (280, "s=1")
        assert wechat.generate_scheme(token).startswith("weixin://dl/business/?t=")
        with pytest.raises(PlatformError) as refused:
            wechat.generate_url_link(token, path="pages/missing")
        assert refused.value.errcode == 40165


async def test_the_control_api_publishes_pages_and_lists_codes(
    client: httpx.AsyncClient, wechat: AsyncWeChatClient, token: str
) -> None:
    published = await client.post(
        "/control/wechat/pages", json={"appid": "wx-codes", "pages": ["pages/new/home"]}
    )
    assert published.json() == {"appid": "wx-codes", "pages": ["pages/new/home"]}
    code = decode_png((await wechat.get_unlimited_qrcode(token, scene="k=v")).data)
    assert code.text["page"] == "pages/new/home"
    drawn = (await client.get("/control/wechat/codes")).json()["items"]
    assert [(c["scene"], c["page"], c["width"]) for c in drawn] == [("k=v", "pages/new/home", 430)]
    bad = await client.post("/control/wechat/pages", json={"appid": "wx-codes", "pages": ["/x"]})
    assert bad.status_code == 400
    unknown = await client.post("/control/wechat/pages", json={"appid": "wx-no", "pages": ["p"]})
    assert unknown.status_code == 404
