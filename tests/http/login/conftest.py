"""Helpers for platform-login tests: a person signs in through the sandbox like a mini program."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.testing.sandbox import SandboxClient


async def sign_in(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    platform: str,
    appid: str,
    person: str,
) -> dict[str, Any]:
    """wx.login() (or its twin) in the sandbox, then the server's login endpoint."""
    minted = await sandbox.login_code(platform, appid, person)
    response = await client.post(
        f"/api/auth/{platform}/login", json={"appid": appid, "code": minted["code"]}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}
