"""Admin API over registered mini-program apps (secrets go in, never come out)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.apps import APPID, SECRET_FIELDS, PlatformApp, check_app, delete_app, save_app
from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_object
from minibase.http.routing import Routes, nullable
from minibase.platforms import PLATFORMS
from minibase.services import Services

routes = Routes("apps")

APP_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["platform", "appid"],
    "properties": {
        "platform": {"enum": list(PLATFORMS)},
        "appid": {
            "type": "string",
            "pattern": f"^{APPID.pattern}$",
            "description": "the app id (Baidu: the app key)",
        },
        "name": nullable({"type": "string"}),
        "account": nullable(
            {"type": "string", "description": "open-platform account (shared unionid)"}
        ),
        **{name: nullable({"type": "string", "writeOnly": True}) for name in SECRET_FIELDS},
    },
    "additionalProperties": False,
}
# PATCH: what it names changes; null or missing keeps the current value
_APP_CHANGES = {
    **APP_BODY,
    "required": [],
    "properties": {
        **APP_BODY["properties"],
        **{
            fixed: {"type": ["string", "null"], "description": "ignored: it never changes"}
            for fixed in ("platform", "appid")
        },
    },
}
APP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "platform": {"enum": list(PLATFORMS)},
        "appid": {"type": "string"},
        "name": {"type": "string"},
        "account": {"type": ["string", "null"]},
        **{f"has_{name}": {"type": "boolean"} for name in SECRET_FIELDS},
    },
}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
ACCESS_TOKEN = {
    "type": ["object", "null"],
    "description": "the app's shared platform access token (never its value); null for "
    "platforms called without one (Alipay, Baidu)",
    "properties": {
        "cached": {"type": "boolean", "description": "a token is stored and unexpired"},
        "expires_at": _WHEN,
        "refreshed_at": _WHEN,
        "refreshed_by": {
            "type": ["string", "null"],
            "description": "the process that fetched it (host:pid:random)",
        },
        "lease": {
            "type": "object",
            "description": "who is fetching a new token now, and until when at most",
            "properties": {
                "held": {"type": "boolean"},
                "owner": {"type": ["string", "null"]},
                "until": _WHEN,
            },
        },
        "refused": {
            "type": "boolean",
            "description": "the last token was refused or discarded: the next fetch forces one",
        },
    },
}
APP_WITH_TOKEN = {**APP, "properties": {**APP["properties"], "access_token": ACCESS_TOKEN}}
ONE = "/api/admin/apps/{platform}/{appid}"


async def _with_token(services: Services, app: PlatformApp) -> dict[str, Any]:
    status = await services.access_tokens.status(app)
    return {**app.public(), "access_token": status.public() if status is not None else None}


async def _registered_in_sandbox(services: Services, platform: str, appid: str) -> None:
    """In --dev the in-process sandbox learns every app, so logins work at once."""
    if services.sandbox is not None:
        from minibase.sandbox_wiring import register_app_in_sandbox

        await register_app_in_sandbox(services, await services.apps.get(platform, appid))


@routes.add(
    "GET",
    "/api/admin/apps",
    "List registered apps",
    access="admin",
    responses={
        200: (
            "Apps",
            {"type": "object", "properties": {"items": {"type": "array", "items": APP_WITH_TOKEN}}},
        )
    },
)
async def list_apps(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    apps = await services.apps.all()
    items = await asyncio.gather(*(_with_token(services, app) for app in apps))
    return json_response({"items": list(items)})


@routes.add(
    "POST",
    "/api/admin/apps",
    "Register an app (secrets are sealed, never returned)",
    access="admin",
    body=APP_BODY,
    responses={201: ("Registered", APP)},
)
async def create_app_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    values = check_app(await read_object(request, services.settings.max_body_bytes))
    if services.sandbox is not None:
        from minibase.sandbox_wiring import with_dev_credentials

        values = with_dev_credentials(values)
    async with services.db.transaction() as conn:
        app = await save_app(conn, services.apps, services.clock, services.ids, values)
    await services.apps.load()
    await _registered_in_sandbox(services, app.platform, app.appid)
    return json_response(app.public(), 201)


@routes.add(
    "GET",
    ONE,
    "Read an app (without its secrets) and the state of its access token",
    access="admin",
    responses={200: ("The app", APP_WITH_TOKEN)},
)
async def get_app_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    app = await services.apps.get(**request.path_params)
    return json_response(await _with_token(services, app))


@routes.add(
    "POST",
    f"{ONE}/token/refresh",
    "Replace the app's access token now, for every instance (WeChat: a forced stable_token)",
    access="admin",
    responses={
        200: ("The app, with its new token's state", APP_WITH_TOKEN),
        409: ("The platform has no access tokens (Alipay, Baidu)", None),
        502: ("The platform refused the app's credentials", None),
        503: ("The platform is unavailable or rate-limited", None),
    },
)
async def refresh_app_token(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    app = await services.apps.get(**request.path_params)
    await services.access_tokens.refresh(app)
    return json_response(await _with_token(services, app))


@routes.add(
    "PATCH",
    ONE,
    "Change an app's name, account or secrets (e.g. rotate the secret)",
    access="admin",
    body=_APP_CHANGES,
    responses={200: ("The app", APP)},
)
async def patch_app_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    current = await services.apps.get(**request.path_params)
    values = check_app(await read_object(request, services.settings.max_body_bytes), partial=True)
    for fixed in ("platform", "appid"):
        values.pop(fixed, None)
    async with services.db.transaction() as conn:
        app = await save_app(conn, services.apps, services.clock, services.ids, values, current)
    await services.apps.load()
    await _registered_in_sandbox(services, app.platform, app.appid)
    return json_response(app.public())


@routes.add(
    "DELETE",
    ONE,
    "Remove an app (its users keep their accounts)",
    access="admin",
    responses={204: ("Removed", None)},
)
async def delete_app_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    app = await services.apps.get(**request.path_params)
    async with services.db.transaction() as conn:
        await delete_app(conn, app)
    await services.apps.load()
    return Response(status_code=204)
