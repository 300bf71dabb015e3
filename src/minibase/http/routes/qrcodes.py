"""Mini program codes for admins: made once per set of parameters, kept, and served as images
with an ETag (they never change, so clients may keep them for good)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_object
from minibase.http.paging import PAGE, declared_only, next_page, page_answer, page_limit
from minibase.http.routing import Routes, nullable
from minibase.platforms.wechat.links import SCENE

routes = Routes("qrcodes")

IMAGE = {"type": "string", "format": "binary", "contentMediaType": "image/png"}
COLOUR = {
    "type": "object",
    "required": list("rgb"),
    "properties": {c: {"type": "integer", "minimum": 0, "maximum": 255} for c in "rgb"},
    "additionalProperties": False,
}
CODE_BODY = {
    "type": "object",
    "required": ["appid", "scene"],
    "properties": {
        "appid": {"type": "string", "minLength": 1, "description": "the WeChat app it opens"},
        "scene": {"type": "string", "pattern": SCENE.pattern, "description": "handed to the page"},
        "page": nullable(
            {
                "type": "string",
                "pattern": "^(?!/)[^?]{0,1024}$",
                "description": "default: the home page",
            }
        ),
        "check_path": {"type": "boolean", "default": True},
        "env_version": {"enum": ["release", "trial", "develop"]},
        "width": {"type": "integer", "minimum": 280, "maximum": 1280, "default": 430},
        "auto_color": {"type": "boolean", "default": False},
        "line_color": COLOUR,
        "is_hyaline": {"type": "boolean", "default": False},
    },
    "additionalProperties": False,
}
KEPT_CODE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "appid": {"type": "string"},
        "scene": {"type": "string"},
        "page": {"type": ["string", "null"], "description": "null: the home page"},
        "check_path": {"type": "boolean"},
        "env_version": {"enum": ["release", "trial", "develop"]},
        "width": {"type": "integer"},
        "auto_color": {"type": "boolean"},
        "line_color": {"anyOf": [COLOUR, {"type": "null"}]},
        "is_hyaline": {"type": "boolean"},
        "content_type": {"type": "string"},
        "etag": {"type": "string"},
        "size": {"type": "integer", "description": "bytes of the image"},
        "created": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "description": "where the image is (GET, admin)"},
    },
}
LIST_QUERY = (("appid", "the codes of this app", {"type": "string"}), *PAGE)
# Codes are permanent on the platform and kept here: the same id is always the same image.
CACHE_CONTROL = "private, max-age=31536000, immutable"


def _headers(code_id: str, etag: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "X-QR-Code-Id": code_id,
        "Location": f"/api/admin/qrcodes/{code_id}",
    }


@routes.add(
    "POST",
    "/api/admin/qrcodes",
    "A mini program code (wxa/getwxacodeunlimit) as an image: made once, then kept",
    access="admin",
    body=CODE_BODY,
    responses={
        201: ("Made now (the id is in X-QR-Code-Id and Location)", IMAGE),
        200: ("Made before with the same parameters", IMAGE),
    },
)
async def make_qrcode(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    code = await services.qrcodes.make(body)
    status = 201 if code.made else 200
    return Response(code.image, status, _headers(code.id, code.etag), code.content_type)


@routes.add(
    "GET",
    "/api/admin/qrcodes",
    "Kept mini program codes, newest first: their parameters and image URL, not the images",
    access="admin",
    query=LIST_QUERY,
    responses={200: ("Codes", page_answer(KEPT_CODE, "before"))},
)
async def list_qrcodes(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, LIST_QUERY)
    limit = page_limit(request)
    fetched = await services_of(request).qrcodes.list(
        before=request.query_params.get("before"),
        limit=limit + 1,
        appid=request.query_params.get("appid"),
    )
    codes, next_before = next_page(fetched, limit, lambda code: code.id)
    return json_response({"items": [code.to_json() for code in codes], "next_before": next_before})


@routes.add(
    "GET",
    "/api/admin/qrcodes/{id}",
    "A kept mini program code (304 when If-None-Match has its ETag)",
    access="admin",
    responses={200: ("The image", IMAGE), 304: ("Not modified", None)},
)
async def get_qrcode(request: Request) -> Response:
    await require_admin(request)
    code = await services_of(request).qrcodes.get(request.path_params["id"])
    headers = _headers(code.id, code.etag)
    if code.etag in request.headers.get("if-none-match", ""):
        return Response(None, 304, headers)
    return Response(code.image, 200, headers, code.content_type)
