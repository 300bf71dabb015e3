"""Refresh tokens: each use trades it for a new pair; a token used twice (a stolen copy, most
likely) ends its whole session; logout ends it too; only hashes are stored."""

from __future__ import annotations

import hashlib

import httpx

from minibase.auth.users import get_user
from minibase.clock import FrozenClock
from minibase.services import Services
from minibase.testing.plugin import MakeUser

REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"


async def refresh(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def another_session(services: Services, user_id: str) -> str:
    """The refresh token of a second sign-in of the same user (a new family)."""
    async with services.db.transaction() as conn:
        pair = await services.sessions.issue(conn, await get_user(conn, user_id))
    return pair.refresh_token


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def test_a_refresh_gives_a_new_working_pair(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    response = await refresh(client, user.refresh_token)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == services.settings.access_token_ttl
    assert pair["refresh_expires_in"] == services.settings.refresh_token_ttl
    assert pair["refresh_token"] != user.refresh_token
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    me = await client.get("/api/auth/me", headers=bearer)
    assert me.json()["id"] == user.id
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    second = (await refresh(client, user.refresh_token)).json()["refresh_token"]
    third = (await refresh(client, second)).json()["refresh_token"]

    reused = await refresh(client, user.refresh_token)
    assert codes_of(reused) == (401, "auth.refresh_token_reused")
    # the newest token of the family, never used, is revoked with it
    assert codes_of(await refresh(client, third)) == (401, "auth.invalid_refresh_token")
    assert codes_of(await refresh(client, second)) == (401, "auth.invalid_refresh_token")


async def test_reuse_ends_only_the_session_it_belongs_to(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    tablet = await another_session(services, user.id)
    await refresh(client, user.refresh_token)
    await refresh(client, user.refresh_token)  # reused: the phone's session ends
    assert (await refresh(client, tablet)).status_code == 200


async def test_logout_revokes_the_session_of_the_token(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    rotated = (await refresh(client, user.refresh_token)).json()["refresh_token"]
    second_device = await another_session(services, user.id)
    response = await client.post(LOGOUT, json={"refresh_token": rotated})
    assert response.status_code == 204
    assert codes_of(await refresh(client, rotated)) == (401, "auth.invalid_refresh_token")
    # another session of the same user is a different family, still signed in
    assert (await refresh(client, second_device)).status_code == 200


async def test_logout_with_an_unknown_token_is_quietly_accepted(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(LOGOUT, json={"refresh_token": "never issued"})
    assert response.status_code == 204


async def test_an_expired_refresh_token_fails(
    client: httpx.AsyncClient, make_user: MakeUser, clock: FrozenClock, services: Services
) -> None:
    early, late = await make_user(), await make_user()
    clock.advance(seconds=services.settings.refresh_token_ttl - 1)
    assert (await refresh(client, early.refresh_token)).status_code == 200
    clock.advance(seconds=1)
    assert codes_of(await refresh(client, late.refresh_token)) == (
        401,
        "auth.invalid_refresh_token",
    )


async def test_an_unknown_or_malformed_refresh_token_fails(client: httpx.AsyncClient) -> None:
    assert codes_of(await refresh(client, "never issued")) == (401, "auth.invalid_refresh_token")
    for body in ({}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x" * 513}):
        response = await client.post(REFRESH, json=body)
        assert codes_of(response) == (400, "request.invalid_body"), body


async def test_refresh_tokens_are_stored_only_as_hashes(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    assert user.refresh_token is not None
    rotated = (await refresh(client, user.refresh_token)).json()["refresh_token"]
    rows = await services.db.fetch_all("SELECT * FROM refresh_tokens")
    stored = [str(value) for row in rows for value in row]
    for token in (user.refresh_token, rotated):
        assert not any(token in value for value in stored)
        assert hashlib.sha256(token.encode()).hexdigest() in stored


async def test_a_disabled_user_cannot_refresh(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    async with services.db.transaction() as conn:
        # disabled behind the API's back, so its refresh tokens were not revoked
        await conn.execute("UPDATE users SET disabled = ? WHERE id = ?", True, user.id)
    response = await refresh(client, user.refresh_token)
    assert codes_of(response) == (403, "users.disabled")
