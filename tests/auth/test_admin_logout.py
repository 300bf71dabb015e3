"""Admin sign-out ends the token on the server: `POST /api/admin/logout` revokes the token's
session, and the same token then answers 401 `auth.token_revoked` — on this process at once, on
every other within a second, and for as long as the admin token could live (12 h), not only as
long as a user's access token."""

from __future__ import annotations

import httpx
import pytest

from minibase.auth.caller import Caller
from minibase.auth.revocations import CLOCK_MARGIN, Revocations
from minibase.auth.tokens import TokenClaims
from minibase.clock import FrozenClock
from minibase.errors import ApiError
from minibase.services import Services
from minibase.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD, Actor, MakeUser

LOGOUT = "/api/admin/logout"
COLLECTIONS = "/api/admin/collections"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def sign_in(client: httpx.AsyncClient) -> str:
    body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    response = await client.post("/api/admin/login", json=body)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def test_after_logout_the_same_token_is_refused_and_other_sign_ins_still_work(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    token = await sign_in(client)
    assert (await client.get(COLLECTIONS, headers=bearer(token))).status_code == 200

    signed_out = await client.post(LOGOUT, headers=bearer(token))
    assert signed_out.status_code == 204
    refused = await client.get(COLLECTIONS, headers=bearer(token))
    assert codes_of(refused) == (401, "auth.token_revoked")
    assert "sign in again" in refused.json()["message"]
    assert codes_of(await client.post(LOGOUT, headers=bearer(token))) == (
        401,
        "auth.token_revoked",
    )
    # another session of the same admin is not ended, and signing in again works at once
    assert (await client.get(COLLECTIONS, headers=admin.headers)).status_code == 200
    again = await sign_in(client)
    assert (await client.get(COLLECTIONS, headers=bearer(again))).status_code == 200


async def test_logout_needs_an_admin_token(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    assert codes_of(await client.post(LOGOUT)) == (401, "auth.required")
    user = await make_user()
    assert codes_of(await client.post(LOGOUT, headers=user.headers)) == (
        403,
        "auth.admin_required",
    )


async def test_a_token_without_a_session_says_it_cannot_be_ended(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    """Tokens issued before sign-out existed carry no `sid`: they live until they expire."""
    old = services.signer.issue(Caller(kind="admin", id=admin.id), 600)
    refused = await client.post(LOGOUT, headers=bearer(old))
    assert codes_of(refused) == (400, "auth.token_not_revocable")
    assert (await client.get(COLLECTIONS, headers=bearer(old))).status_code == 200


async def test_a_signed_out_token_is_refused_until_it_would_have_expired(
    client: httpx.AsyncClient, admin: Actor, services: Services, clock: FrozenClock
) -> None:
    settings = services.settings
    assert settings.admin_token_ttl > settings.access_token_ttl + CLOCK_MARGIN
    token = await sign_in(client)
    await client.post(LOGOUT, headers=bearer(token))

    # past a user token's life, and a restart later (the list read again): still refused
    clock.advance(seconds=settings.access_token_ttl + CLOCK_MARGIN + 1)
    await services.revocations.load()
    assert codes_of(await client.get(COLLECTIONS, headers=bearer(token))) == (
        401,
        "auth.token_revoked",
    )
    # another sign-out prunes old revocations: not this one
    await client.post(LOGOUT, headers=bearer(await sign_in(client)))
    clock.advance(seconds=settings.admin_token_ttl - settings.access_token_ttl - CLOCK_MARGIN - 2)
    await services.revocations.load()
    assert codes_of(await client.get(COLLECTIONS, headers=bearer(token))) == (
        401,
        "auth.token_revoked",
    )
    clock.advance(seconds=1)
    assert codes_of(await client.get(COLLECTIONS, headers=bearer(token))) == (
        401,
        "auth.token_expired",
    )


async def test_another_process_refuses_the_token_within_its_check_interval(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    now = [0.0]
    elsewhere = Revocations(
        services.db,
        services.clock,
        services.settings.access_token_ttl,
        services.settings.admin_token_ttl,
        monotonic=lambda: now[0],
    )
    await elsewhere.load()
    token = await sign_in(client)
    claims = services.signer.verify(token)
    assert claims.session is not None
    await elsewhere.check(claims)

    await client.post(LOGOUT, headers=bearer(token))
    await elsewhere.check(claims)  # within the interval: the list it holds
    now[0] = 1.5
    with pytest.raises(ApiError) as refused:
        await elsewhere.check(claims)
    assert refused.value.code == "auth.token_revoked"
    other_session = TokenClaims(claims.caller, claims.expires, "another session")
    await elsewhere.check(other_session)
