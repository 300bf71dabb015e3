"""An access token stops working as soon as what it claims is no longer true: a role removed,
a session ended by reuse of its refresh token or by logout, a user signed out everywhere. The
refused token answers 401 `auth.token_revoked`; a refresh then gives a token with the user's
current roles, unless the session itself was ended."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

ME = "/api/auth/me"
USERS = "/api/admin/users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def refresh(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_removing_a_role_stops_the_token_that_claims_it_and_a_refresh_has_the_new_roles(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "drafts", "fields": {}, "rules": {"list": '"editor" in auth.roles'}},
    )
    drafts = "/api/collections/drafts/records"
    await client.post(drafts, headers=admin.headers, json={})
    user = await make_user(roles=("editor", "vip"))
    assert len((await client.get(drafts, headers=user.headers)).json()["items"]) == 1

    changed = await client.patch(
        f"{USERS}/{user.id}", json={"roles": ["vip"]}, headers=admin.headers
    )
    assert changed.status_code == 200
    refused = await client.get(drafts, headers=user.headers)
    assert codes_of(refused) == (401, "auth.token_revoked")
    assert "refresh" in refused.json()["message"]
    assert refused.headers["www-authenticate"] == "Bearer"

    # the test clock stands still: the new token is issued in the very second of the change
    renewed = await refresh(client, user.refresh_token)
    assert renewed.status_code == 200, renewed.text
    token = renewed.json()["access_token"]
    assert (await client.get(ME, headers=bearer(token))).json()["roles"] == ["vip"]
    assert (await client.get(drafts, headers=bearer(token))).json()["items"] == []


async def test_changing_only_the_profile_leaves_tokens_working(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user(roles=("editor",))
    for change in ({"profile": {"nickname": "Bo"}}, {"roles": ["editor"]}):
        response = await client.patch(f"{USERS}/{user.id}", json=change, headers=admin.headers)
        assert response.status_code == 200
        assert (await client.get(ME, headers=user.headers)).status_code == 200, change


async def test_signing_a_user_out_everywhere_stops_every_access_token(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    tablet = (await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)).json()
    assert (await client.get(ME, headers=user.headers)).status_code == 200

    await client.post(f"{USERS}/{user.id}/revoke", headers=admin.headers)
    for token in (user.token, tablet["access_token"]):
        assert codes_of(await client.get(ME, headers=bearer(token))) == (
            401,
            "auth.token_revoked",
        )
    assert codes_of(await refresh(client, user.refresh_token)) == (
        401,
        "auth.invalid_refresh_token",
    )
    # signing in again afterwards works at once
    again = (await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)).json()
    assert (await client.get(ME, headers=bearer(again["access_token"]))).status_code == 200


async def test_reusing_a_refresh_token_stops_the_access_tokens_of_its_session_only(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    tablet = (await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)).json()
    rotated = (await refresh(client, user.refresh_token)).json()
    assert (await client.get(ME, headers=bearer(rotated["access_token"]))).status_code == 200

    reused = await refresh(client, user.refresh_token)
    assert codes_of(reused) == (401, "auth.refresh_token_reused")
    for token in (user.token, rotated["access_token"]):
        assert codes_of(await client.get(ME, headers=bearer(token))) == (
            401,
            "auth.token_revoked",
        )
    assert (await client.get(ME, headers=bearer(tablet["access_token"]))).status_code == 200


async def test_logout_stops_the_access_token_of_its_session(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    tablet = (await client.post(f"{USERS}/{user.id}/tokens", headers=admin.headers)).json()
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert codes_of(await client.get(ME, headers=user.headers)) == (401, "auth.token_revoked")
    assert (await client.get(ME, headers=bearer(tablet["access_token"]))).status_code == 200


async def test_a_disabled_user_is_still_refused_as_revoked(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user(roles=("editor",))
    await client.patch(
        f"{USERS}/{user.id}", json={"disabled": True, "roles": []}, headers=admin.headers
    )
    assert codes_of(await client.get(ME, headers=user.headers)) == (401, "auth.user_revoked")
