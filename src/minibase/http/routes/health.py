"""Liveness and readiness for load balancers; an operator's report for admins."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase import __version__
from minibase.health import health_report
from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response
from minibase.http.routing import Routes
from minibase.observability.readiness import unready
from minibase.store.database import DatabaseUnavailable

routes = Routes("health")

_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"enum": ["ok", "unavailable"]},
        "database": {"type": "string"},
        "version": {"type": "string"},
    },
}


_LIVE = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "alive"}, "version": {"type": "string"}},
}


@routes.add(
    "GET",
    "/api/live",
    "Does the process answer? The liveness probe: it touches no database, so an outage of the"
    " database makes instances unready (`/api/ready`), never restarted",
    rate_group="unlimited",  # the orchestrator's probe
    responses={200: ("Alive", _LIVE)},
)
async def live(request: Request) -> Response:
    return json_response({"status": "alive", "version": __version__})


@routes.add(
    "GET",
    "/api/health",
    "Is the server up and its database reachable?",
    rate_group="unlimited",  # the load balancer's probe
    responses={200: ("Healthy", _HEALTH), 503: ("The database is unreachable", _HEALTH)},
)
async def health(request: Request) -> Response:
    services = services_of(request)
    try:
        await services.db.ping()
    except (DatabaseUnavailable, OSError):
        body = {"status": "unavailable", "database": "unreachable", "version": __version__}
        return json_response(body, 503)
    body = {"status": "ok", "database": services.db.dialect.name, "version": __version__}
    return json_response(body)


_READY = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "ready"}, "version": {"type": "string"}},
}


@routes.add(
    "GET",
    "/api/ready",
    "May this instance take traffic? 503 with a code while its database is unreachable"
    " (server.unavailable), behind the code (server.migrations_pending), or while it shuts"
    " down (server.shutting_down). `/api/live` is the liveness probe",
    rate_group="unlimited",  # the load balancer's probe
    responses={
        200: ("Ready", _READY),
        503: ("Not ready: the code says why", {"$ref": "#/components/schemas/Error"}),
    },
)
async def ready(request: Request) -> Response:
    reason = await unready(services_of(request))
    if reason is not None:
        raise reason
    return json_response({"status": "ready", "version": __version__})


_MS = {"type": ["number", "null"], "description": "a timed round trip, null if unreachable"}
_STORE_PROPERTIES: dict[str, Any] = {
    "location": {"type": ["string", "null"], "description": "with any password masked"},
    "reachable": {"type": "boolean"},
    "round_trip_ms": _MS,
}
_COUNTS = {"type": ["object", "null"], "additionalProperties": {"type": "integer"}}
_REPORT = {
    "type": "object",
    "required": ["status", "version", "uptime_seconds", "database", "cache", "storage", "jobs"],
    "properties": {
        "status": {"enum": ["ok", "degraded"], "description": "degraded: a store is unreachable"},
        "version": {"type": "string"},
        "started": {"type": "string", "format": "date-time"},
        "uptime_seconds": {"type": "number"},
        "database": {
            "type": "object",
            "properties": {
                "engine": {"enum": ["sqlite", "postgres"]},
                **_STORE_PROPERTIES,
                "schema": {
                    "type": ["object", "null"],
                    "properties": {
                        "version": {"type": "integer"},
                        "name": {"type": ["string", "null"]},
                        "applied_at": {"type": ["string", "null"]},
                        "latest_known": {"type": "integer"},
                    },
                },
            },
        },
        "cache": {
            "type": "object",
            "properties": {"kind": {"enum": ["database", "redis"]}, **_STORE_PROPERTIES},
        },
        "storage": {
            "type": "object",
            "properties": {
                "kind": {"enum": ["disk", "s3"]},
                "location": {"type": "string"},
                "bucket": {"type": "string"},
                "region": {"type": "string"},
            },
        },
        "jobs": {
            "type": "object",
            "properties": {
                "runs_here": {"type": "boolean"},
                "counts": _COUNTS,
                "oldest_due_seconds": {
                    "type": ["number", "null"],
                    "description": "how long the queued job due longest ago has waited",
                },
            },
        },
        "scheduler": {
            "type": "object",
            "properties": {
                "runs_here": {"type": "boolean"},
                "interval_seconds": {"type": "number"},
                "last_looked": {"type": ["string", "null"]},
            },
        },
        "messages": _COUNTS,
    },
}


@routes.add(
    "GET",
    "/api/admin/health",
    "What an operator needs to know about this instance: version, uptime, the database, the"
    " cache, file storage, jobs, the scheduler and the message outbox (no secrets)",
    access="admin",
    responses={200: ("The report (also when a store is unreachable: see status)", _REPORT)},
)
async def admin_health(request: Request) -> Response:
    await require_admin(request)
    return json_response(await health_report(services_of(request)))
