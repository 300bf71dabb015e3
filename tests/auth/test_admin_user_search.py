"""Admins find users by the platform identities they sign in with: `openid` or `unionid`, in
the list shape of every user search, one search at a time, read through an index."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from tests.http.admin.test_declared_indexes_are_used import query_plan
from tests.http.login.conftest import bearer, sign_in

from minibase.auth.users import list_users_statement
from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

USERS = "/api/admin/users"


async def search(client: httpx.AsyncClient, admin: Actor, **params: str) -> httpx.Response:
    return await client.get(USERS, params=params, headers=admin.headers)


def ids_of(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [user["id"] for user in answer.json()["items"]]


async def test_an_openid_finds_the_user_who_signs_in_with_it(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await register_app("wechat", "wx1111")
    await register_app("alipay", "2021000000000001")
    ann = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    await sign_in(client, sandbox, "wechat", "wx1111", "bob")
    on_alipay = await sign_in(client, sandbox, "alipay", "2021000000000001", "ann")

    found = await search(client, admin, openid=ann["identity"]["openid"])

    assert found.json() == {"items": [ann["user"]], "next_after": None}
    assert ids_of(await search(client, admin, openid=on_alipay["identity"]["openid"])) == [
        on_alipay["user"]["id"]
    ]
    assert ids_of(await search(client, admin, openid="o-nobody")) == []
    document = (await client.get("/api/openapi.json")).json()
    described = document["paths"][USERS]["get"]["responses"]["200"]
    schema = described["content"]["application/json"]["schema"]
    assert list(OAS31Validator(schema).iter_errors(found.json())) == []


async def test_a_unionid_finds_the_person_once_however_many_apps_carry_it(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await register_app("wechat", "wxshop", account="acme")
    await register_app("wechat", "wxclub", account="acme")
    shop = await sign_in(client, sandbox, "wechat", "wxshop", "ann")
    club = await sign_in(client, sandbox, "wechat", "wxclub", "ann")
    await sign_in(client, sandbox, "wechat", "wxshop", "bob")
    unionid = shop["identity"]["unionid"]
    assert unionid is not None
    assert club["identity"]["unionid"] == unionid

    found = await search(client, admin, unionid=unionid)

    (ann,) = found.json()["items"]
    assert ann["id"] == shop["user"]["id"]
    assert [identity["appid"] for identity in ann["identities"]] == ["wxshop", "wxclub"]
    assert ids_of(await search(client, admin, unionid="o-nobody")) == []


async def test_an_openid_two_apps_gave_by_chance_lists_both_users_in_pages(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    await register_app("qq", "1110001")
    ann = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    bob = await sign_in(client, sandbox, "qq", "1110001", "bob")
    carl = await sign_in(client, sandbox, "wechat", "wx1111", "carl")
    openid = ann["identity"]["openid"]
    # the platforms' ids never meet in the sandbox: the coincidence is written in
    async with services.db.transaction() as conn:
        await conn.execute(
            "UPDATE user_identities SET openid = ? WHERE user_id = ?", openid, bob["user"]["id"]
        )

    both = sorted([ann["user"]["id"], bob["user"]["id"]])
    assert ids_of(await search(client, admin, openid=openid)) == both
    first = await search(client, admin, openid=openid, limit="1")
    assert ids_of(first) == both[:1]
    assert first.json()["next_after"] == both[0]
    rest = await search(client, admin, openid=openid, limit="1", after=both[0])
    assert ids_of(rest) == both[1:]
    assert rest.json()["next_after"] is None
    assert carl["user"]["id"] not in both


async def test_one_search_at_a_time_and_never_an_empty_one(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await register_app("wechat", "wx1111")
    ann = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    openid, unionid = ann["identity"]["openid"], "u"
    for params, named in (
        ({"phone": "13800138000", "openid": openid}, "phone and openid"),
        ({"openid": openid, "unionid": unionid}, "openid and unionid"),
        ({"phone": "13800138000", "unionid": unionid}, "phone and unionid"),
    ):
        refused = await search(client, admin, **params)
        assert (refused.status_code, refused.json()["code"]) == (400, "request.invalid_query")
        assert "one of phone, openid, unionid at a time" in refused.json()["message"]
        assert named in refused.json()["message"]
    for name in ("openid", "unionid"):
        empty = await search(client, admin, **{name: ""})
        assert (empty.status_code, empty.json()["message"]) == (400, f"{name} is empty")
    unknown = await search(client, admin, open_id=openid)
    assert "after, limit, phone, openid, unionid" in unknown.json()["message"]


async def test_a_search_is_paged_like_the_list_after_included(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    await register_app("wechat", "wx1111")
    ann = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    code = await sandbox.phone_code("wx1111", "ann", "13800138000")
    bound = await client.post("/api/auth/phone", headers=bearer(ann), json={"code": code})
    assert bound.status_code == 200
    user_id = ann["user"]["id"]
    for name, value in (("phone", "13800138000"), ("openid", ann["identity"]["openid"])):
        assert ids_of(await search(client, admin, **{name: value, "after": "0"})) == [user_id]
        assert ids_of(await search(client, admin, **{name: value, "after": user_id})) == []


@pytest.mark.parametrize("column", ["openid", "unionid"])
async def test_the_search_by_openid_or_unionid_reads_an_index(
    services: Services, column: str
) -> None:
    filters: dict[str, Any] = {column: "o-someone"}
    sql, params = list_users_statement(after=None, limit=51, **filters)
    plan = await query_plan(services, sql, params)
    index = {"openid": "user_identities_openid", "unionid": "user_identities_unionid"}[column]
    assert index in plan, plan
    assert "SCAN user_identities" not in plan, plan  # SQLite: every identity read
    assert "Seq Scan" not in plan, plan  # PostgreSQL
