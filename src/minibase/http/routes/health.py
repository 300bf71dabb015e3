"""Liveness and readiness for load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase import __version__
from minibase.http.auth import services_of
from minibase.http.json import json_response
from minibase.http.routing import Routes
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


@routes.add(
    "GET",
    "/api/health",
    "Is the server up and its database reachable?",
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
