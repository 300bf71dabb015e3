"""GET /api/openapi.json."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import services_of
from minibase.http.json import json_response
from minibase.http.openapi import build_openapi
from minibase.http.routing import Routes

routes = Routes("meta")


@routes.add(
    "GET",
    "/api/openapi.json",
    "This document: OpenAPI 3.1 of every route",
    responses={200: ("The OpenAPI document", {"type": "object"})},
)
async def openapi(request: Request) -> Response:
    endpoints = request.app.state.endpoints
    collections = await services_of(request).collections.all()
    return json_response(build_openapi(endpoints, collections))
