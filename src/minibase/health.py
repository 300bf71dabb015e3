"""What an operator's health page shows about one instance, beyond `/api/health`: its version
and uptime, the database (engine, where, a timed round trip, the schema version), the store of
shared tokens (the database or Redis, and whether it answers), the file storage, the job queue
(counts by state, how long the oldest due job has waited), the scheduler and the subscribe
message outbox.

Facts only, never a secret: every URL is shown with its password and query values masked. Each
probe has a deadline, so an unreachable store makes the report slower by at most that much and
says so instead of failing it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from minibase import __version__
from minibase.clock import isoformat
from minibase.functions.sightings import last_looked
from minibase.services import Services
from minibase.store.migrations import MIGRATIONS, last_applied

PROBE_TIMEOUT = 2.0  # seconds a store may take to answer before it counts as unreachable


def redacted_url(url: str) -> str:
    """The URL with its password and every query value masked (`***`)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.partition(":")[0]
        netloc = f"{name}:***@{host}"
    query = "&".join(
        f"{pair.partition('=')[0]}=***" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


async def _probe(ping: Awaitable[None]) -> dict[str, Any]:
    """Whether the store answered within PROBE_TIMEOUT, and in how many milliseconds."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(ping, PROBE_TIMEOUT)
    except Exception:  # a timeout, a refused connection, any driver's error: not reachable
        return {"reachable": False, "round_trip_ms": None}
    elapsed = (time.perf_counter() - started) * 1000
    return {"reachable": True, "round_trip_ms": round(elapsed, 2)}


def _database_location(services: Services) -> str:
    settings = services.settings
    if settings.uses_sqlite:
        return str(settings.sqlite_path)
    return redacted_url(settings.database_url or "")


def _storage(services: Services) -> dict[str, Any]:
    settings = services.settings
    if settings.s3_bucket:
        return {
            "kind": "s3",
            "location": redacted_url(settings.s3_endpoint or ""),
            "bucket": settings.s3_bucket,
            "region": settings.s3_region,
        }
    return {"kind": "disk", "location": str(settings.data_dir / "files")}


async def _facts_in_database(services: Services) -> dict[str, Any]:
    """What the database holds about the running system: schema, jobs, scheduler, outbox."""
    now = services.clock.now()
    applied = await last_applied(services.db)
    counts = await services.jobs.counts()
    oldest = await services.jobs.oldest_due()
    looked = await last_looked(services.db)
    latest = MIGRATIONS[-1]
    return {
        "schema": {
            "version": applied.version if applied else 0,
            "name": applied.name if applied else None,
            "applied_at": applied.applied_at if applied else None,
            "latest_known": latest.version,
        },
        "jobs": {
            "counts": counts,
            "oldest_due_seconds": None if oldest is None else (now - oldest).total_seconds(),
        },
        "scheduler_last_looked": None if looked is None else isoformat(looked),
        "messages": await services.messages.counts(),
    }


async def health_report(services: Services) -> dict[str, Any]:
    """The report `GET /api/admin/health` answers (see docs/architecture.md#health)."""
    settings = services.settings
    now = services.clock.now()
    database = await _probe(services.db.ping())
    cache = await _probe(services.access_tokens.ping_store())
    held: dict[str, Any] = {}
    if database["reachable"]:
        try:
            held = await asyncio.wait_for(_facts_in_database(services), PROBE_TIMEOUT)
        except Exception:  # it went away between the two
            database = {**database, "reachable": False}
    schema = held.get("schema")
    jobs = held.get("jobs", {"counts": None, "oldest_due_seconds": None})
    healthy = database["reachable"] and cache["reachable"]
    return {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "started": isoformat(services.started),
        "uptime_seconds": round((now - services.started).total_seconds(), 3),
        "database": {
            "engine": services.db.dialect.name,
            "location": _database_location(services),
            **database,
            "schema": schema,
        },
        "cache": {
            "kind": "redis" if settings.cache_url else "database",
            "location": redacted_url(settings.cache_url) if settings.cache_url else None,
            **cache,
        },
        "storage": _storage(services),
        "jobs": {"runs_here": settings.run_jobs, **jobs},
        "scheduler": {
            "runs_here": settings.run_jobs,
            "interval_seconds": settings.scheduler_interval,
            "last_looked": held.get("scheduler_last_looked"),
        },
        "messages": held.get("messages"),
        "realtime": {  # this instance's sockets
            "connections": services.realtime.connections,
            "subscriptions": services.realtime.subscriptions,
        },
    }
