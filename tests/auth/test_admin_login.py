"""Admin sign-in with email and password: a token for the admin routes, the same answer for a
wrong password and an unknown email, and password hashes that never leave the database."""

from __future__ import annotations

import httpx

from minibase.clock import FrozenClock
from minibase.services import Services
from minibase.testing.plugin import ADMIN_EMAIL as EMAIL
from minibase.testing.plugin import ADMIN_PASSWORD as PASSWORD
from minibase.testing.plugin import Actor

LOGIN = "/api/admin/login"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def test_the_right_password_gives_an_admin_token(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    response = await login(client, "  Admin@Example.COM ", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["admin"] == {"id": admin.id, "email": EMAIL}
    assert body["expires_in"] == services.settings.admin_token_ttl
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/api/admin/collections", headers=bearer)).status_code == 200
    me = await client.get("/api/auth/me", headers=bearer)
    assert me.status_code == 403


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    wrong_password = await login(client, EMAIL, "not the password")
    unknown_email = await login(client, "nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert response.json()["code"] == "auth.invalid_credentials"
    assert wrong_password.json()["message"] == unknown_email.json()["message"]


async def test_a_login_body_needs_an_email_and_a_password(client: httpx.AsyncClient) -> None:
    for body in ({"email": EMAIL}, {"email": EMAIL, "password": 1}, {"password": "x"}):
        response = await client.post(LOGIN, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "request.invalid_body"


async def test_an_admin_token_expires(
    client: httpx.AsyncClient, admin: Actor, clock: FrozenClock, services: Services
) -> None:
    clock.advance(seconds=services.settings.admin_token_ttl)
    response = await client.get("/api/admin/collections", headers=admin.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"


async def test_password_hashes_are_argon2_and_never_in_a_response(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    sql = "SELECT password_hash FROM admins WHERE id = ?"
    stored = await services.db.fetch_value(sql, admin.id)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    user = (await client.post("/api/admin/users", headers=admin.headers)).json()
    responses = [
        await login(client, EMAIL, PASSWORD),
        await login(client, EMAIL, "wrong password"),
        await client.get("/api/admin/users", headers=admin.headers),
        await client.get(f"/api/admin/users/{user['id']}", headers=admin.headers),
        await client.post(f"/api/admin/users/{user['id']}/tokens", headers=admin.headers),
        await client.get("/api/admin/definitions", headers=admin.headers),
        await client.get("/api/openapi.json"),
    ]
    for response in responses:
        assert "$argon2" not in response.text, response.request.url
        assert stored not in response.text
        assert PASSWORD not in response.text
