"""Users: admin management and token issue, and the user's own session endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.identities import shown_users
from minibase.auth.merges import delete_user_and_history, get_user_or_merged, merged_from
from minibase.auth.users import (
    MAX_PROFILE_BYTES,
    MAX_ROLES,
    ROLE,
    User,
    check_profile,
    check_roles,
    find_user_by_phone,
    get_user,
    insert_user,
    list_users,
    update_user,
)
from minibase.errors import ApiError
from minibase.http.auth import client_address, require_admin, require_user, services_of
from minibase.http.json import json_response, read_json, read_object
from minibase.http.paging import declared_only, limit_param, next_page, page_answer, page_limit
from minibase.http.routing import Routes
from minibase.platforms import PLATFORMS

routes = Routes("users")

USER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "profile": {"type": "object"},
        "phone": {"type": ["string", "null"], "description": "masked, e.g. 138****8000"},
        "disabled": {"type": "boolean"},
        "created": {"type": "string", "format": "date-time"},
        "updated": {"type": "string", "format": "date-time"},
    },
}
IDENTITY: dict[str, Any] = {
    "type": "object",
    "description": "a platform account the user signs in with (a merge brings its identities)",
    "properties": {
        "platform": {"enum": list(PLATFORMS)},
        "appid": {"type": "string"},
        "openid": {"type": ["string", "null"], "description": "null for a Douyin guest"},
        "unionid": {"type": ["string", "null"]},
        "created": {
            "type": "string",
            "format": "date-time",
            "description": "its first sign-in",
        },
        "guest": {
            "type": "boolean",
            "description": "a Douyin guest (tt.login's anonymousCode), known by anonymous_openid",
        },
        "anonymous_openid": {
            "type": "string",
            "description": "Douyin: the guest's, or the one sent beside a login code",
        },
    },
    "required": ["platform", "appid", "openid", "unionid", "created", "guest"],
}
LINKED_USER: dict[str, Any] = {
    **USER,
    "properties": {**USER["properties"], "identities": {"type": "array", "items": IDENTITY}},
    "required": ["identities"],
}
MERGE: dict[str, Any] = {
    "type": "object",
    "description": "an account merged into this one (gone since; its id answers 404 with"
    " details.merged_into)",
    "properties": {
        "user": {"type": "string", "description": "the account merged away"},
        "into": {
            "type": "string",
            "description": "the account it went into: this one, or one merged into it later",
        },
        "merged_at": {"type": "string", "format": "date-time"},
        "identities": {
            "type": "array",
            "description": "the platform identities it had, which came with it (a Douyin"
            " guest's was retired)",
            "items": {
                "type": "object",
                "properties": {
                    "platform": {"enum": list(PLATFORMS)},
                    "appid": {"type": "string"},
                    "openid": {"type": ["string", "null"], "description": "null for a guest"},
                    "guest": {"type": "boolean"},
                    "anonymous_openid": {"type": "string"},
                },
                "required": ["platform", "appid", "openid", "guest"],
            },
        },
        "records": {"type": "integer", "description": "the records it owned, which moved"},
    },
    "required": ["user", "into", "merged_at", "identities", "records"],
}
USER_WITH_HISTORY: dict[str, Any] = {
    **LINKED_USER,
    "properties": {
        **LINKED_USER["properties"],
        "merged_from": {
            "type": "array",
            "description": "accounts merged into this one, directly or through another, newest"
            " first",
            "items": MERGE,
        },
    },
    "required": [*LINKED_USER["required"], "merged_from"],
}
TOKENS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "refresh_expires_in": {"type": "integer"},
    },
}
_REFRESH = {
    "type": "object",
    "required": ["refresh_token"],
    "properties": {"refresh_token": {"type": "string", "minLength": 1, "maxLength": 512}},
}
_NEW_USER: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "no body, or null: a user without roles or profile",
    "properties": {
        "roles": {
            "type": "array",
            "maxItems": MAX_ROLES,
            "items": {"type": "string", "pattern": ROLE.pattern},
        },
        "profile": {"type": "object", "description": f"at most {MAX_PROFILE_BYTES} bytes as JSON"},
    },
    "additionalProperties": False,
}
_USER_CHANGES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**_NEW_USER["properties"], "disabled": {"type": "boolean"}},
}


@routes.add(
    "POST",
    "/api/admin/users",
    "Create a user",
    access="admin",
    body=_NEW_USER,
    body_required=False,  # no body: a user without roles or profile
    responses={201: ("Created", LINKED_USER)},
)
async def create_user(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_json(request, services.settings.max_body_bytes, required=False)
    body = {} if body is None else body
    if not isinstance(body, dict) or set(body) - {"roles", "profile"}:
        raise ApiError("request.invalid_body", 400, "expected {roles: [...], profile: {...}}")
    roles = check_roles(body.get("roles", []))
    profile = check_profile(body.get("profile", {}))
    async with services.db.transaction() as conn:
        user = await insert_user(conn, services.clock, services.ids, roles, profile)
        (shown,) = await shown_users(conn, [user])
    return json_response(shown, 201)


LIST_QUERY = (
    ("after", "next_after of the page before (users are in id order)", {"type": "string"}),
    limit_param(50),
    ("phone", "the user with this phone number: +8613800138000 or 13800138000", {"type": "string"}),
    (
        "openid",
        "the users with a platform identity of this openid, in any app (one, but the list"
        " shape: two apps may give the same openid by chance)",
        {"type": "string", "minLength": 1},
    ),
    (
        "unionid",
        "the users with a platform identity of this unionid",
        {"type": "string", "minLength": 1},
    ),
)
SEARCHES = ("phone", "openid", "unionid")


@routes.add(
    "GET",
    "/api/admin/users",
    "List users with their platform identities (in id order, paged by `after`), or find them"
    " by phone, openid or unionid (one of the three)",
    access="admin",
    query=LIST_QUERY,
    responses={200: ("Users", page_answer(LINKED_USER, "after"))},
)
async def list_users_route(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, LIST_QUERY)
    services = services_of(request)
    limit = page_limit(request, default=50)
    after = request.query_params.get("after")
    search = _search(request)
    async with services.db.reader() as conn:
        if "phone" in search:  # by the keyed hash: no row is decrypted
            found = await find_user_by_phone(conn, services.vault, search["phone"])
            in_page = after is None or (found is not None and found.id > after)
            fetched: Sequence[User] = [found] if found is not None and in_page else []
        else:
            fetched = await list_users(conn, after=after, limit=limit + 1, **search)
        users, next_after = next_page(fetched, limit, lambda user: user.id)
        items = await shown_users(conn, users)
    return json_response({"items": items, "next_after": next_after})


def _search(request: Request) -> dict[str, str]:
    """The search the list was asked for: one of phone, openid and unionid, or none."""
    given = {name: request.query_params[name] for name in SEARCHES if name in request.query_params}
    if len(given) > 1:
        message = f"search by one of {', '.join(SEARCHES)} at a time, not {' and '.join(given)}"
        raise ApiError("request.invalid_query", 400, message)
    empty = [name for name, value in given.items() if name != "phone" and not value]
    if empty:
        raise ApiError("request.invalid_query", 400, f"{empty[0]} is empty")
    return given


@routes.add(
    "GET",
    "/api/admin/users/{id}",
    "Read a user, with their platform identities and the accounts merged into theirs",
    access="admin",
    responses={200: ("The user", USER_WITH_HISTORY)},
)
async def get_user_route(request: Request) -> Response:
    await require_admin(request)
    async with services_of(request).db.reader() as conn:
        user = await get_user_or_merged(conn, request.path_params["id"])
        (shown,) = await shown_users(conn, [user])
        merges = await merged_from(conn, user.id)
    return json_response({**shown, "merged_from": [merge.public() for merge in merges]})


@routes.add(
    "PATCH",
    "/api/admin/users/{id}",
    "Change a user's roles, profile or disabled flag",
    access="admin",
    body=_USER_CHANGES,
    responses={200: ("The user", LINKED_USER)},
)
async def patch_user(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    if set(body) - {"roles", "profile", "disabled"}:
        raise ApiError("request.invalid_body", 400, "only roles, profile and disabled change")
    changes: dict[str, Any] = {}
    if "roles" in body:
        changes["roles"] = check_roles(body["roles"])
    if "profile" in body:
        changes["profile"] = check_profile(body["profile"])
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise ApiError("request.invalid_body", 400, "disabled is true or false")
        changes["disabled"] = body["disabled"]
    async with services.db.transaction() as conn:
        user = await get_user_or_merged(conn, request.path_params["id"])
        user = await update_user(conn, services.clock, user, **changes)
        if changes.get("disabled"):
            await services.sessions.revoke_user(conn, user.id)
        (shown,) = await shown_users(conn, [user])
    services.revocations.changed()
    return json_response(shown)


@routes.add(
    "DELETE",
    "/api/admin/users/{id}",
    "Delete a user, their identities, sessions and merge history; their access tokens stop",
    access="admin",
    responses={204: ("Deleted", None)},
)
async def delete_user_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    async with services.db.transaction() as conn:
        user = await get_user_or_merged(conn, request.path_params["id"])
        await delete_user_and_history(conn, services.clock, user)
    services.revocations.changed()
    return Response(status_code=204)


@routes.add(
    "POST",
    "/api/admin/users/{id}/tokens",
    "Issue an access + refresh token pair for a user (for tests, tools and curl)",
    access="admin",
    responses={
        200: (
            "Tokens",
            {"type": "object", "properties": {**TOKENS["properties"], "user": LINKED_USER}},
        )
    },
)
async def issue_tokens(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    async with services.db.transaction() as conn:
        user = await get_user_or_merged(conn, request.path_params["id"])
        pair = await services.sessions.issue(conn, user)
        (shown,) = await shown_users(conn, [user])
    return json_response({**pair.to_json(), "user": shown})


@routes.add(
    "POST",
    "/api/admin/users/{id}/revoke",
    "Sign a user out everywhere: every refresh token is revoked, every access token stops",
    access="admin",
    responses={200: ("How many refresh tokens were revoked", {"type": "object"})},
)
async def revoke_user_tokens(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    async with services.db.transaction() as conn:
        user = await get_user_or_merged(conn, request.path_params["id"])
        revoked = await services.sessions.sign_out_everywhere(conn, user.id)
    services.revocations.changed()
    return json_response({"revoked": revoked})


@routes.add(
    "POST",
    "/api/auth/refresh",
    "Trade a refresh token for a new pair (the old one stops working)",
    rate_group="auth",
    body=_REFRESH,
    responses={
        200: ("Tokens", TOKENS),
        401: ("Invalid or reused", None),
        429: ("Too many invalid refresh tokens from this address: see Retry-After", None),
    },
)
async def refresh(request: Request) -> Response:
    services = services_of(request)
    token = await _refresh_token(request)
    pair = await services.throttle.guard(
        lambda: services.sessions.rotate(services.db, token),
        [(services.throttle.limits.refresh_address, client_address(request))],
        failures={"auth.invalid_refresh_token", "auth.refresh_token_reused"},
    )
    return json_response(pair.to_json())


@routes.add(
    "POST",
    "/api/auth/logout",
    "Revoke the session a refresh token belongs to",
    body=_REFRESH,
    responses={204: ("Signed out", None)},
)
async def logout(request: Request) -> Response:
    services = services_of(request)
    await services.sessions.revoke_token(services.db, await _refresh_token(request))
    return Response(status_code=204)


@routes.add(
    "GET",
    "/api/auth/me",
    "The calling user, with their platform identities",
    access="user",
    responses={200: ("The user", LINKED_USER)},
)
async def me(request: Request) -> Response:
    caller = await require_user(request)
    assert caller.id is not None
    async with services_of(request).db.reader() as conn:
        user = await get_user(conn, caller.id)
        (shown,) = await shown_users(conn, [user])
    return json_response(shown)


async def _refresh_token(request: Request) -> str:
    body = await read_object(request, services_of(request).settings.max_body_bytes)
    token = body.get("refresh_token")
    if not isinstance(token, str) or not token or len(token) > 512:
        raise ApiError("request.invalid_body", 400, "refresh_token is a string")
    return token
