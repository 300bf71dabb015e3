"""Admins manage users: create them with roles and a profile, page through them, change or
disable them, and issue their tokens."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator

from minibase.testing.plugin import Actor, MakeUser

USERS = "/api/admin/users"


async def create_user(client: httpx.AsyncClient, admin: Actor, **body: Any) -> dict[str, Any]:
    response = await client.post(USERS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def refresh(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def test_an_admin_creates_a_user_with_roles_and_a_profile(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    user = await create_user(
        client, admin, roles=["editor", "vip", "editor"], profile={"nickname": "Ann"}
    )
    assert user["roles"] == ["editor", "vip"]  # repeats dropped
    assert user["profile"] == {"nickname": "Ann"}
    assert user["disabled"] is False
    assert user["created"] == user["updated"]
    fetched = await client.get(f"{USERS}/{user['id']}", headers=admin.headers)
    assert fetched.json() == {**user, "merged_from": []}  # no account merged into it


async def test_a_user_may_be_created_without_a_body(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await client.post(USERS, headers=admin.headers)
    assert response.status_code == 201
    assert response.json()["roles"] == []
    assert response.json()["profile"] == {}
    form = {**admin.headers, "Content-Type": "application/x-www-form-urlencoded"}
    empty_form = await client.post(USERS, headers=form)
    assert empty_form.status_code == 201  # no body: its type does not matter
    untyped = await client.post(USERS, headers=admin.headers, content=b'{"roles": ["vip"]}')
    assert (untyped.status_code, untyped.json()["code"]) == (415, "request.unsupported_media_type")
    document = (await client.get("/api/openapi.json")).json()
    body = document["paths"][USERS]["post"]["requestBody"]
    assert body["required"] is False
    assert set(body["content"]["application/json"]["schema"]["properties"]) == {"roles", "profile"}


async def test_roles_and_profiles_are_validated(client: httpx.AsyncClient, admin: Actor) -> None:
    for body in (
        {"roles": "editor"},
        {"roles": ["has space"]},
        {"roles": [""]},
        {"roles": [7]},
        {"roles": [f"r{i}" for i in range(33)]},
        {"profile": ["not", "an", "object"]},
        {"profile": {"bio": "x" * 9000}},
        {"disabled": True},
        ["editor"],
        [],
        0,
    ):
        response = await client.post(USERS, json=body, headers=admin.headers)
        assert codes_of(response) == (400, "request.invalid_body"), body
    listed = await client.get(USERS, headers=admin.headers)
    assert listed.json()["items"] == []


async def test_users_are_listed_in_pages(client: httpx.AsyncClient, admin: Actor) -> None:
    ids = [(await create_user(client, admin))["id"] for _ in range(5)]
    seen: list[str] = []
    pages = 0
    params = {"limit": "2"}
    while True:
        page = (await client.get(USERS, params=params, headers=admin.headers)).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(user["id"] for user in page["items"])
        if page["next_after"] is None:
            break
        assert page["next_after"] == page["items"][-1]["id"]
        params = {"limit": "2", "after": page["next_after"]}
    assert seen == sorted(ids)
    assert pages == 3  # 2 + 2 + 1: the last page says it is the last
    exact = await client.get(USERS, params={"limit": "5"}, headers=admin.headers)
    assert exact.json()["next_after"] is None  # no empty page to ask for
    for limit in ("0", "101", "ten", "-1"):
        response = await client.get(USERS, params={"limit": limit}, headers=admin.headers)
        assert codes_of(response) == (400, "request.invalid_query"), limit


async def test_the_document_describes_the_next_page_and_the_identities(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    document = (await client.get("/api/openapi.json")).json()
    answers = {
        "/api/admin/users": await client.get(USERS, params={"limit": "1"}, headers=admin.headers),
        "/api/admin/users/{id}": await client.get(f"{USERS}/{user.id}", headers=admin.headers),
        "/api/auth/me": await client.get("/api/auth/me", headers=user.headers),
    }
    for path, answer in answers.items():
        described = document["paths"][path]["get"]["responses"]["200"]
        schema = described["content"]["application/json"]["schema"]
        assert list(OAS31Validator(schema).iter_errors(answer.json())) == [], path
        user_schema = schema["properties"]["items"]["items"] if path == USERS else schema
        assert "identities" in user_schema["required"], path
    assert answers[USERS].json()["next_after"] is None
    page = document["paths"][USERS]["get"]["responses"]["200"]["content"]["application/json"]
    assert page["schema"]["properties"]["next_after"]["type"] == ["string", "null"]


async def test_an_unknown_query_parameter_is_refused_naming_the_known_ones(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create_user(client, admin)
    for params in ({"page": "2"}, {"cursor": "x"}, {"Phone": "13800138000"}, {"role": "vip"}):
        response = await client.get(USERS, params=params, headers=admin.headers)
        assert codes_of(response) == (400, "request.invalid_query"), params
        assert f"unknown query parameters [{next(iter(params))!r}]" in response.json()["message"]
        assert "after, limit, phone" in response.json()["message"]


async def test_an_unknown_user_is_not_found(client: httpx.AsyncClient, admin: Actor) -> None:
    for method, path in (
        ("GET", f"{USERS}/nobody"),
        ("PATCH", f"{USERS}/nobody"),
        ("POST", f"{USERS}/nobody/tokens"),
        ("POST", f"{USERS}/nobody/revoke"),
    ):
        body: dict[str, Any] | None = {"roles": []} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=admin.headers)
        assert codes_of(response) == (404, "users.not_found"), path


async def test_patch_changes_only_what_it_names(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user(roles=("reader",), nickname="Ann")
    response = await client.patch(
        f"{USERS}/{user.id}", json={"roles": ["editor"]}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["editor"]
    assert response.json()["profile"] == {"nickname": "Ann"}
    response = await client.patch(
        f"{USERS}/{user.id}", json={"profile": {"nickname": "Bo"}}, headers=admin.headers
    )
    assert response.json()["roles"] == ["editor"]
    assert response.json()["profile"] == {"nickname": "Bo"}
    for bad in ({"roles": "x"}, {"disabled": "yes"}, {"id": "new"}, {"created": "2020"}):
        refused = await client.patch(f"{USERS}/{user.id}", json=bad, headers=admin.headers)
        assert codes_of(refused) == (400, "request.invalid_body"), bad
    # new roles reach the user with their next token
    issued = await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert (await client.get("/api/auth/me", headers=bearer)).json()["roles"] == ["editor"]


async def test_disabling_a_user_revokes_their_refresh_tokens(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await client.patch(
        f"{USERS}/{user.id}", json={"disabled": True}, headers=admin.headers
    )
    assert response.json()["disabled"] is True
    refreshed = await refresh(client, user.refresh_token)
    assert codes_of(refreshed) == (401, "auth.invalid_refresh_token")
    issued = await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)
    assert codes_of(issued) == (403, "users.disabled")

    await client.patch(f"{USERS}/{user.id}", json={"disabled": False}, headers=admin.headers)
    issued = await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)
    assert issued.status_code == 200


async def test_an_admin_issues_a_token_pair_for_a_user(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    user = await create_user(client, admin, roles=["editor"])
    response = await client.post(f"{USERS}/{user['id']}/tokens", headers=admin.headers)
    assert response.status_code == 200
    pair = response.json()
    assert pair["user"] == user
    assert pair["token_type"] == "Bearer"
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/auth/me", headers=bearer)).json() == user
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_revoking_a_user_ends_every_session(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    other = await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)
    response = await client.post(f"{USERS}/{user.id}/revoke", headers=admin.headers)
    assert response.json() == {"revoked": 2}
    for token in (user.refresh_token, other.json()["refresh_token"]):
        assert codes_of(await refresh(client, token)) == (401, "auth.invalid_refresh_token")


async def test_user_admin_routes_need_an_admin(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    for method, path in (
        ("GET", USERS),
        ("POST", USERS),
        ("GET", f"{USERS}/{user.id}"),
        ("PATCH", f"{USERS}/{user.id}"),
        ("POST", f"{USERS}/{user.id}/tokens"),
        ("POST", f"{USERS}/{user.id}/revoke"),
    ):
        body = {"roles": ["admin"]} if method == "PATCH" else None
        anonymous = await client.request(method, path, json=body)
        assert codes_of(anonymous) == (401, "auth.required"), path
        as_user = await client.request(method, path, json=body, headers=user.headers)
        assert codes_of(as_user) == (403, "auth.admin_required"), path
