"""Two `minibase serve` processes on one database (SQLite or PostgreSQL). A role removed, a
refresh token reused, or a user signed out everywhere through one of them, and the other refuses
the access tokens that change voided within about two seconds — although it had verified (and
cached) them before; so does an admin token signed out on the other. Wrong admin passwords sent
to both add up to one lockout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from minibase.testing import postgres
from tests.e2e.conftest import ADMIN_PW, RunningServer, admin_headers, start_server, stop_server

DEADLINE = 3.0  # revocations are re-read every second; the rest is slack for a busy machine


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[None]:
    """minibase.toml in the servers' folder names the database (the CLI reads it too)."""
    if backend == "sqlite":  # both servers open ./minibase_data/data.db
        yield
        return
    name = await postgres.clone_database()
    (tmp_path / "minibase.toml").write_text(f'database_url = "{postgres.url_for(name)}"\n')
    yield
    await postgres.drop_database(name)


@pytest.fixture
def servers(tmp_path: Path, database: None) -> Iterator[tuple[RunningServer, RunningServer]]:
    env = {
        "MINIBASE_AUTO_MIGRATE": "true",
        "MINIBASE_RUN_JOBS": "false",
        "MINIBASE_ADMIN_LOGIN_FAILURES_PER_ACCOUNT": "3",
    }
    first = start_server(tmp_path, env=env)
    try:
        second = start_server(tmp_path, env=env)
    except BaseException:
        stop_server(first)
        raise
    yield first, second
    stop_server(second)
    stop_server(first)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused_within(http: httpx.AsyncClient, url: str, token: str) -> float:
    """Seconds until `url` refuses `token` as revoked (fails the test after DEADLINE)."""
    started = time.monotonic()
    while True:
        response = await http.get(url, headers=bearer(token))
        elapsed = time.monotonic() - started
        if response.status_code == 401:
            assert response.json()["code"] == "auth.token_revoked"
            return elapsed
        assert response.status_code == 200, response.text
        assert elapsed < DEADLINE, f"still accepted after {elapsed:.1f} s"
        await asyncio.sleep(0.05)


async def seen_within(http: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    """The answer of `url` once the server knows the collection (a new one made on the other
    server is seen within a second), failing the test after DEADLINE."""
    started = time.monotonic()
    while True:
        response = await http.get(url, headers=bearer(token))
        if response.status_code != 404:
            assert response.status_code == 200, response.text
            return response
        assert time.monotonic() - started < DEADLINE, response.text
        await asyncio.sleep(0.05)


async def test_a_revocation_on_one_server_stops_the_token_on_the_other(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    a, b = servers
    admin = admin_headers(a)
    async with httpx.AsyncClient(timeout=10) as http:
        await http.post(
            f"{a.url}/api/admin/collections",
            headers=admin,
            json={"name": "drafts", "fields": {}, "rules": {"list": '"editor" in auth.roles'}},
        )
        await http.post(f"{a.url}/api/collections/drafts/records", headers=admin, json={})
        drafts = f"{b.url}/api/collections/drafts/records"
        user = (
            await http.post(f"{a.url}/api/admin/users", headers=admin, json={"roles": ["editor"]})
        ).json()
        pair = (
            await http.post(f"{a.url}/api/admin/users/{user['id']}/tokens", headers=admin)
        ).json()
        listed = await seen_within(http, drafts, pair["access_token"])  # B learns of drafts
        assert len(listed.json()["items"]) == 1

        # a role removed on A: B refuses the token that claims it; a refresh has the new roles
        await http.patch(f"{a.url}/api/admin/users/{user['id']}", headers=admin, json={"roles": []})
        await refused_within(http, drafts, pair["access_token"])
        renewed = await http.post(
            f"{b.url}/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert renewed.status_code == 200, renewed.text
        listed = await http.get(drafts, headers=bearer(renewed.json()["access_token"]))
        assert listed.json()["items"] == []

        # the first refresh token used again on A: its whole session stops on B
        reused = await http.post(
            f"{a.url}/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert reused.json()["code"] == "auth.refresh_token_reused"
        await refused_within(http, drafts, renewed.json()["access_token"])

        # signed out everywhere on A: B refuses a token of a session it had never heard of
        tablet = (
            await http.post(f"{a.url}/api/admin/users/{user['id']}/tokens", headers=admin)
        ).json()
        assert (await http.get(drafts, headers=bearer(tablet["access_token"]))).status_code == 200
        await http.post(f"{a.url}/api/admin/users/{user['id']}/revoke", headers=admin)
        await refused_within(http, drafts, tablet["access_token"])


async def test_an_admin_signed_out_on_one_server_is_refused_on_the_other(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    a, b = servers
    admin = admin_headers(a)
    token = admin["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(timeout=10) as http:
        collections = f"{b.url}/api/admin/collections"
        assert (await http.get(collections, headers=admin)).status_code == 200  # B caches it
        signed_out = await http.post(f"{a.url}/api/admin/logout", headers=admin)
        assert signed_out.status_code == 204
        await refused_within(http, collections, token)
        refused = await http.get(f"{a.url}/api/admin/collections", headers=admin)
        assert refused.json()["code"] == "auth.token_revoked"


async def test_wrong_passwords_sent_to_two_servers_add_up_to_one_lockout(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    a, b = servers
    admin_headers(a)  # me@example.com, with the password ADMIN_PW
    body = {"email": "me@example.com", "password": "wrong password"}
    async with httpx.AsyncClient(timeout=10) as http:
        for server in (a, b, a):
            wrong = await http.post(f"{server.url}/api/admin/login", json=body)
            assert wrong.status_code == 401
        for server in (b, a):
            right = await http.post(
                f"{server.url}/api/admin/login", json={**body, "password": ADMIN_PW}
            )
            assert right.status_code == 429
            assert right.json()["code"] == "auth.too_many_attempts"
            assert 0 < int(right.headers["retry-after"]) <= 900
        other = await http.post(
            f"{b.url}/api/admin/login", json={"email": "other@example.com", "password": "x"}
        )
        assert other.status_code == 401  # another account, from the same address, is not locked
