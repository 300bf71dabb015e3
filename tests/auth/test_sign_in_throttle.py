"""Guessing is throttled: after a few wrong admin passwords for one account (or many from one
address), and after many invalid refresh tokens or refused login codes from one address, the
server answers 429 `auth.too_many_attempts` with Retry-After — before it checks anything, so a
right password during the lockout is refused too. The counts are shared by every instance
through the database, or through Redis when `cache_url` is set."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from minibase.app import create_app
from minibase.clock import FrozenClock
from minibase.config import ConfigError, Settings, load_settings
from minibase.services import Services, open_services
from minibase.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD, Actor, MakeUser, RegisterApp
from minibase.testing.sandbox import SandboxClient

LOGIN = "/api/admin/login"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Smaller limits than the defaults, so that tests reach them soon (each wrong password
    costs an argon2 hash)."""
    return settings.replace(
        admin_login_failures_per_account=3,
        admin_login_failures_per_address=7,
        refresh_failures_per_address=3,
        platform_login_failures_per_address=3,
    )


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def a_new_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(255) + 1}"


@asynccontextmanager
async def instance(
    services: Services, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of an app instance on these services, calling from `address`."""
    app = create_app(services.settings, services=services)
    transport = httpx.ASGITransport(app=app, client=(address, 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
        yield http


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(LOGIN, json={"email": email, "password": password})


async def test_after_the_allowed_wrong_passwords_even_the_right_one_is_refused_for_a_while(
    client: httpx.AsyncClient, admin: Actor, clock: FrozenClock, services: Services
) -> None:
    for _ in range(services.settings.admin_login_failures_per_account):
        assert codes_of(await login(client, ADMIN_EMAIL, "wrong password")) == (
            401,
            "auth.invalid_credentials",
        )
    clock.advance(seconds=100)
    refused = await login(client, " Admin@Example.com", ADMIN_PASSWORD)
    assert codes_of(refused) == (429, "auth.too_many_attempts")
    window = services.settings.throttle_window
    assert refused.headers["retry-after"] == str(window - 100)
    assert refused.json()["details"] == {
        "retry_after": window - 100,
        "limit": "admin_login.account",
    }

    clock.advance(seconds=window - 100)
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_a_throttled_attempt_hashes_no_password(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    await login(client, "nobody@example.com", "wrong password")  # argon2 runs, as for a real one
    one_hash = time.perf_counter() - started
    for _ in range(2):
        await login(client, "nobody@example.com", "wrong password")
    started = time.perf_counter()
    for _ in range(10):
        refused = await login(client, "nobody@example.com", "wrong password")
        assert refused.status_code == 429
    assert time.perf_counter() - started < 10 * one_hash / 3


async def test_a_success_forgives_the_accounts_failures(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for _ in range(2):
        await login(client, ADMIN_EMAIL, "wrong password")
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    for _ in range(2):
        assert (await login(client, ADMIN_EMAIL, "wrong password")).status_code == 401
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_a_locked_account_leaves_other_accounts_and_addresses_alone(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    for _ in range(3):
        await login(client, "someone@example.com", "wrong password")
    assert (await login(client, "someone@example.com", "x")).status_code == 429
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    async with instance(services, a_new_address()) as elsewhere:
        assert (await login(elsewhere, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_one_address_guessing_many_accounts_is_throttled_and_others_are_not(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    per_address = services.settings.admin_login_failures_per_address
    for n in range(per_address):
        await login(client, f"guess{n}@example.com", "wrong password")
    refused = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert codes_of(refused) == (429, "auth.too_many_attempts")
    assert refused.json()["details"]["limit"] == "admin_login.address"
    async with instance(services, a_new_address()) as elsewhere:
        assert (await login(elsewhere, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


@pytest.mark.parametrize("shared", ["database", "redis"])
async def test_instances_share_the_count(
    settings: Settings, clock: FrozenClock, services: Services, shared: str
) -> None:
    """Failures on one instance lock the account on another (a second set of services on the
    same database, or the same Redis)."""
    if shared == "redis":
        settings = settings.replace(cache_url=REDIS_URL)
    # Redis outlives the test: an account and an address of its own
    email, address = f"{secrets.token_hex(6)}@example.com", a_new_address()
    first = await open_services(settings, clock=clock)
    second = await open_services(settings, clock=clock)
    try:
        async with instance(first, address) as a, instance(second, address) as b:
            for n in range(3):
                await login(a if n % 2 else b, email, "wrong password")
            assert codes_of(await login(b, email, "x")) == (429, "auth.too_many_attempts")
            assert codes_of(await login(a, email, "x")) == (429, "auth.too_many_attempts")
            clock.advance(seconds=settings.throttle_window)
            assert codes_of(await login(a, email, "x")) == (401, "auth.invalid_credentials")
    finally:
        await first.close()
        await second.close()


async def test_invalid_refresh_tokens_are_throttled_per_address(
    client: httpx.AsyncClient, make_user: MakeUser, services: Services
) -> None:
    user = await make_user()
    for _ in range(3):
        response = await client.post("/api/auth/refresh", json={"refresh_token": "guessed"})
        assert codes_of(response) == (401, "auth.invalid_refresh_token")
    refused = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert codes_of(refused) == (429, "auth.too_many_attempts")
    assert int(refused.headers["retry-after"]) == services.settings.throttle_window
    async with instance(services, a_new_address()) as elsewhere:
        renewed = await elsewhere.post(
            "/api/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert renewed.status_code == 200


async def test_refused_login_codes_are_throttled_per_address_without_asking_the_platform(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    login_url = "/api/auth/wechat/login"
    for _ in range(3):
        response = await client.post(login_url, json={"appid": "wx1111", "code": "guessed"})
        assert codes_of(response) == (400, "auth.invalid_code")
    asked = (await sandbox.calls())["wechat"]
    code = (await sandbox.login_code("wechat", "wx1111", "ann"))["code"]
    refused = await client.post(login_url, json={"appid": "wx1111", "code": code})
    assert codes_of(refused) == (429, "auth.too_many_attempts")
    assert (await sandbox.calls())["wechat"] == asked
    async with instance(services, a_new_address()) as elsewhere:
        signed_in = await elsewhere.post(login_url, json={"appid": "wx1111", "code": code})
        assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    settings: Settings, clock: FrozenClock, backend: str
) -> None:
    proxied = settings.replace(trusted_proxies=("10.0.0.0/8",), admin_login_failures_per_address=3)
    services = await open_services(proxied, clock=clock)
    try:
        async with (
            instance(services, "10.1.2.3") as proxy,
            instance(services, "198.51.100.7") as direct,
        ):

            def forwarded(client: str) -> dict[str, str]:
                # what the client sent, then what the proxy appended: the client's peer address
                return {"X-Forwarded-For": f"203.0.113.99, {client}"}

            for n in range(3):
                await proxy.post(
                    LOGIN,
                    json={"email": f"g{n}@example.com", "password": "wrong password"},
                    headers=forwarded("192.0.2.1"),
                )
            blocked = await proxy.post(
                LOGIN,
                json={"email": "a@example.com", "password": "x"},
                headers=forwarded("192.0.2.1"),
            )
            assert codes_of(blocked) == (429, "auth.too_many_attempts")
            other = await proxy.post(
                LOGIN,
                json={"email": "a@example.com", "password": "x"},
                headers=forwarded("192.0.2.2"),
            )
            assert codes_of(other) == (401, "auth.invalid_credentials")
            # not through a trusted proxy: the header is ignored, the peer address counts
            spoofed = await direct.post(
                LOGIN,
                json={"email": "a@example.com", "password": "x"},
                headers=forwarded("192.0.2.1"),
            )
            assert codes_of(spoofed) == (401, "auth.invalid_credentials")
    finally:
        await services.close()


async def test_a_limit_of_zero_is_no_limit(settings: Settings, clock: FrozenClock) -> None:
    services = await open_services(settings.replace(refresh_failures_per_address=0), clock=clock)
    try:
        async with instance(services) as http:
            for _ in range(5):
                response = await http.post("/api/auth/refresh", json={"refresh_token": "guessed"})
                assert codes_of(response) == (401, "auth.invalid_refresh_token")
    finally:
        await services.close()


def test_throttle_settings_are_read_and_checked(tmp_path: Path) -> None:
    none = tmp_path / "minibase.toml"
    loaded = load_settings(
        environ={
            "MINIBASE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
            "MINIBASE_ADMIN_LOGIN_FAILURES_PER_ACCOUNT": "0",
        },
        config_file=none,
    )
    assert loaded.trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert loaded.admin_login_failures_per_account == 0
    for variable, value in (
        ("MINIBASE_TRUSTED_PROXIES", "proxy.internal"),
        ("MINIBASE_REFRESH_FAILURES_PER_ADDRESS", "-1"),
        ("MINIBASE_THROTTLE_WINDOW", "0"),
    ):
        with pytest.raises(ConfigError, match=variable):
            load_settings(environ={variable: value}, config_file=none)
