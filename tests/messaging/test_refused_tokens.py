"""A token the platform refuses mid-flight (another system forced a new one): the call that
met 40001 invalidates it once, a new one is fetched once, and the call succeeds on its retry."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.http.login.conftest import bearer, sign_in


async def _bind(client: httpx.AsyncClient, sandbox: SandboxClient, person: str, phone: str) -> int:
    session = await sign_in(client, sandbox, "wechat", "wx-phones", person)
    code = await sandbox.phone_code("wx-phones", person, phone)
    bound = await client.post("/api/auth/phone", json={"code": code}, headers=bearer(session))
    return bound.status_code


async def test_a_phone_binding_survives_a_token_refused_by_the_platform(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("wechat", "wx-phones", secret="phones-secret")
    assert await _bind(client, sandbox, "ann", "13800138000") == 200
    # someone else forces a new stable token: ours is refused from now on (40001)
    forced = await sandbox._http.post(
        "/wechat/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": "wx-phones",
            "secret": "phones-secret",
            "force_refresh": True,
        },
    )
    assert "access_token" in forced.json()
    assert await _bind(client, sandbox, "bob", "13900139000") == 200
    calls = (await sandbox.calls())["wechat"]
    assert calls["/cgi-bin/stable_token"] == 3  # ours, theirs, and ours again (forced)
    assert calls["/wxa/business/getuserphonenumber"] == 3  # ann, bob refused, bob again
