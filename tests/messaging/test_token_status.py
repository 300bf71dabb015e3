"""Admins see each app's shared access token by its state — stored or not, until when, fetched
when and by which process, who holds the refresh lease, whether the last one was refused —
never by its value; the database's store and Redis's answer alike. An admin may replace the
token: one forced fetch, under the lease, and every instance moves to the new one."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from minibase.auth.apps import PlatformApp
from minibase.clock import parse_iso
from minibase.config import Settings
from minibase.messaging.access_tokens import AccessTokens
from minibase.messaging.token_store import fingerprint
from minibase.platforms.models import PhoneNumber
from minibase.services import Services, token_store_for
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.messaging.conftest import REDIS_URL, OffsetClock

NONE = {
    "cached": False,
    "expires_at": None,
    "refreshed_at": None,
    "refreshed_by": None,
    "lease": {"held": False, "owner": None, "until": None},
    "refused": False,
}


@pytest.fixture(params=["database", "redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Tokens shared through the database, or through Redis (`cache_url`)."""
    if request.param == "redis":
        return settings.replace(cache_url=REDIS_URL)
    return settings


@pytest.fixture
async def wechat_app(
    register_app: RegisterApp, services: Services, settings: Settings
) -> AsyncIterator[PlatformApp]:
    """A WeChat app of this test's own (Redis is shared by every test running now)."""
    appid = f"wx-status-{secrets.token_hex(4)}"
    await register_app("wechat", appid)
    yield await services.apps.get("wechat", appid)
    if settings.cache_url is not None:
        import redis.asyncio as redis

        client: Any = redis.from_url(settings.cache_url)
        async for key in client.scan_iter(f"minibase:token*:wechat:{appid}"):
            await client.delete(key)
        await client.aclose()


async def _read(client: httpx.AsyncClient, admin: Actor, wechat_app: PlatformApp) -> httpx.Response:
    answer = await client.get(f"/api/admin/apps/wechat/{wechat_app.appid}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return answer


async def _token(
    client: httpx.AsyncClient, admin: Actor, wechat_app: PlatformApp
) -> dict[str, Any]:
    token: dict[str, Any] = (await _read(client, admin, wechat_app)).json()["access_token"]
    return token


def _from_now(moment: str, clock: OffsetClock) -> float:
    return (parse_iso(moment) - clock.now()).total_seconds()


async def test_a_fetched_token_shows_its_expiry_and_its_fetcher_never_its_value(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
    wechat_app: PlatformApp,
) -> None:
    assert await _token(client, admin, wechat_app) == NONE  # nothing needed it yet
    value = await services.access_tokens.get(wechat_app)  # as a platform call would
    answer = await _read(client, admin, wechat_app)
    token = answer.json()["access_token"]
    assert (token["cached"], token["refused"], token["lease"]["held"]) == (True, False, False)
    assert 7195 < _from_now(token["expires_at"], clock) <= 7200
    assert -5 < _from_now(token["refreshed_at"], clock) <= 0
    host, pid, _ = token["refreshed_by"].split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert value not in answer.text
    assert fingerprint(value) not in answer.text


async def test_the_list_shows_each_apps_token_and_none_for_platforms_without_tokens(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    register_app: RegisterApp,
    wechat_app: PlatformApp,
) -> None:
    await register_app("alipay", "2021000000000042")
    await register_app("douyin", f"tt-status-{secrets.token_hex(4)}")
    value = await services.access_tokens.get(wechat_app)
    listed = await client.get("/api/admin/apps", headers=admin.headers)
    tokens = {item["platform"]: item["access_token"] for item in listed.json()["items"]}
    assert tokens["wechat"]["cached"] is True
    assert tokens["douyin"] == NONE
    assert tokens["alipay"] is None  # Alipay signs its calls: it has no access token
    assert value not in listed.text


async def test_the_lease_shows_who_is_fetching_until_it_is_given_back_or_lapses(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
    wechat_app: PlatformApp,
) -> None:
    elsewhere = token_store_for(services.settings, services.db, services.vault, clock)
    assert await elsewhere.try_lock(f"wechat:{wechat_app.appid}", "other-host:7:abc123", 15)
    lease = (await _token(client, admin, wechat_app))["lease"]
    assert (lease["held"], lease["owner"]) == (True, "other-host:7:abc123")
    assert 14 < _from_now(lease["until"], clock) <= 15
    await elsewhere.unlock(f"wechat:{wechat_app.appid}", "other-host:7:abc123")
    assert (await _token(client, admin, wechat_app))["lease"] == NONE["lease"]
    await elsewhere.close()


async def test_an_expired_or_refused_token_shows_as_not_cached(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
    wechat_app: PlatformApp,
) -> None:
    value = await services.access_tokens.get(wechat_app)
    await services.access_tokens.invalidate(wechat_app, value)  # the platform answered 40001
    assert await _token(client, admin, wechat_app) == {**NONE, "refused": True}
    await services.access_tokens.get(wechat_app)
    assert (await _token(client, admin, wechat_app))["refused"] is False
    clock.advance(seconds=7200)
    assert await _token(client, admin, wechat_app) == NONE


async def test_an_admins_refresh_replaces_the_token_once_for_every_instance(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
    sandbox: SandboxClient,
    wechat_app: PlatformApp,
) -> None:
    # another instance, over the same store, fetched the token and keeps a copy of it
    other = AccessTokens(
        services.platforms,
        clock,
        token_store_for(services.settings, services.db, services.vault, clock),
    )
    old = await other.get(wechat_app)
    fetched_by = (await _token(client, admin, wechat_app))["refreshed_by"]
    refreshed = await client.post(
        f"/api/admin/apps/wechat/{wechat_app.appid}/token/refresh", headers=admin.headers
    )
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    assert (token["cached"], token["refused"], token["lease"]["held"]) == (True, False, False)
    assert token["refreshed_by"] != fetched_by  # this instance fetched it
    assert -5 < _from_now(token["refreshed_at"], clock) <= 0
    # forced: stable_token would have answered the old one again
    assert await services.access_tokens.get(wechat_app) != old
    # the other instance's copy is refused by WeChat once; it adopts the new token, fetches none
    code = await sandbox.phone_code(wechat_app.appid, "ann", "13800138000")
    wechat = services.platforms.client(wechat_app)
    phone: PhoneNumber = await other.calling(
        wechat_app, lambda token: wechat.get_phone_number(code, token)
    )
    assert phone.pure_phone_number == "13800138000"
    calls = (await sandbox.calls())["wechat"]
    assert calls["/cgi-bin/stable_token"] == 2  # the first, and the admin's
    assert calls["/wxa/business/getuserphonenumber"] == 2  # refused once, then answered
    await other.close()


async def test_a_refresh_is_refused_for_platforms_without_tokens_and_unknown_apps(
    client: httpx.AsyncClient, admin: Actor, register_app: RegisterApp
) -> None:
    await register_app("alipay", "2021000000000043")
    alipay = await client.post(
        "/api/admin/apps/alipay/2021000000000043/token/refresh", headers=admin.headers
    )
    assert (alipay.status_code, alipay.json()["code"]) == (409, "apps.no_access_token")
    unknown = await client.post(
        "/api/admin/apps/wechat/wx-nobody/token/refresh", headers=admin.headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "apps.not_found")
