"""Access tokens: signed, short-lived, and only good for the kind of caller they name.

Checking a token reads no database, so these tests run on SQLite only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import httpx
import pytest

from minibase.auth.caller import Caller
from minibase.auth.tokens import TokenSigner
from minibase.clock import FrozenClock
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

ME = "/api/auth/me"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def b64(data: Mapping[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bearer(token: str) -> dict[bytes, bytes]:
    return {b"Authorization": f"Bearer {token}".encode()}  # bytes: any token, even not ASCII


async def error_of(client: httpx.AsyncClient, path: str, token: str) -> tuple[int, str]:
    response = await client.get(path, headers=bearer(token))
    return response.status_code, response.json()["code"]


async def test_a_user_token_names_its_user(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user(roles=("editor",), nickname="Ann")
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200
    assert response.json()["id"] == user.id
    assert response.json()["roles"] == ["editor"]
    assert response.json()["profile"] == {"nickname": "Ann"}


async def test_an_expired_access_token_is_refused_as_expired(
    client: httpx.AsyncClient, make_user: MakeUser, clock: FrozenClock, services: Services
) -> None:
    user = await make_user()
    clock.advance(seconds=services.settings.access_token_ttl - 1)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    clock.advance(seconds=1)
    response = await client.get(ME, headers=user.headers)
    assert (response.status_code, response.json()["code"]) == (401, "auth.token_expired")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_token_with_a_forged_signature_is_invalid(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    header, payload, signature = user.token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert await error_of(client, ME, f"{header}.{payload}.{flipped}") == (
        401,
        "auth.invalid_token",
    )


async def test_a_token_with_a_changed_payload_is_invalid(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user, other = await make_user(), await make_user()
    header, _, signature = user.token.split(".")
    claims = {"sub": other.id, "typ": "user", "iat": 0, "exp": 2**40}
    token = f"{header}.{b64(claims)}.{signature}"
    assert await error_of(client, ME, token) == (401, "auth.invalid_token")


async def test_a_token_signed_with_another_servers_key_is_invalid(
    client: httpx.AsyncClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    user = await make_user()
    elsewhere = TokenSigner(b"another key" * 3, "other", clock)
    token = elsewhere.issue(Caller(kind="user", id=user.id), 600)
    assert await error_of(client, ME, token) == (401, "auth.invalid_token")


async def test_a_token_that_names_another_algorithm_is_invalid(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    _, payload, signature = user.token.split(".")
    for header in (
        {"alg": "none", "typ": "JWT"},
        {"alg": "none"},
        {"alg": "HS512", "typ": "JWT"},
    ):
        unsigned = f"{b64(header)}.{payload}."
        assert await error_of(client, ME, unsigned) == (401, "auth.invalid_token"), header
        resigned = f"{b64(header)}.{payload}.{signature}"
        assert await error_of(client, ME, resigned) == (401, "auth.invalid_token"), header


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "..", "a.b", "x" * 600, "eyJ.eyJ.sig", "Bearer", "é.é.é"],
)
async def test_a_garbage_token_is_invalid(client: httpx.AsyncClient, token: str) -> None:
    assert await error_of(client, ME, token) == (401, "auth.invalid_token")


async def test_only_the_bearer_scheme_is_understood(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    for header in (f"Basic {user.token}", "Bearer ", user.token):
        response = await client.get(ME, headers={"Authorization": header})
        assert (response.status_code, response.json()["code"]) == (401, "auth.invalid_token")
    lower_case = await client.get(ME, headers={"Authorization": f"bearer {user.token}"})
    assert lower_case.status_code == 200


async def test_without_a_token_me_needs_a_user(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert (response.status_code, response.json()["code"]) == (401, "auth.required")


async def test_an_admin_token_is_not_a_user_token(client: httpx.AsyncClient, admin: Actor) -> None:
    assert await error_of(client, ME, admin.token) == (403, "auth.forbidden")


async def test_a_user_token_is_not_an_admin_token(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(roles=("admin",))  # a role called admin is still a user
    for path in ("/api/admin/collections", "/api/admin/users", "/api/admin/definitions"):
        assert await error_of(client, path, user.token) == (403, "auth.admin_required"), path
