"""URL schemes and URL links over HTTP: an admin (or a cloud function) asks for one and gets
what the platform (the sandbox) issued, with when it stops working; bad targets and expiries
are refused before any call, a page the published app lacks is `links.invalid_path`, and the
daily quota is a clear 503."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.http.pay.conftest import load_functions
from tests.messaging.conftest import OffsetClock

APPID = "wx-links"


async def _app(register_app: RegisterApp, sandbox: SandboxClient) -> None:
    await register_app("wechat", APPID)
    await sandbox.publish_pages(APPID, ["pages/index/index", "pages/shop/item"])


async def _post(client: httpx.AsyncClient, admin: Actor, kind: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/admin/links/{kind}", json=body, headers=admin.headers)


async def _link_calls(sandbox: SandboxClient) -> int:
    calls = (await sandbox.calls()).get("wechat", {})
    return calls.get("/wxa/generatescheme", 0) + calls.get("/wxa/generate_urllink", 0)


async def test_a_scheme_and_a_link_are_what_the_platform_issued(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    clock: OffsetClock,
) -> None:
    await _app(register_app, sandbox)
    scheme = await _post(
        client, admin, "scheme", appid=APPID, path="pages/shop/item", query="id=42",
        expire_interval=7,
    )  # fmt: skip
    assert scheme.status_code == 201, scheme.text
    openlink = scheme.json()["openlink"]
    assert openlink.startswith("weixin://dl/business/?t=")
    when = int(clock.now().timestamp()) + 3600
    link = await _post(client, admin, "url-link", appid=APPID, query="id=43", expire_time=when)
    assert link.status_code == 201, link.text
    assert link.json()["url_link"].startswith("https://wxaurl.cn/")
    assert link.json()["expire_time"] == when
    issued = await sandbox.wechat_links()
    assert [(i["kind"], i["link"], i["path"], i["query"]) for i in issued] == [
        ("scheme", openlink, "pages/shop/item", "id=42"),
        ("url_link", link.json()["url_link"], "", "id=43"),
    ]
    assert issued[1]["expire_time"] == when
    # the sandbox counts the 7 days by its own clock, a moment apart from ours
    assert abs(issued[0]["expire_time"] - scheme.json()["expire_time"]) <= 2


async def test_bad_targets_and_expiries_are_refused_before_any_call(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    clock: OffsetClock,
) -> None:
    await _app(register_app, sandbox)
    now = int(clock.now().timestamp())
    for body in (
        {},
        {"appid": APPID, "path": "pages/index/index?x=1"},
        {"appid": APPID, "query": "a=<b>"},
        {"appid": APPID, "query": "q" * 1025},
        {"appid": APPID, "env_version": "beta"},
        {"appid": APPID, "expire_time": now + 31 * 86400},
        {"appid": APPID, "expire_time": now + 30},
        {"appid": APPID, "expire_interval": 0},
        {"appid": APPID, "expire_interval": 31},
        {"appid": APPID, "expire_time": now + 3600, "expire_interval": 1},
        {"appid": APPID, "jump_wxa": {"path": "pages/index/index"}},
        {"appid": APPID, "path": False},
        {"appid": APPID, "query": 0},
    ):
        for kind in ("scheme", "url-link"):
            refused = await _post(client, admin, kind, **body)
            assert (refused.status_code, refused.json()["code"]) == (400, "links.invalid"), body
    anonymous = await client.post("/api/admin/links/scheme", json={"appid": APPID})
    assert anonymous.status_code == 401
    assert await _link_calls(sandbox) == 0


async def test_a_path_the_published_app_lacks_and_the_quota_are_clear_errors(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await _app(register_app, sandbox)
    missing = await _post(client, admin, "url-link", appid=APPID, path="pages/draft")
    assert (missing.status_code, missing.json()["code"]) == (400, "links.invalid_path")
    assert missing.json()["details"]["errcode"] == 40165
    await sandbox.rate_limit("wechat", APPID, 0)
    quota = await _post(client, admin, "scheme", appid=APPID)
    assert (quota.status_code, quota.json()["code"]) == (503, "platform.rate_limited")
    await sandbox.rate_limit("wechat", APPID, 1000)
    await sandbox.outage("wechat", "system_busy")
    busy = await _post(client, admin, "scheme", appid=APPID)
    assert (busy.status_code, busy.json()["code"]) == (503, "platform.unavailable")
    assert busy.json()["details"]["errcode"] == -1
    assert await sandbox.wechat_links() == []


SHARES_A_LINK = """
from minibase.functions import function

@function(auth="user")
async def share_link(ctx, input):
    return await ctx.links.url_link("wx-links", path="pages/shop/item", query=f"id={input['id']}")
"""


async def test_a_cloud_function_makes_a_link(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    make_user: Any,
) -> None:
    await _app(register_app, sandbox)
    load_functions(services, SHARES_A_LINK)
    user = await make_user()
    called = await client.post("/api/functions/share_link", json={"id": 9}, headers=user.headers)
    assert called.status_code == 200, called.text
    made = called.json()["result"]
    assert [i["link"] for i in await sandbox.wechat_links()] == [made["url_link"]]
    assert (made["path"], made["query"]) == ("pages/shop/item", "id=9")
