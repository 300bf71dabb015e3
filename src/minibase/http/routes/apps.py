"""Admin API over registered mini-program apps (secrets go in, never come out)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.apps import APPID, SECRET_FIELDS, check_app, delete_app, save_app
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
APP = {
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
ONE = "/api/admin/apps/{platform}/{appid}"


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
        200: ("Apps", {"type": "object", "properties": {"items": {"type": "array", "items": APP}}})
    },
)
async def list_apps(request: Request) -> Response:
    await require_admin(request)
    apps = await services_of(request).apps.all()
    return json_response({"items": [app.public() for app in apps]})


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
    "Read an app (without its secrets)",
    access="admin",
    responses={200: ("The app", APP)},
)
async def get_app_route(request: Request) -> Response:
    await require_admin(request)
    app = await services_of(request).apps.get(**request.path_params)
    return json_response(app.public())


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
