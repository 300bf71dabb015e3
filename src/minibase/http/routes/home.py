"""GET /: what this server is, and where its API is described (instead of a bare 404)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase import __version__
from minibase.http.auth import services_of
from minibase.http.json import json_response
from minibase.http.routing import Routes

routes = Routes("meta")

LINKS = {
    "openapi": "/api/openapi.json",
    "docs": "/api/docs",
    "console": "/_/",
    "health": "/api/health",
}

_HOME = {
    "type": "object",
    "required": ["name", "version", "links"],
    "properties": {
        "name": {"const": "minibase"},
        "version": {"type": "string"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
        "sandbox": {"type": "string", "description": "in --dev: the platforms' sandbox"},
    },
}


@routes.add(
    "GET",
    "/",
    "This server: its name, version, and links to the API's description and health",
    responses={200: ("The server", _HOME)},
)
async def home(request: Request) -> Response:
    settings = services_of(request).settings
    body: dict[str, Any] = {"name": "minibase", "version": __version__, "links": LINKS}
    if settings.dev and settings.sandbox_url:
        body["sandbox"] = settings.sandbox_url
    return json_response(body)
