"""Mini program codes over HTTP: an admin asks for one, gets a PNG made by the platform (the
sandbox) once and kept in the database; the same parameters — however written, however many
requests at once — never reach the platform again. Bad parameters are refused before any call,
and the platform's refusals, quota and outages are clear errors that store nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from minibase.config import Settings
from minibase.messaging.qrcodes import check_code, params_hash
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.png import decode_png
from minibase.testing.sandbox import SandboxClient
from tests.http.pay.conftest import load_functions
from tests.messaging.conftest import OffsetClock

APPID = "wx-codes"
CODE = {"appid": APPID, "scene": "id=42", "page": "pages/shop/item", "width": 300}


async def _app(register_app: RegisterApp, sandbox: SandboxClient) -> None:
    await register_app("wechat", APPID)
    await sandbox.publish_pages(APPID, ["pages/index/index", "pages/shop/item"])


async def _code(client: httpx.AsyncClient, admin: Actor, **body: Any) -> httpx.Response:
    return await client.post("/api/admin/qrcodes", json=body, headers=admin.headers)


async def _platform_calls(sandbox: SandboxClient) -> int:
    return (await sandbox.calls()).get("wechat", {}).get("/wxa/getwxacodeunlimit", 0)


async def _kept(services: Services) -> int:
    return int(await services.db.fetch_value("SELECT COUNT(*) FROM qr_codes"))


async def test_a_code_is_made_once_and_then_served_from_the_database(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await _app(register_app, sandbox)
    colour = {"r": 7, "g": 193, "b": 96}
    made = await _code(client, admin, **CODE, line_color=colour)
    assert made.status_code == 201, made.text
    assert made.headers["content-type"] == "image/png"
    png = decode_png(made.content)
    assert (png.width, png.text["scene"], png.text["page"]) == (300, "id=42", "pages/shop/item")
    assert png.colours == {(7, 193, 96), (255, 255, 255)}
    code_id, etag = made.headers["x-qr-code-id"], made.headers["etag"]
    assert made.headers["location"] == f"/api/admin/qrcodes/{code_id}"
    assert "immutable" in made.headers["cache-control"]

    again = await _code(client, admin, **CODE, line_color=colour)
    assert (again.status_code, again.headers["x-qr-code-id"]) == (200, code_id)
    assert again.content == made.content
    assert await _platform_calls(sandbox) == 1

    kept = await client.get(f"/api/admin/qrcodes/{code_id}", headers=admin.headers)
    assert (kept.status_code, kept.content, kept.headers["etag"]) == (200, made.content, etag)
    fresh = await client.get(
        f"/api/admin/qrcodes/{code_id}", headers={**admin.headers, "If-None-Match": etag}
    )
    assert (fresh.status_code, fresh.content) == (304, b"")
    missing = await client.get("/api/admin/qrcodes/nope", headers=admin.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "qrcodes.not_found")


async def test_the_same_parameters_written_differently_are_one_code(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await _app(register_app, sandbox)
    short = await _code(client, admin, appid=APPID, scene="a")
    spelled_out = await _code(
        client, admin, appid=APPID, scene="a", width=430, check_path=True,
        env_version="release", line_color={"r": 0, "g": 0, "b": 0}, is_hyaline=False,
    )  # fmt: skip
    assert short.headers["x-qr-code-id"] == spelled_out.headers["x-qr-code-id"]
    auto = await _code(client, admin, appid=APPID, scene="a", auto_color=True)
    auto_red = await _code(
        client,
        admin,
        appid=APPID,
        scene="a",
        auto_color=True,
        line_color={"r": 255, "g": 0, "b": 0},
    )  # the platform picks the colour: the line colour does not matter then
    assert auto.headers["x-qr-code-id"] == auto_red.headers["x-qr-code-id"]
    wider = await _code(client, admin, appid=APPID, scene="a", width=431)
    ids = {r.headers["x-qr-code-id"] for r in (short, auto, wider)}
    assert len(ids) == 3
    assert await _platform_calls(sandbox) == 3


async def test_requests_at_once_make_one_platform_call_and_one_row(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await _app(register_app, sandbox)
    answers = await asyncio.gather(*(_code(client, admin, **CODE) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.headers["x-qr-code-id"] for a in answers}) == 1
    assert await _platform_calls(sandbox) == 1
    assert await _kept(services) == 1


async def test_two_processes_on_one_database_make_one_platform_call(
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    settings: Settings,
    clock: OffsetClock,
) -> None:
    await _app(register_app, sandbox)
    other = await open_services(settings, clock=clock)  # a second server on the same database
    try:
        made = await asyncio.gather(
            *(process.qrcodes.make(CODE) for process in (services, other) for _ in range(3))
        )
    finally:
        await other.close()
    assert len({code.id for code in made}) == 1
    assert sum(code.made for code in made) == 1
    assert await _platform_calls(sandbox) == 1
    assert await _kept(services) == 1


async def test_a_claim_left_by_a_dead_process_is_taken_over_after_its_lease(
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    clock: OffsetClock,
) -> None:
    await _app(register_app, sandbox)
    appid, params = check_code(CODE)
    async with services.db.transaction() as conn:  # what a process that died mid-call leaves
        await conn.execute(
            "INSERT INTO qr_codes (id, platform, appid, params_hash, params, maker, making_until,"
            f" created) VALUES ('dead', 'wechat', ?, ?, {conn.dialect.json_param()}, 'gone', ?,"
            " '2026-01-01T00:00:00Z')",
            appid,
            params_hash(params),
            orjson.dumps(params).decode(),
            clock.now().timestamp() + services.qrcodes.lease,
        )
    waiting = asyncio.create_task(services.qrcodes.make(CODE))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # the claim is still someone else's
    assert await _platform_calls(sandbox) == 0
    clock.advance(seconds=services.qrcodes.lease + 1)
    code = await asyncio.wait_for(waiting, 10)
    assert (code.id, code.made) == ("dead", True)
    assert await _platform_calls(sandbox) == 1


async def test_bad_parameters_are_refused_before_any_call_and_nothing_is_stored(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await _app(register_app, sandbox)
    for body in (
        {"scene": "a"},
        {"appid": APPID},
        {"appid": APPID, "scene": "x" * 33},
        {"appid": APPID, "scene": "中文"},
        {"appid": APPID, "scene": "a", "page": "/pages/index/index"},
        {"appid": APPID, "scene": "a", "page": "pages/index/index?x=1"},
        {"appid": APPID, "scene": "a", "width": 1281},
        {"appid": APPID, "scene": "a", "width": "430"},
        {"appid": APPID, "scene": "a", "page": {}},
        {"appid": APPID, "scene": "a", "env_version": "beta"},
        {"appid": APPID, "scene": "a", "line_color": {"r": 256, "g": 0, "b": 0}},
        {"appid": APPID, "scene": "a", "is_hyaline": "yes"},
        {"appid": APPID, "scene": "a", "colour": "red"},
    ):
        refused = await _code(client, admin, **body)
        assert (refused.status_code, refused.json()["code"]) == (400, "qrcodes.invalid"), body
    unknown = await _code(client, admin, appid="wx-other", scene="a")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "apps.not_found")
    anonymous = await client.post("/api/admin/qrcodes", json=CODE)
    assert anonymous.status_code == 401
    assert await _platform_calls(sandbox) == 0
    assert await _kept(services) == 0


async def test_a_page_the_published_app_lacks_is_refused_unless_check_path_is_off(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await _app(register_app, sandbox)
    refused = await _code(client, admin, appid=APPID, scene="a", page="pages/draft")
    assert refused.status_code == 400
    assert refused.json()["code"] == "qrcodes.invalid_page"
    assert refused.json()["details"]["errcode"] == 41030
    assert await _kept(services) == 0
    unchecked = await _code(
        client, admin, appid=APPID, scene="a", page="pages/draft", check_path=False
    )
    assert unchecked.status_code == 201
    assert decode_png(unchecked.content).text["page"] == "pages/draft"


async def test_quota_and_outages_are_clear_errors_and_store_nothing(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await _app(register_app, sandbox)
    await services.access_tokens.get(await services.apps.get("wechat", APPID))
    await sandbox.rate_limit("wechat", APPID, 0)
    quota = await _code(client, admin, **CODE)
    assert (quota.status_code, quota.json()["code"]) == (503, "platform.rate_limited")
    assert quota.json()["details"]["errcode"] == 45009
    await sandbox.rate_limit("wechat", APPID, 1000)
    for mode, extra in (("http_500", {}), ("bad_json", {}), ("timeout", {"seconds": 3})):
        await sandbox.outage("wechat", mode, **extra)
        down = await _code(client, admin, **CODE)
        assert (down.status_code, down.json()["code"]) == (503, "platform.unavailable"), mode
    assert await _kept(services) == 0
    back = await _code(client, admin, **CODE)
    assert back.status_code == 201
    assert await _kept(services) == 1


async def test_a_refused_token_is_replaced_once_and_the_code_made(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await _app(register_app, sandbox)
    assert (await _code(client, admin, appid=APPID, scene="first")).status_code == 201
    forced = await sandbox._http.post(  # another system forces a new token: ours is refused
        "/wechat/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": APPID,
            "secret": "s3cret-for-tests",
            "force_refresh": True,
        },
    )
    assert "access_token" in forced.json()
    assert (await _code(client, admin, appid=APPID, scene="second")).status_code == 201
    assert await _platform_calls(sandbox) == 3  # first, second refused (40001), second again


MAKES_A_CODE = """
from minibase.functions import function

@function(auth="user")
async def invite_code(ctx, input):
    code = await ctx.links.qrcode("wx-codes", f"u={input['n']}", page="pages/shop/item")
    return {**code.to_json(), "bytes": len(code.image)}
"""


async def test_a_cloud_function_makes_a_code_that_admins_can_fetch(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
    make_user: Any,
) -> None:
    await _app(register_app, sandbox)
    load_functions(services, MAKES_A_CODE)
    user = await make_user()
    called = await client.post("/api/functions/invite_code", json={"n": 7}, headers=user.headers)
    assert called.status_code == 200, called.text
    made = called.json()["result"]
    assert (made["scene"], made["page"], made["content_type"]) == (
        "u=7",
        "pages/shop/item",
        "image/png",
    )
    image = await client.get(made["url"], headers=admin.headers)
    assert len(image.content) == made["bytes"] == made["size"]
    assert decode_png(image.content).text["scene"] == "u=7"


async def test_the_openapi_document_says_the_answer_is_an_image(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    made = document["paths"]["/api/admin/qrcodes"]["post"]["responses"]
    assert list(made["201"]["content"]) == ["image/png"]
    assert document["paths"]["/api/admin/qrcodes"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["required"] == ["appid", "scene"]


async def test_kept_codes_are_listed_newest_first_with_their_parameters_but_not_their_images(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Actor,
) -> None:
    await _app(register_app, sandbox)
    await register_app("wechat", "wx-other")
    ids = [
        (await _code(client, admin, appid=APPID, scene=f"id={n}")).headers["x-qr-code-id"]
        for n in range(3)
    ]
    other = (await _code(client, admin, appid="wx-other", scene="x")).headers["x-qr-code-id"]
    async with services.db.transaction() as conn:  # a code another process is still making
        await conn.execute(
            "INSERT INTO qr_codes (id, platform, appid, params_hash, params, maker, making_until,"
            f" created) VALUES ('~making', 'wechat', ?, 'h', {conn.dialect.json_param()}, 'p',"
            " 0, '2026-01-01T00:00:00Z')",
            APPID,
            orjson.dumps({"scene": "soon"}).decode(),
        )
    codes = "/api/admin/qrcodes"

    page = await client.get(codes, params={"limit": "2"}, headers=admin.headers)
    assert page.status_code == 200, page.text
    assert [code["id"] for code in page.json()["items"]] == [other, ids[2]]
    rest = await client.get(
        codes, params={"limit": "2", "before": page.json()["next_before"]}, headers=admin.headers
    )
    assert [code["id"] for code in rest.json()["items"]] == [ids[1], ids[0]]
    assert rest.json()["next_before"] is None
    in_app = await client.get(codes, params={"appid": APPID}, headers=admin.headers)
    assert [code["id"] for code in in_app.json()["items"]] == ids[::-1]

    listed = in_app.json()["items"][0]
    image = await client.get(listed["url"], headers=admin.headers)
    assert listed == {
        "id": ids[2],
        "appid": APPID,
        "scene": "id=2",
        "page": None,
        "check_path": True,
        "env_version": "release",
        "width": 430,
        "auto_color": False,
        "line_color": {"r": 0, "g": 0, "b": 0},
        "is_hyaline": False,
        "content_type": "image/png",
        "etag": image.headers["etag"],
        "size": len(image.content),
        "created": listed["created"],
        "url": f"/api/admin/qrcodes/{ids[2]}",
    }
