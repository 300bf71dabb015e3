"""Admin sign-in and sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.admins import authenticate_admin, issue_admin_token, sign_out_admin
from minibase.errors import ApiError
from minibase.http.auth import client_address, require_admin_token, services_of
from minibase.http.json import json_response, read_object
from minibase.http.routing import Routes

routes = Routes("admin")

_LOGIN = {
    "type": "object",
    "required": ["email", "password"],
    "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
}
_TOKEN = {
    "type": "object",
    "properties": {
        "token": {"type": "string"},
        "expires_in": {"type": "integer"},
        "admin": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "email": {"type": "string"}},
        },
    },
}


@routes.add(
    "POST",
    "/api/admin/login",
    "Sign in as an admin; returns an admin access token",
    rate_group="auth",
    body=_LOGIN,
    responses={
        200: ("An admin token", _TOKEN),
        401: ("Wrong credentials", None),
        429: ("Too many failed attempts for this account or address: see Retry-After", None),
    },
)
async def admin_login(request: Request) -> Response:
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ApiError("request.invalid_body", 400, "email and password are strings")
    limits = services.throttle.limits
    admin = await services.throttle.guard(
        lambda: authenticate_admin(services.db, email, password),
        [
            (limits.admin_account, email.strip().lower()),
            (limits.admin_address, client_address(request)),
        ],
        failures={"auth.invalid_credentials"},
    )
    ttl = services.settings.admin_token_ttl
    token = issue_admin_token(services.signer, services.ids, admin, ttl)
    return json_response(
        {"token": token, "expires_in": ttl, "admin": {"id": admin.id, "email": admin.email}}
    )


@routes.add(
    "POST",
    "/api/admin/logout",
    "Sign out: the admin token of this request stops working, on every instance",
    access="admin",
    responses={
        204: ("Signed out", None),
        400: ("A token issued before sign-out existed: it has no session to end", None),
    },
)
async def admin_logout(request: Request) -> Response:
    claims = await require_admin_token(request)
    services = services_of(request)
    await sign_out_admin(services.db, services.clock, services.revocations, claims)
    return Response(status_code=204)
