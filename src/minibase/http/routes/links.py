"""URL schemes and URL links that open a WeChat mini program from outside WeChat, for admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_object
from minibase.http.routing import Routes, nullable
from minibase.platforms.wechat.links import MAX_EXPIRE_DAYS, QUERY

routes = Routes("links")

LINK_BODY = {
    "type": "object",
    "required": ["appid"],
    "properties": {
        "appid": {"type": "string", "minLength": 1, "description": "the WeChat app it opens"},
        "path": nullable(
            {
                "type": "string",
                "pattern": "^[^?]{0,1024}$",
                "description": "a published page; default: the home page",
            }
        ),
        "query": nullable({"type": "string", "pattern": QUERY.pattern}),
        "env_version": {"enum": ["release", "trial", "develop"]},
        "expire_time": nullable(
            {"type": "integer", "description": "Unix time, at most 30 days ahead"}
        ),
        "expire_interval": nullable({"type": "integer", "minimum": 1, "maximum": MAX_EXPIRE_DAYS}),
    },
    "additionalProperties": False,
    "not": {"required": ["expire_time", "expire_interval"]},
}


def _link(key: str, example: str) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {
            key: {"type": "string", "examples": [example]},
            "appid": {"type": "string"},
            "path": {"type": "string"},
            "query": {"type": "string"},
            "env_version": {"type": "string"},
            "expire_time": {"type": "integer", "description": "Unix time it stops working"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    }


@routes.add(
    "POST",
    "/api/admin/links/scheme",
    "A URL scheme (wxa/generatescheme) that opens the mini program; 30 days at most",
    access="admin",
    body=LINK_BODY,
    responses={201: ("The scheme", _link("openlink", "weixin://dl/business/?t=..."))},
)
async def make_url_scheme(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    return json_response(await services.links.url_scheme(body), 201)


@routes.add(
    "POST",
    "/api/admin/links/url-link",
    "A URL link (wxa/generate_urllink) that opens the mini program; 30 days at most",
    access="admin",
    body=LINK_BODY,
    responses={201: ("The link", _link("url_link", "https://wxaurl.cn/..."))},
)
async def make_url_link(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    return json_response(await services.links.url_link(body), 201)
