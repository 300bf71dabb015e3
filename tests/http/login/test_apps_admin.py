"""Admins register apps; secrets go in sealed and never come back out."""

from __future__ import annotations

import httpx

from minibase.platforms.alipay.crypto import generate_rsa_keypair
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

SECRET = "0123456789abcdef0123456789abcdef"


async def test_an_app_is_registered_and_its_secret_never_returned(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
) -> None:
    created = await client.post(
        "/api/admin/apps",
        headers=admin.headers,
        json={"platform": "wechat", "appid": "wx1111", "name": "Shop", "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    assert created.json()["has_secret"] is True
    listed = await client.get("/api/admin/apps", headers=admin.headers)
    one = await client.get("/api/admin/apps/wechat/wx1111", headers=admin.headers)
    for answer in (created, listed, one):
        assert SECRET not in answer.text
    stored = await services.db.fetch_value("SELECT credentials FROM platform_apps")
    assert SECRET not in stored


async def test_an_app_can_be_renamed_rotated_and_removed(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
) -> None:
    await client.post(
        "/api/admin/apps",
        headers=admin.headers,
        json={"platform": "wechat", "appid": "wx1111", "secret": SECRET},
    )
    changed = await client.patch(
        "/api/admin/apps/wechat/wx1111",
        headers=admin.headers,
        json={"name": "Club", "secret": "a-new-secret"},
    )
    assert changed.json()["name"] == "Club"
    app = await services.apps.get("wechat", "wx1111")
    assert app.credentials.secret == "a-new-secret"
    removed = await client.delete("/api/admin/apps/wechat/wx1111", headers=admin.headers)
    assert removed.status_code == 204
    gone = await client.get("/api/admin/apps/wechat/wx1111", headers=admin.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "apps.not_found")


async def test_bad_app_definitions_are_refused_with_apps_invalid(
    client: httpx.AsyncClient,
    admin: Actor,
) -> None:
    _, public_key = generate_rsa_keypair()
    for body in (
        {"platform": "myspace", "appid": "x", "secret": "s"},
        {"platform": "wechat", "appid": "bad id!", "secret": "s"},
        {"platform": "wechat", "appid": "wx1"},  # no secret
        {"platform": "alipay", "appid": "2021"},  # no private key
        {"platform": "alipay", "appid": "2021", "private_key": "not a key"},
        {"platform": "alipay", "appid": "2021", "private_key": public_key},
        {"platform": "wechat", "appid": "wx1", "secret": "s", "colour": "red"},
        {"platform": "wechat", "appid": "wx1", "secret": 5},
    ):
        answer = await client.post("/api/admin/apps", headers=admin.headers, json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "apps.invalid"), body
    duplicate = {"platform": "wechat", "appid": "wx1", "secret": "s"}
    await client.post("/api/admin/apps", headers=admin.headers, json=duplicate)
    again = await client.post("/api/admin/apps", headers=admin.headers, json=duplicate)
    assert (again.status_code, again.json()["code"]) == (409, "apps.exists")


async def test_a_null_platform_or_appid_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    for body in (
        {"platform": "wechat", "appid": None, "secret": "s"},
        {"platform": None, "appid": "wx1", "secret": "s"},
    ):
        answer = await client.post("/api/admin/apps", headers=admin.headers, json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "apps.invalid"), body
    assert await services.db.fetch_value("SELECT COUNT(*) FROM platform_apps") == 0


async def test_only_admins_manage_apps(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    assert (await client.get("/api/admin/apps")).status_code == 401
    assert (await client.get("/api/admin/apps", headers=user.headers)).status_code == 403
