"""Platform login, phone numbers, platform profiles and account merges, as the client calls them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.accounts import bind_phone, merge_accounts
from minibase.auth.identities import shown_users
from minibase.auth.login import MAX_CODE_LENGTH, login
from minibase.auth.phones import verify_phone
from minibase.auth.profiles import update_platform_profile
from minibase.auth.users import User
from minibase.http.auth import client_address, require_user, services_of
from minibase.http.json import json_response, read_object
from minibase.http.routes.users import IDENTITY, LINKED_USER, TOKENS
from minibase.http.routing import Routes
from minibase.services import Services

routes = Routes("login")

_CODE = {"type": "string", "minLength": 1, "maxLength": MAX_CODE_LENGTH}
LOGIN_BODY = {
    "type": "object",
    "description": "code; on Douyin also anonymous_code (tt.login's anonymousCode), beside the"
    " code or alone for a guest (a person not logged in to the Douyin app)",
    "required": ["appid"],
    "properties": {
        "appid": {"type": "string", "minLength": 1},
        "code": {
            **_CODE,
            "description": "from wx.login / my.getAuthCode / tt.login / "
            "swan.getLoginCode / qq.login",
        },
        "anonymous_code": {**_CODE, "description": "Douyin only: tt.login's anonymousCode"},
    },
    "anyOf": [{"required": ["code"]}, {"required": ["anonymous_code"]}],
}
LOGIN_RESULT = {
    "type": "object",
    "properties": {
        **TOKENS["properties"],
        "user": LINKED_USER,
        "identity": IDENTITY,
        "is_new_user": {"type": "boolean"},
        "merged_guest": {
            "type": ["string", "null"],
            "description": "Douyin: the guest account that joined this one (and is gone)",
        },
    },
}
PHONE_BODY = {
    "type": "object",
    "description": "WeChat: {code}; WeChat (older), QQ, Douyin, Baidu: {encrypted_data, iv}; "
    "Alipay: {response, sign} as my.getPhoneNumber returns them",
    "properties": {
        name: {"type": "string", "minLength": 1}
        for name in ("code", "encrypted_data", "iv", "response", "sign")
    },
    "anyOf": [
        {"required": ["code"]},
        {"required": ["encrypted_data", "iv"]},
        {"required": ["response", "sign"]},
    ],
}
PROFILE_BODY = {
    "type": "object",
    "description": "{raw_data, signature} or {encrypted_data, iv} from the platform's user info",
    "properties": {
        name: {"type": "string", "minLength": 1}
        for name in ("raw_data", "signature", "encrypted_data", "iv")
    },
    "anyOf": [{"required": ["raw_data", "signature"]}, {"required": ["encrypted_data", "iv"]}],
}


@routes.add(
    "POST",
    "/api/auth/{platform}/login",
    "Sign in with a platform login code: the same answer on every platform",
    rate_group="auth",
    body=LOGIN_BODY,
    responses={
        200: ("Tokens, the user and the platform identity", LOGIN_RESULT),
        400: ("Invalid, used or expired code", None),
        404: ("No such platform or app", None),
        502: ("The platform refused the app's credentials", None),
        429: ("Too many refused codes from this address: see Retry-After", None),
        503: ("The platform is unavailable or rate-limited", None),
    },
)
async def platform_login(request: Request) -> Response:
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    result = await services.throttle.guard(
        lambda: login(
            services,
            request.path_params["platform"],
            body.get("appid"),
            body.get("code"),
            body.get("anonymous_code"),
        ),
        [(services.throttle.limits.platform_address, client_address(request))],
        failures={"auth.invalid_code"},
    )
    return json_response(result.to_json())


@routes.add(
    "POST",
    "/api/auth/phone",
    "Bind the phone number the platform vouches for to the calling user",
    access="user",
    body=PHONE_BODY,
    responses={
        200: ("The user (the number shown masked), with their platform identities", LINKED_USER),
        409: ("The number belongs to another account: details.merge_token", None),
    },
)
async def phone(request: Request) -> Response:
    caller = await require_user(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    verified = await verify_phone(services, caller, body)
    user = await bind_phone(services, caller, verified)
    return json_response(await _shown(services, user))


@routes.add(
    "POST",
    "/api/auth/merge",
    "Merge the calling account into the one holding the phone (with the 409's merge_token)",
    access="user",
    body={
        "type": "object",
        "required": ["merge_token"],
        "properties": {"merge_token": {"type": "string", "minLength": 1}},
    },
    responses={
        200: (
            "Tokens for the surviving account, with all its platform identities",
            {"type": "object", "properties": {**TOKENS["properties"], "user": LINKED_USER}},
        )
    },
)
async def merge(request: Request) -> Response:
    caller = await require_user(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    user, tokens = await merge_accounts(services, caller, body.get("merge_token"))
    result: dict[str, Any] = {**tokens.to_json(), "user": await _shown(services, user)}
    return json_response(result)


@routes.add(
    "POST",
    "/api/auth/profile",
    "Update the user's profile from the platform's signed or encrypted user info",
    access="user",
    body=PROFILE_BODY,
    responses={200: ("The user, with their platform identities", LINKED_USER)},
)
async def platform_profile(request: Request) -> Response:
    caller = await require_user(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    user = await update_platform_profile(services, caller, body)
    return json_response(await _shown(services, user))


async def _shown(services: Services, user: User) -> dict[str, Any]:
    async with services.db.reader() as conn:
        (shown,) = await shown_users(conn, [user])
    return shown
