"""A disabled or deleted user's tokens stop working at once, on every process: the revoked set
is re-read within a second of the change."""

from __future__ import annotations

import httpx
from tests.http.login.conftest import bearer, sign_in

from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient


async def test_disabling_a_user_stops_their_access_token_and_enabling_restores_it(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    await register_app("wechat", "wx1111")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    user = session["user"]["id"]
    assert (await client.get("/api/auth/me", headers=bearer(session))).status_code == 200

    await client.patch(f"/api/admin/users/{user}", headers=admin.headers, json={"disabled": True})
    refused = await client.get("/api/auth/me", headers=bearer(session))
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.user_revoked")
    code = (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    login = await client.post("/api/auth/wechat/login", json={"appid": "wx1111", "code": code})
    assert (login.status_code, login.json()["code"]) == (403, "users.disabled")

    await client.patch(f"/api/admin/users/{user}", headers=admin.headers, json={"disabled": False})
    assert (await client.get("/api/auth/me", headers=bearer(session))).status_code == 200


async def test_deleting_a_user_stops_their_tokens_and_a_new_login_starts_afresh(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    await register_app("wechat", "wx1111")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    deleted = await client.delete(
        f"/api/admin/users/{session['user']['id']}", headers=admin.headers
    )
    assert deleted.status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(session))).status_code == 401
    refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refresh.status_code == 401
    again = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    assert again["is_new_user"] is True
    assert again["user"]["id"] != session["user"]["id"]
