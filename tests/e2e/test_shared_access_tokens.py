"""Three `minibase serve` processes on one PostgreSQL, with Redis or without: people bind their
phones through all three at once, each call needing the app's access token — and exactly one
token fetch reaches the platform."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from minibase.testing import postgres
from minibase.testing.sandbox import SandboxClient
from tests.e2e.conftest import RunningServer, start_server, stop_server

APPID, SECRET = "wx-shared", "s3cret-shared-token-test"
TOML = f"""\
[[apps]]
platform = "wechat"
appid = "{APPID}"
secret = "{SECRET}"
"""


@pytest.fixture
async def database(_postgres_template: None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (this test is about several processes on one)."""
    name = await postgres.clone_database()
    yield postgres.url_for(name)
    await postgres.drop_database(name)


async def _bind_phone(
    http: httpx.AsyncClient, sandbox: SandboxClient, server: RunningServer, person: str
) -> int:
    code = (await sandbox.login_code("wechat", APPID, person))["code"]
    session = await http.post(
        f"{server.url}/api/auth/wechat/login", json={"appid": APPID, "code": code}
    )
    token = session.json()["access_token"]
    phone_code = await sandbox.phone_code(APPID, person, f"1380013{secrets.randbelow(10**4):04d}")
    bound = await http.post(
        f"{server.url}/api/auth/phone",
        json={"code": phone_code},
        headers={"Authorization": f"Bearer {token}"},
    )
    return bound.status_code


@pytest.mark.parametrize("cache", ["redis", "database"])
async def test_many_servers_fetch_one_access_token_between_them(
    tmp_path: Path, sandbox: SandboxClient, database: str, cache: str
) -> None:
    await sandbox.register_app("wechat", APPID, secret=SECRET)
    (tmp_path / "minibase.toml").write_text(TOML)
    env = {
        "MINIBASE_DATABASE_URL": database,
        "MINIBASE_AUTO_MIGRATE": "true",
        "MINIBASE_SANDBOX_URL": sandbox.url,
        "MINIBASE_RUN_JOBS": "false",
    }
    if cache == "redis":
        env["MINIBASE_CACHE_URL"] = "redis://127.0.0.1:6379/0"
        # a fresh app id per run would leave Redis keys behind; clear this app's instead
        import redis

        client = redis.Redis.from_url(env["MINIBASE_CACHE_URL"])
        for key in client.scan_iter(f"minibase:token*:wechat:{APPID}"):
            client.delete(key)
        client.close()
    servers = [start_server(tmp_path, env=env)]  # the first one migrates and registers the app
    try:
        servers += [start_server(tmp_path, env=env) for _ in range(2)]
        async with httpx.AsyncClient(timeout=30) as http:
            statuses = await asyncio.gather(
                *(_bind_phone(http, sandbox, servers[n % 3], f"person-{n}") for n in range(12))
            )
        assert statuses == [200] * 12
        calls = (await sandbox.calls())["wechat"]
        assert calls.get("/cgi-bin/stable_token", 0) == 1
        assert calls.get("/wxa/business/getuserphonenumber", 0) == 12
    finally:
        for server in servers:
            stop_server(server)
