"""`GET /metrics`: requests counted and timed by route template (never the raw path), the
database pool, the job queue and its oldest due job, the message outbox, platform errors by
errcode and realtime sockets — in Prometheus' text format, for a scraper on this machine or one
holding the metrics token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from minibase import __version__
from minibase.app import create_app
from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.http.login.conftest import sign_in
from tests.observability.conftest import parse, scrape, value

NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}},
    "rules": {"preset": "public_read_owner_write"},
}
RECORDS = "/api/collections/{name}/records"


async def test_requests_are_counted_and_timed_by_route_template_method_and_status_class(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    created = await client.post("/api/admin/collections", json=NOTES, headers=admin.headers)
    assert created.status_code == 201, created.text
    for _ in range(2):
        assert (await client.get("/api/collections/notes/records")).status_code == 200
    assert (await client.get("/api/collections/ghosts/records")).status_code == 404

    scraped = await scrape(client)

    ok = {"route": RECORDS, "method": "GET", "status": "2xx"}
    assert value(scraped, "minibase_http_requests_total", **ok) == 2
    assert value(scraped, "minibase_http_requests_total", **{**ok, "status": "4xx"}) == 1
    assert value(scraped, "minibase_http_request_duration_seconds_count", **ok) == 2
    assert value(scraped, "minibase_http_request_duration_seconds_bucket", **ok, le="+Inf") == 2
    buckets = [
        s.value
        for s in scraped["minibase_http_request_duration_seconds"]
        if s.name.endswith("_bucket") and ok.items() <= s.labels.items()
    ]
    assert len(buckets) == 12  # 11 bounds and +Inf
    assert buckets == sorted(buckets)  # cumulative
    assert value(scraped, "minibase_http_request_duration_seconds_sum", **ok) > 0
    routes = {s.labels.get("route") for s in scraped["minibase_http_requests"]}
    assert "/api/collections/notes/records" not in routes  # the template, never the raw path
    assert "/api/admin/collections" in routes


async def test_unknown_paths_and_made_up_methods_share_one_label_each(
    client: httpx.AsyncClient,
) -> None:
    for n in range(3):
        assert (await client.get(f"/no/such/path/{n}")).status_code == 404
    assert (await client.request("BREW", "/api/health")).status_code == 405

    scraped = await scrape(client)

    assert value(scraped, "minibase_http_requests_total", route="(unmatched)", method="GET") == 3
    assert value(scraped, "minibase_http_requests_total", method="OTHER", status="4xx") == 1
    assert value(scraped, "minibase_http_requests_total", method="BREW") is None


async def test_the_scrape_itself_is_in_flight_while_it_is_answered(
    client: httpx.AsyncClient,
) -> None:
    scraped = await scrape(client)
    assert value(scraped, "minibase_http_requests_in_flight") == 1
    assert value(scraped, "minibase_database_up") == 1
    assert value(scraped, "minibase_info", version=__version__) == 1


async def test_the_database_pool_is_described_for_its_engine(
    client: httpx.AsyncClient, settings: Settings, backend: str
) -> None:
    scraped = await scrape(client)
    assert value(scraped, "minibase_info", engine=backend) == 1
    if backend == "sqlite":
        assert value(scraped, "minibase_db_pool_size") == settings.sqlite_readers
        assert value(scraped, "minibase_db_queue_waiting", queue="writer") == 0
        assert value(scraped, "minibase_db_queue_waiting", queue="reader") == 0
        assert value(scraped, "minibase_db_pool_in_use") is None
    else:
        assert value(scraped, "minibase_db_pool_size") == settings.postgres_pool_size
        opened = value(scraped, "minibase_db_pool_open")
        in_use = value(scraped, "minibase_db_pool_in_use")
        assert opened is not None
        assert in_use is not None
        assert 1 <= opened <= settings.postgres_pool_size
        assert value(scraped, "minibase_db_queue_waiting", queue="connection") == 0
        assert 0 <= in_use <= opened


@pytest.fixture
async def frozen_services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def test_queue_depth_and_the_age_of_the_oldest_due_job_are_read_at_scrape_time(
    frozen_services: Services, clock: FrozenClock
) -> None:
    jobs = frozen_services.jobs
    await jobs.enqueue("mail", {"n": 1})
    clock.advance(seconds=20)
    await jobs.enqueue("mail", {"n": 2})
    await jobs.enqueue("mail", {"n": 3}, run_at=clock.now() + timedelta(hours=1))
    clock.advance(seconds=10)
    transport = httpx.ASGITransport(
        app=create_app(frozen_services.settings, services=frozen_services)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
        scraped = await scrape(http)
        assert value(scraped, "minibase_jobs", state="queued") == 3
        assert value(scraped, "minibase_jobs", state="running") == 0
        assert value(scraped, "minibase_jobs_oldest_due_age_seconds") == 30

        claimed = await jobs.claim("worker-1", limit=5, lease_seconds=30)
        assert len(claimed) == 2
        scraped = await scrape(http)
        assert value(scraped, "minibase_jobs", state="running") == 2
        assert value(scraped, "minibase_jobs_oldest_due_age_seconds") == 0  # none waits now


async def test_queued_subscribe_messages_are_the_outbox_depth(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    await register_app("wechat", "wx-outbox")
    session = await sign_in(client, sandbox, "wechat", "wx-outbox", "ann")
    assert value(await scrape(client), "minibase_subscribe_messages_queued") == 0
    queued = await client.post(
        "/api/messages/subscribe",
        json={"user": session["user"]["id"], "template_id": "tmpl-1", "data": {"thing1": "tea"}},
        headers=admin.headers,
    )
    assert queued.status_code == 202, queued.text
    assert value(await scrape(client), "minibase_subscribe_messages_queued") == 1


async def test_platform_errors_are_counted_by_platform_kind_and_errcode(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("wechat", "wx-errors")
    for _ in range(2):
        refused = await client.post(
            "/api/auth/wechat/login", json={"appid": "wx-errors", "code": "not-a-real-code"}
        )
        assert refused.status_code == 400, refused.text
    await sign_in(client, sandbox, "wechat", "wx-errors", "ann")  # a success counts nothing

    scraped = await scrape(client)

    assert scraped["minibase_platform_errors"] == [
        s for s in scraped["minibase_platform_errors"] if s.labels["platform"] == "wechat"
    ]
    assert (
        value(
            scraped,
            "minibase_platform_errors_total",
            platform="wechat",
            kind="invalid_code",
            errcode="40029",
        )
        == 2
    )
    assert len(scraped["minibase_platform_errors"]) == 1


async def test_a_scrape_while_the_database_is_down_says_so_and_still_answers(
    client: httpx.AsyncClient, services: Services
) -> None:
    await services.db.close()
    scraped = await scrape(client)
    assert value(scraped, "minibase_database_up") == 0
    assert "minibase_jobs" not in scraped
    assert value(scraped, "minibase_http_requests_in_flight") == 1


# -- who may scrape -----------------------------------------------------------------------


def _client(app: object, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://minibase.test")


async def test_without_a_token_only_loopback_clients_not_relayed_by_a_proxy_may_scrape(
    services: Services,
) -> None:
    app = create_app(services.settings, services=services)
    for peer in ("127.0.0.1", "::1"):
        async with _client(app, peer) as local:
            assert (await local.get("/metrics")).status_code == 200
    async with _client(app, "203.0.113.9") as remote:
        refused = await remote.get("/metrics")
    assert (refused.status_code, refused.json()["code"]) == (403, "metrics.forbidden")
    async with _client(app) as through_a_local_proxy:
        relayed = await through_a_local_proxy.get(
            "/metrics", headers={"X-Forwarded-For": "198.51.100.7"}
        )
    assert (relayed.status_code, relayed.json()["code"]) == (403, "metrics.forbidden")


@pytest.fixture
async def token_services(settings: Settings) -> AsyncIterator[Services]:
    opened = await open_services(settings.replace(metrics_token=TOKEN))
    try:
        yield opened
    finally:
        await opened.close()


TOKEN = "scrape-token-0123456789"


async def test_with_a_token_any_client_holding_it_may_scrape_and_no_other(
    token_services: Services,
) -> None:
    token = TOKEN
    app = create_app(token_services.settings, services=token_services)
    async with _client(app, "203.0.113.9") as remote:
        allowed = await remote.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200
        assert "minibase_http_requests_total" in allowed.text
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = await remote.get("/metrics", headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (401, "metrics.invalid_token")
    async with _client(app) as local:  # loopback is no exception once a token is set
        assert (await local.get("/metrics")).status_code == 401


def test_the_text_has_one_help_and_type_line_per_family() -> None:
    from minibase.observability.exposition import Family, render

    family = Family("x_total", "counter", 'a "quoted" help\nover two lines')
    family.add(3, (("path", 'C:\\dir "x"\n'),))
    text = render([family])
    assert text.splitlines()[:2] == [
        '# HELP x_total a "quoted" help\\nover two lines',
        "# TYPE x_total counter",
    ]
    (sample,) = parse(text)["x"]
    assert (sample.labels, sample.value) == ({"path": 'C:\\dir "x"\n'}, 3)
