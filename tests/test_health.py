"""`GET /api/admin/health`: what an operator's page shows about an instance — version, uptime,
the database with a timed round trip and its schema version, the token store (database or
Redis) and whether it answers, file storage, jobs by state and how long the oldest due one has
waited, the scheduler and the message outbox — and never a password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from minibase import __version__
from minibase.app import create_app
from minibase.clock import FrozenClock, isoformat
from minibase.config import Settings
from minibase.health import redacted_url
from minibase.services import Services, open_services
from minibase.store.migrations import MIGRATIONS
from minibase.testing.plugin import Actor, MakeUser

HEALTH = "/api/admin/health"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    """On a frozen clock, so that uptime and waiting times are exact."""
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def report_of(services: Services, admin: Actor) -> httpx.Response:
    """The report of another instance with these services (its own settings)."""
    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
        return await http.get(HEALTH, headers=admin.headers)


async def test_the_report_of_a_healthy_instance(
    client: httpx.AsyncClient, admin: Actor, services: Services, clock: FrozenClock, backend: str
) -> None:
    started = clock.now()
    await services.jobs.enqueue("mail", {"n": 1})
    clock.advance(seconds=20)
    await services.jobs.enqueue("mail", {"n": 2})
    await services.jobs.enqueue("mail", {"n": 3}, run_at=clock.now() + timedelta(hours=1))
    clock.advance(seconds=10)

    answer = await client.get(HEALTH, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["status"], report["version"]) == ("ok", __version__)
    assert (report["started"], report["uptime_seconds"]) == (isoformat(started), 30)
    database = report["database"]
    assert (database["engine"], database["reachable"]) == (backend, True)
    assert database["round_trip_ms"] > 0
    latest = MIGRATIONS[-1]
    assert database["schema"]["version"] == database["schema"]["latest_known"] == latest.version
    assert database["schema"]["name"] == latest.name
    if backend == "sqlite":
        assert database["location"] == str(services.settings.sqlite_path)
    else:
        assert database["location"].startswith("postgresql://")
    assert report["cache"] == {
        "kind": "database",
        "location": None,
        "reachable": True,
        "round_trip_ms": report["cache"]["round_trip_ms"],
    }
    assert report["storage"] == {
        "kind": "disk",
        "location": str(services.settings.data_dir / "files"),
    }
    jobs = report["jobs"]
    assert jobs["counts"] == {
        "queued": 3,
        "running": 0,
        "succeeded": 0,
        "dead": 0,
        "cancelled": 0,
    }
    # the job due 30 s ago has waited longest; the one for later is not waiting for a worker
    assert jobs["oldest_due_seconds"] == 30
    assert report["scheduler"]["last_looked"] is None
    assert report["scheduler"]["interval_seconds"] == services.settings.scheduler_interval
    assert report["messages"] == {"queued": 0, "sent": 0, "failed": 0}
    assert report["realtime"] == {"connections": 0, "subscriptions": 0}


async def test_an_empty_queue_has_no_oldest_job(client: httpx.AsyncClient, admin: Actor) -> None:
    report = (await client.get(HEALTH, headers=admin.headers)).json()
    assert report["jobs"]["oldest_due_seconds"] is None


async def test_a_redis_store_is_probed_and_its_password_never_shown(
    settings: Settings, clock: FrozenClock, admin: Actor
) -> None:
    reachable = await open_services(settings.replace(cache_url=REDIS_URL), clock=clock)
    # nothing listens on port 1: unreachable at once
    locked = settings.replace(cache_url="redis://:s3cret-pw@127.0.0.1:1/0?password=s3cret-pw")
    unreachable = await open_services(locked, clock=clock)
    try:
        report = (await report_of(reachable, admin)).json()
        assert report["status"] == "ok"
        cache = report["cache"]
        assert (cache["kind"], cache["location"], cache["reachable"]) == (
            "redis",
            REDIS_URL,
            True,
        )
        assert cache["round_trip_ms"] > 0

        answer = await report_of(unreachable, admin)
        assert answer.status_code == 200
        report = answer.json()
        assert report["status"] == "degraded"
        assert report["cache"] == {
            "kind": "redis",
            "location": "redis://:***@127.0.0.1:1/0?password=***",
            "reachable": False,
            "round_trip_ms": None,
        }
        assert report["database"]["reachable"] is True
        assert "s3cret" not in answer.text
    finally:
        await reachable.close()
        await unreachable.close()


async def test_only_admins_read_the_report(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    assert (await client.get(HEALTH)).status_code == 401
    assert (await client.get(HEALTH, headers=user.headers)).status_code == 403


def test_urls_are_shown_without_their_secrets() -> None:
    assert (
        redacted_url("postgresql://minibase:hunter2@db.internal:5432/app?sslpassword=x&sslmode")
        == "postgresql://minibase:***@db.internal:5432/app?sslpassword=***&sslmode"
    )
    assert redacted_url("rediss://:hunter2@cache:6380/1") == "rediss://:***@cache:6380/1"
    assert redacted_url("postgresql://db/app") == "postgresql://db/app"
    assert redacted_url("https://s3.example.com") == "https://s3.example.com"
