"""Content security: check a text now, or an image or audio file (WeChat's verdict comes later,
Douyin's at once).

A user checks their own content, in the WeChat or Douyin app they signed in through; an admin
names the user (`user`, and `appid` when the user has several apps)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.auth.caller import Caller
from minibase.errors import ApiError
from minibase.http.auth import caller_of, require_admin, require_user_or_admin, services_of
from minibase.http.json import json_response, read_object
from minibase.http.paging import (
    PAGE,
    choice_filter,
    declared_only,
    next_page,
    page_answer,
    page_limit,
    state_param,
)
from minibase.http.routing import Routes
from minibase.messaging.content import CONTENT_PLATFORMS, MEDIA_TYPES, unchecked_platform
from minibase.messaging.content_verdicts import MEDIA_STATES

routes = Routes("content")

SCENE = {"enum": ["profile", "comment", "forum", "social_log"], "default": "comment"}
WHO = {
    "user": {"type": "string", "description": "admins: whose content it is"},
    "appid": {"type": "string", "description": "admins: needed if the user has several apps"},
}
VERDICT = {
    "type": "object",
    "properties": {
        "suggest": {"enum": ["pass", "review", "risky"]},
        "label": {"type": "integer", "description": "100 normal, 10001 ad, 20001 politics ..."},
        "label_name": {"type": "string"},
        "trace_id": {"type": ["string", "null"]},
        "detail": {"type": "array", "items": {"type": "object"}},
    },
}
MEDIA_CHECK = {
    "type": "object",
    "properties": {
        "trace_id": {"type": "string"},
        "user": {"type": "string"},
        "appid": {"type": "string"},
        "platform": {"enum": list(CONTENT_PLATFORMS)},
        "media_url": {"type": "string"},
        "media_type": {"enum": ["image", "audio"]},
        "scene": SCENE,
        "state": {"enum": ["pending", "pass", "review", "risky"]},
        "label": {"type": ["integer", "null"]},
        "label_name": {"type": ["string", "null"]},
        "detail": {"type": ["array", "null"], "items": {"type": "object"}},
        "created": {"type": "string", "format": "date-time"},
        "checked_at": {"type": ["string", "null"]},
    },
}
_TEXT_FIELDS = frozenset({"content", "scene", "title", "nickname", "signature", "user", "appid"})
_MEDIA_FIELDS = frozenset({"media_url", "media_type", "scene", "user", "appid"})


def _whose(caller: Caller, body: dict[str, Any], allowed: frozenset[str]) -> tuple[str, str | None]:
    """(user id, appid) whose openid checks the content."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError("content.invalid", 400, f"unknown fields {unknown}")
    if caller.is_admin:
        user, appid = body.get("user"), body.get("appid")
        if not isinstance(user, str) or not user:
            raise ApiError("content.invalid", 400, "user is required: whose content is it?")
        if appid is not None and not isinstance(appid, str):
            raise ApiError("content.invalid", 400, "appid must be a string")
        return user, appid
    if not caller.is_user or caller.id is None:
        raise ApiError("auth.required", 401, "this route needs a user or an admin token")
    if "user" in body or "appid" in body:
        raise ApiError("content.invalid", 400, "users check their own content: no user or appid")
    if caller.platform not in CONTENT_PLATFORMS or caller.appid is None:
        raise unchecked_platform(caller.platform)
    return caller.id, caller.appid


@routes.add(
    "POST",
    "/api/content/text-checks",
    "Check a text with the user's platform (WeChat msgSecCheck, Douyin antidirt): pass,"
    " review or risky, and what was found",
    access="user",
    body={
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {"type": "string", "minLength": 1, "maxLength": 25000},
            "scene": SCENE,
            "title": {"type": "string"},
            "nickname": {"type": "string"},
            "signature": {"type": "string", "description": "profile scene only"},
            **WHO,
        },
    },
    responses={200: ("The verdict", VERDICT)},
)
async def check_text(request: Request) -> Response:
    caller = await caller_of(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    user, appid = _whose(caller, body, _TEXT_FIELDS)
    verdict = await services.content.check_text(
        user,
        appid,
        body.get("content"),
        scene=body.get("scene", "comment"),
        title=body.get("title"),
        nickname=body.get("nickname"),
        signature=body.get("signature"),
    )
    return json_response(verdict.to_json())


@routes.add(
    "POST",
    "/api/content/media-checks",
    "Have the user's platform check an image or audio file at a URL: WeChat (mediaCheckAsync)"
    " pending until its verdict is pushed, Douyin (censor/image, images only) decided at once",
    access="user",
    body={
        "type": "object",
        "required": ["media_url", "media_type"],
        "properties": {
            "media_url": {"type": "string", "format": "uri"},
            "media_type": {"enum": ["image", "audio"]},
            "scene": SCENE,
            **WHO,
        },
    },
    responses={
        200: ("Decided at once (Douyin)", MEDIA_CHECK),
        202: ("Pending (WeChat)", MEDIA_CHECK),
    },
)
async def check_media(request: Request) -> Response:
    caller = await caller_of(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    user, appid = _whose(caller, body, _MEDIA_FIELDS)
    check = await services.content.check_media(
        user,
        appid,
        body.get("media_url"),
        body.get("media_type"),
        scene=body.get("scene", "comment"),
    )
    return json_response(check.to_json(), 202 if check.state == "pending" else 200)


@routes.add(
    "GET",
    "/api/content/media-checks/{trace_id}",
    "A media check: pending, or its verdict (users see their own)",
    access="user",
    responses={200: ("The check", MEDIA_CHECK)},
)
async def get_media_check(request: Request) -> Response:
    caller = await require_user_or_admin(request)
    trace_id = request.path_params["trace_id"]
    check = await services_of(request).content.media_check(trace_id)
    if not caller.is_admin and check.user_id != caller.id:
        raise ApiError("content.not_found", 404, f"no media check {trace_id!r}")
    return json_response(check.to_json())


# filter -> its choices (None: any string)
MEDIA_CHECK_FILTERS: dict[str, tuple[str, ...] | None] = {
    "state": MEDIA_STATES,
    "media_type": tuple(MEDIA_TYPES),
    "platform": CONTENT_PLATFORMS,
    "user": None,
    "appid": None,
}
MEDIA_CHECK_QUERY = (
    state_param(MEDIA_STATES, "checks"),
    ("media_type", "image or audio", {"enum": list(MEDIA_TYPES)}),
    ("platform", "the platform that checks", {"enum": list(CONTENT_PLATFORMS)}),
    ("user", "whose content it is (user id)", {"type": "string"}),
    ("appid", "the app checked through", {"type": "string"}),
    *PAGE,
)


@routes.add(
    "GET",
    "/api/admin/content/media-checks",
    "Media checks, newest first, filtered by state, media type, platform, user or app",
    access="admin",
    query=MEDIA_CHECK_QUERY,
    responses={200: ("Media checks", page_answer(MEDIA_CHECK, "before"))},
)
async def list_media_checks(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, MEDIA_CHECK_QUERY)
    limit = page_limit(request)
    filters = {
        name: choice_filter(request, name, choices) if choices else request.query_params.get(name)
        for name, choices in MEDIA_CHECK_FILTERS.items()
    }
    fetched = await services_of(request).content.list_media_checks(
        before=request.query_params.get("before"), limit=limit + 1, **filters
    )
    checks, next_before = next_page(fetched, limit, lambda check: check.trace_id)
    items = [check.to_json() for check in checks]
    return json_response({"items": items, "next_before": next_before})
