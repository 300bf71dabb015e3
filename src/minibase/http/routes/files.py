"""Files: uploads as mini programs send them, temporary URLs, downloads, deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from minibase.config import Settings
from minibase.data.downloads import delete_files, open_download, temp_urls
from minibase.data.uploads import (
    complete_direct_upload,
    list_files,
    start_direct_upload,
    upload_file,
    upload_into_record,
)
from minibase.http.auth import caller_of, require_admin, require_user_or_admin, services_of
from minibase.http.file_responses import serve_object
from minibase.http.json import json_response, read_json
from minibase.http.paging import (
    PAGE,
    declared_only,
    next_page,
    page_answer,
    page_limit,
    state_filter,
    state_param,
)
from minibase.http.routes.records import RECORD
from minibase.http.routing import Media, Routes

routes = Routes("files")

FILE: dict[str, Any] = {
    "type": "object",
    "description": "A stored file, as a record's file field holds it",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "size": {"type": "integer"},
        "type": {"type": "string", "description": "the MIME type its content shows"},
        "etag": {"type": "string"},
        "created": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "name", "size", "type", "etag", "created"],
}
UPLOAD = {
    "contentMediaType": "multipart/form-data",
    "type": "object",
    "description": "As wx.uploadFile sends it: formData entries as text parts, then the file",
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "the file, under the part named by files_part_name",
        },
        "name": {"type": "string", "description": "the name to show (else the file's)"},
    },
    "required": ["file"],
}
ERROR_ITEM = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}


def per_file(done: dict[str, Any]) -> dict[str, Any]:
    """An answer of one item per file asked, in order: `done`'s properties, or an error."""
    item = {"type": "object", "properties": {"id": {"type": "string"}, **done, "error": ERROR_ITEM}}
    return {"type": "object", "properties": {"files": {"type": "array", "items": item}}}


IDS = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50}
DOWNLOAD_QUERY = (
    ("expires", "from a temporary URL", {"type": "string"}),
    ("sig", "from a temporary URL", {"type": "string"}),
    ("thumb", "a thumbnail size the field lists, e.g. 200x200", {"type": "string"}),
    ("fit", "cover (the default: fill, cropped) or contain", {"enum": ["cover", "contain"]}),
)


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a phone gone half way just ends it (the upload reader
    then refuses the cut body and keeps nothing), as the everyday event it is."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        return


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@routes.add(
    "POST",
    "/api/collections/{name}/files/{field}",
    "Upload a file for a file field (wx.uploadFile); write its id into a record next",
    access="user",
    body=UPLOAD,
    responses={
        201: ("Stored", {"type": "object", "properties": {"file": FILE}}),
        413: ("Too large", None),
        415: ("A type the field does not take", None),
    },
)
async def upload_file_route(request: Request) -> Response:
    caller = await require_user_or_admin(request)
    row = await upload_file(
        services_of(request),
        caller,
        request.path_params["name"],
        request.path_params["field"],
        _body(request),
        request.headers.get("content-type"),
    )
    return json_response({"file": row.ref()}, 201)


@routes.add(
    "POST",
    "/api/collections/{name}/records/{id}/files/{field}",
    "Upload a file into a record's file field (replacing a single file, adding to many)",
    access="user",
    body=UPLOAD,
    responses={
        201: ("Stored", {"type": "object", "properties": {"file": FILE, "record": RECORD}}),
        413: ("Too large", None),
        415: ("A type the field does not take", None),
    },
)
async def upload_into_record_route(request: Request) -> Response:
    caller = await require_user_or_admin(request)
    row, record = await upload_into_record(
        services_of(request),
        caller,
        request.path_params["name"],
        request.path_params["id"],
        request.path_params["field"],
        _body(request),
        request.headers.get("content-type"),
    )
    return json_response({"file": row.ref(), "record": record}, 201)


@routes.add(
    "POST",
    "/api/files/temp-urls",
    "Temporary download URLs of files the caller may see (getTempFileURL)",
    access="optional",
    body={
        "type": "object",
        "properties": {
            "files": IDS,
            "expires": {
                "type": "integer",
                "minimum": 1,
                "maximum": Settings.files_link_max_seconds,
                "description": "seconds the URLs last (default files_link_seconds), at most"
                " files_link_max_seconds",
            },
        },
        "required": ["files"],
        "additionalProperties": False,
    },
    responses={
        200: (
            "A URL or an error per file, in the order asked",
            per_file({"url": {"type": "string"}, "expires_at": {"type": "integer"}}),
        )
    },
)
async def temp_urls_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    answers = await temp_urls(services, caller, body, _base(request))
    return json_response({"files": answers})


@routes.add(
    "POST",
    "/api/files/delete",
    "Delete files: pending uploads of the caller, or files out of records it may update",
    access="user",
    body={
        "type": "object",
        "properties": {"files": IDS},
        "required": ["files"],
        "additionalProperties": False,
    },
    responses={
        200: (
            "Deleted, or an error, per file",
            per_file({"deleted": {"type": "boolean"}}),
        )
    },
)
async def delete_files_route(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user_or_admin(request)
    body = await read_json(request, services.settings.max_body_bytes)
    return json_response({"files": await delete_files(services, caller, body)})


@routes.add(
    "GET",
    "/api/files/{id}/{name}",
    "Download a file (a temporary URL, or any file of a collection anyone may read)",
    access="public",
    query=DOWNLOAD_QUERY,
    responses={
        200: ("The bytes", Media({"application/octet-stream": {"type": "string"}})),
        206: ("A range of the bytes", None),
        302: ("On S3 with files_s3_redirect: the bucket's presigned URL", None),
        304: ("Not modified", None),
        403: ("Unsigned, expired, or hidden by the media check", None),
        416: ("Range outside the file", None),
    },
)
async def download_route(request: Request) -> Response:
    services = services_of(request)
    declared_only(request, DOWNLOAD_QUERY)
    params = request.query_params
    found = await open_download(
        services,
        request.path_params["id"],
        params.get("expires"),
        params.get("sig"),
        params.get("thumb"),
        params.get("fit"),
    )
    row = found.row
    stat = found.stored
    settings = services.settings
    seconds = (
        settings.files_public_max_age
        if found.public
        else _remaining(params.get("expires"), services)
    )
    cache = f"{'public' if found.public else 'private'}, max-age={seconds}"
    elsewhere = services.files.redirect(stat.key, seconds)
    if elsewhere is not None:
        return RedirectResponse(elsewhere, 302, headers={"Cache-Control": cache})
    if not found.public:
        cache += ", immutable"

    async def open_range(start: int | None, end: int | None) -> Any:
        return await services.files.storage.open(stat.key, start, end)

    return await serve_object(request, stat, open_range, name=row.name, cache_control=cache)


@routes.add(
    "HEAD",
    "/api/files/{id}/{name}",
    "A download's headers (size, type, ETag) without its bytes",
    access="public",
    query=DOWNLOAD_QUERY,
    responses={200: ("The headers", None)},
)
async def download_head_route(request: Request) -> Response:
    return await download_route(request)


def _remaining(expires: str | None, services: Any) -> int:
    now = int(services.clock.timestamp())
    return max(int(expires or now) - now, 0)


@routes.add(
    "POST",
    "/api/collections/{name}/files/{field}/direct",
    "Start an upload straight to the S3 bucket (a presigned form), bypassing this server",
    access="user",
    body={
        "type": "object",
        "properties": {"name": {"type": "string"}, "size": {"type": "integer", "minimum": 1}},
        "required": ["size"],
        "additionalProperties": False,
    },
    responses={
        201: (
            "Where to post the file",
            {
                "type": "object",
                "properties": {
                    "file": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "upload": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "fields": {"type": "object"},
                            "part": {"type": "string"},
                        },
                    },
                    "expires_at": {"type": "integer"},
                },
            },
        ),
        404: ("Not on S3 storage, or no such collection or field", None),
        413: ("Too large", None),
    },
)
async def direct_upload_route(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user_or_admin(request)
    body = await read_json(request, services.settings.max_body_bytes)
    row, upload, expires = await start_direct_upload(
        services, caller, request.path_params["name"], request.path_params["field"], body
    )
    return json_response({"file": {"id": row.id}, "upload": upload, "expires_at": expires}, 201)


@routes.add(
    "POST",
    "/api/files/direct/{id}/complete",
    "Finish a direct upload: the object is checked (size, content type) and the file is ready",
    access="user",
    body_required=False,
    responses={
        200: ("Stored", {"type": "object", "properties": {"file": FILE}}),
        409: ("Not arrived", None),
        415: ("A type the field does not take", None),
    },
)
async def complete_direct_upload_route(request: Request) -> Response:
    services = services_of(request)
    caller = await require_user_or_admin(request)
    row = await complete_direct_upload(services, caller, request.path_params["id"])
    return json_response({"file": row.ref()})


ADMIN_FILE = {
    **FILE,
    "properties": {
        **FILE["properties"],
        "field": {"type": "string"},
        "record": {"type": ["string", "null"]},
        "owner": {"type": ["string", "null"]},
        "state": {"enum": ["uploading", "ready", "deleting"]},
        "check": {"type": ["string", "null"]},
        "updated": {"type": "string", "format": "date-time"},
    },
}
ADMIN_QUERY = (
    state_param(("uploading", "ready", "deleting"), "files"),
    ("field", "the files of this field", {"type": "string"}),
    ("record", "the files of this record", {"type": "string"}),
    *PAGE,
)


@routes.add(
    "GET",
    "/api/admin/collections/{name}/files",
    "List a collection's files, newest first (pending uploads too: record null)",
    access="admin",
    query=ADMIN_QUERY,
    responses={200: ("Files", page_answer(ADMIN_FILE, "before"))},
)
async def admin_list_route(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, ADMIN_QUERY)
    params = request.query_params
    limit = page_limit(request)
    fetched = await list_files(
        services_of(request),
        request.path_params["name"],
        state=state_filter(request, ("uploading", "ready", "deleting")),
        field=params.get("field"),
        record=params.get("record"),
        before=params.get("before"),
        limit=limit + 1,
    )
    rows, next_before = next_page(fetched, limit, lambda row: row.id)
    return json_response({"items": [row.to_json() for row in rows], "next_before": next_before})
