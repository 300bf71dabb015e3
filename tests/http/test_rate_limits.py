"""Request rate limits: past `N` requests of a route group in a window, from one address or by
one signed-in user, a request answers 429 `request.rate_limited` with Retry-After before its
route runs. Groups count apart, a user's count follows them from address to address, admins
count in their own group; the workers of one server share the counts through a file of its
folder, and with `cache_url` every instance shares them through Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from minibase.app import create_app, endpoints
from minibase.clock import FrozenClock
from minibase.config import RATE_GROUPS, ConfigError, Settings, load_settings
from minibase.http.rate_limits import UNLIMITED, group_of
from minibase.server_folder import SERVER_FOLDER
from minibase.services import RATE_COUNTERS, Services, open_services
from minibase.testing.plugin import Actor, MakeUser

REDIS_URL = "redis://127.0.0.1:6379/0"
READ = "/api/collections/notes/records"  # no such collection: the limit is counted first


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


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


@asynccontextmanager
async def limited(
    settings: Settings, clock: FrozenClock, **limits: tuple[str, ...]
) -> AsyncIterator[Services]:
    """Services with these rate_limits_* settings."""
    opened = await open_services(settings.replace(**limits), clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def test_past_the_limit_a_request_answers_429_with_a_code_a_message_and_retry_after(
    settings: Settings, clock: FrozenClock
) -> None:
    async with (
        limited(settings, clock, rate_limits_per_address=("default=3/minute",)) as services,
        instance(services) as http,
    ):
        for _ in range(3):
            assert (await http.get("/")).status_code == 200
        clock.advance(seconds=45)
        refused = await http.get("/")
        assert refused.status_code == 429
        body = refused.json()
        assert body["code"] == "request.rate_limited"
        assert body["message"] == (
            "too many requests of this kind (default) from this address; retry in 15 s"
        )
        assert body["details"] == {"retry_after": 15, "group": "default", "per": "address"}
        assert refused.headers["retry-after"] == "15"

        clock.advance(seconds=15)
        assert (await http.get("/")).status_code == 200


async def test_groups_count_apart_and_a_group_without_a_limit_is_not_limited(
    settings: Settings, clock: FrozenClock
) -> None:
    limits = ("records_read=2/second", "records_write=2/hour")
    async with (
        limited(settings, clock, rate_limits_per_address=limits) as services,
        instance(services) as http,
    ):
        assert [(await http.get(READ)).status_code for _ in range(3)] == [404, 404, 429]
        writes = [(await http.post(READ, json={})).status_code for _ in range(3)]
        assert writes == [404, 404, 429]
        assert (await http.post(READ, json={})).headers["retry-after"] == "3600"
        assert [(await http.get("/")).status_code for _ in range(10)] == [200] * 10

        clock.advance(seconds=1)
        assert (await http.get(READ)).status_code == 404
        assert (await http.post(READ, json={})).status_code == 429


async def test_a_users_limit_follows_the_user_from_address_to_address(
    settings: Settings, clock: FrozenClock, make_user: MakeUser
) -> None:
    async with limited(settings, clock, rate_limits_per_user=("records_read=3/minute",)) as svc:
        # make_user's services are the fixture's: same database, same signing key
        user, other = await make_user(), await make_user()
        for _ in range(3):
            async with instance(svc, a_new_address()) as http:
                assert (await http.get(READ, headers=user.headers)).status_code == 404
        async with instance(svc, a_new_address()) as http:
            refused = await http.get(READ, headers=user.headers)
            assert refused.status_code == 429
            assert refused.json()["details"]["per"] == "user"
            # the same address: another user, and anyone signed out, are not counted with them
            assert (await http.get(READ, headers=other.headers)).status_code == 404
            assert [(await http.get(READ)).status_code for _ in range(5)] == [404] * 5


async def test_an_address_limit_counts_every_caller_from_that_address(
    settings: Settings, clock: FrozenClock, make_user: MakeUser
) -> None:
    async with limited(settings, clock, rate_limits_per_address=("records_read=2/minute",)) as svc:
        user = await make_user()
        async with instance(svc, "192.0.2.7") as http:
            assert (await http.get(READ, headers=user.headers)).status_code == 404
            assert (await http.get(READ)).status_code == 404
            assert (await http.get(READ, headers=user.headers)).status_code == 429
        async with instance(svc, "192.0.2.8") as http:
            assert (await http.get(READ, headers=user.headers)).status_code == 404


async def test_an_admin_counts_in_the_admin_group_whatever_the_route(
    settings: Settings, clock: FrozenClock, admin: Actor
) -> None:
    limits = ("records_read=1/minute", "admin=4/minute")
    async with (
        limited(settings, clock, rate_limits_per_user=limits) as services,
        instance(services) as http,
    ):
        answers = [(await http.get(READ, headers=admin.headers)).status_code for _ in range(4)]
        assert answers == [404] * 4
        answers = [
            (await http.get("/api/admin/jobs", headers=admin.headers)).status_code,
            (await http.get(READ, headers=admin.headers)).status_code,
        ]
        assert answers == [429, 429]
        refused = await http.get(READ, headers=admin.headers)
        assert refused.json()["details"] == {"retry_after": 60, "group": "admin", "per": "user"}


async def test_a_bad_token_is_counted_as_a_signed_out_caller_and_still_answers_401(
    settings: Settings, clock: FrozenClock
) -> None:
    async with (
        limited(settings, clock, rate_limits_per_address=("records_read=2/minute",)) as services,
        instance(services) as http,
    ):
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await http.get(READ, headers=bad)).status_code == 401
        assert (await http.get(READ, headers=bad)).status_code == 401
        assert (await http.get(READ, headers=bad)).status_code == 429


async def test_x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it(
    settings: Settings, clock: FrozenClock
) -> None:
    trusting = settings.replace(trusted_proxies=("10.0.0.0/8",))
    async with limited(trusting, clock, rate_limits_per_address=("default=1/minute",)) as svc:
        async with instance(svc, "10.0.0.2") as proxy:
            for client in ("203.0.113.5", "203.0.113.6"):
                answer = await proxy.get("/", headers={"X-Forwarded-For": client})
                assert answer.status_code == 200
            again = await proxy.get("/", headers={"X-Forwarded-For": "203.0.113.5"})
            assert again.status_code == 429
        async with instance(svc, "192.0.2.9") as untrusted:
            answer = await untrusted.get("/", headers={"X-Forwarded-For": "203.0.113.7"})
            assert answer.status_code == 200
            answer = await untrusted.get("/", headers={"X-Forwarded-For": "203.0.113.8"})
            assert answer.status_code == 429


async def test_the_health_check_is_never_limited(settings: Settings, clock: FrozenClock) -> None:
    async with (
        limited(settings, clock, rate_limits_per_address=("default=1/hour",)) as services,
        instance(services) as http,
    ):
        assert [(await http.get("/api/health")).status_code for _ in range(5)] == [200] * 5


async def test_with_redis_two_instances_share_the_count(
    settings: Settings, clock: FrozenClock, make_user: MakeUser
) -> None:
    shared = settings.replace(cache_url=REDIS_URL)
    address = a_new_address()  # Redis outlives the test: a key no other run uses
    limits = {"rate_limits_per_address": ("records_read=4/minute",)}
    limits["rate_limits_per_user"] = ("records_write=2/minute",)
    async with limited(shared, clock, **limits) as one, limited(shared, clock, **limits) as two:
        user = await make_user()
        async with instance(one, address) as first, instance(two, address) as second:
            answers = [
                (await http.get(READ)).status_code for http in (first, second, first, second)
            ]
            assert answers == [404] * 4
            assert (await first.get(READ)).status_code == 429
            assert (await second.get(READ)).status_code == 429
        async with instance(one, a_new_address()) as first, instance(two, a_new_address()) as sec:
            assert (await first.post(READ, json={}, headers=user.headers)).status_code == 404
            assert (await sec.post(READ, json={}, headers=user.headers)).status_code == 404
            refused = await first.post(READ, json={}, headers=user.headers)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "60"


async def test_without_redis_the_workers_of_one_server_share_the_count(
    settings: Settings, clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {"rate_limits_per_address": ("records_read=2/minute",)}
    async with (
        limited(settings, clock, **limits) as one,
        limited(settings, clock, **limits) as two,
        instance(one) as first,
        instance(two) as second,
    ):  # apart: each counts its own
        answers = [(await http.get(READ)).status_code for http in (first, first, second)]
        assert answers == [404, 404, 404]
    monkeypatch.setenv(SERVER_FOLDER, str(tmp_path))  # as `minibase serve` names it to workers
    async with (
        limited(settings, clock, **limits) as one,
        limited(settings, clock, **limits) as two,
        instance(one) as first,
        instance(two) as second,
    ):
        answers = [(await http.get(READ)).status_code for http in (first, second, first)]
        assert answers == [404, 404, 429]
        assert (await second.get(READ)).status_code == 429
    assert (tmp_path / RATE_COUNTERS).exists()


def test_every_route_belongs_to_a_group_the_settings_name() -> None:
    groups = {group_of(endpoint) for endpoint in endpoints()}
    assert groups <= {*RATE_GROUPS, UNLIMITED}
    assert groups >= {"auth", "records_read", "records_write", "files", "functions", "admin"}
    auth = sorted(e.path for e in endpoints() if group_of(e) == "auth")
    assert auth == ["/api/admin/login", "/api/auth/refresh", "/api/auth/{platform}/login"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("records=10/minute", "no route group 'records'"),
        ("auth=ten/minute", "write group=N/second, N/minute or N/hour"),
        ("auth=0/minute", "write group=N/second"),
        ("auth=10/day", "write group=N/second"),
        ("auth", "write group=N/second"),
        ("auth=1/second,auth=2/second", "group auth is given twice"),
    ],
)
def test_a_bad_limit_is_refused_at_start_with_what_is_wrong(value: str, problem: str) -> None:
    none = Path("/nonexistent/minibase.toml")
    for variable in ("MINIBASE_RATE_LIMITS_PER_ADDRESS", "MINIBASE_RATE_LIMITS_PER_USER"):
        with pytest.raises(ConfigError, match=variable) as refused:
            load_settings(environ={variable: value}, config_file=none)
        assert problem in str(refused.value)


def test_limits_come_from_the_environment_or_a_toml_table(tmp_path: Path) -> None:
    loaded = load_settings(
        environ={"MINIBASE_RATE_LIMITS_PER_ADDRESS": "auth=30/minute, records_write=5/second"},
        config_file=tmp_path / "none.toml",
    )
    assert loaded.rate_limits_per_address == ("auth=30/minute", "records_write=5/second")
    toml = tmp_path / "minibase.toml"
    toml.write_text('[minibase.rate_limits_per_user]\nauth = "10/minute"\nfiles = "2/second"\n')
    loaded = load_settings(environ={}, config_file=toml)
    assert loaded.rate_limits_per_user == ("auth=10/minute", "files=2/second")


async def test_a_bad_limit_given_in_code_stops_the_services_from_opening(
    settings: Settings,
) -> None:
    with pytest.raises(ConfigError, match="no route group 'everything'"):
        await open_services(settings.replace(rate_limits_per_user=("everything=1/second",)))


async def test_with_redis_down_a_limited_request_answers_503_not_500(
    settings: Settings, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    down = settings.replace(cache_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    limits = {"rate_limits_per_address": ("records_write=5/minute",)}
    async with limited(down, clock, **limits) as services, instance(services) as http:
        answer = await http.post(READ, json={})
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "server.unavailable"
        assert "retry" in answer.json()["message"]
        assert "Redis" in caplog.text  # the operator learns which dependency is down
