"""The records API, as a mini program calls it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.data.aggregate import aggregate
from minibase.data.bulk import delete_by_filter, update_by_filter
from minibase.data.expand_paths import MAX_PATHS, MAX_SEGMENTS, MAX_STEPS, NAME, parse_expand
from minibase.data.listing import MAX_FIELDS, MAX_SORT_KEYS, parse_fields, parse_list_query
from minibase.data.records import (
    create_record,
    create_records,
    delete_record,
    get_record,
    list_records_json,
    update_record,
)
from minibase.errors import ApiError
from minibase.http.auth import caller_of, services_of
from minibase.http.json import json_response, raw_json_response, read_json, read_object
from minibase.http.paging import declared_only, limit_param, page_answer
from minibase.http.routing import Routes
from minibase.memo import remember
from minibase.rules.pipeline import MAX_STAGES, STAGES

routes = Routes("records")

BASE = "/api/collections/{name}/records"
PARSED_QUERIES = 1024  # list queries kept parsed, by their query string
RECORD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "_owner": {"type": ["string", "null"]},
        "_created": {"type": "string", "format": "date-time"},
        "_updated": {"type": "string", "format": "date-time"},
        "_version": {"type": "integer"},
    },
    "additionalProperties": True,
}
TOTAL = {"type": "integer", "description": "with count=true: how many records match"}
PAGE = page_answer(RECORD, "cursor", total=TOTAL)
AGGREGATED = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"type": "object"}}},
}
UPDATE = {
    "type": "object",
    "description": "Fields to merge, or operators: $set $unset $inc $push $pull (not both)",
    "minProperties": 1,
    "properties": {
        op: {"type": "object", "minProperties": 1}
        for op in ("$set", "$unset", "$inc", "$push", "$pull")
    },
}
# A field path as filters, sorts and projections name it: a.b.0.c, system fields at the top.
_PATH = (
    "(?:_id|_owner|_created|_updated|_version"
    "|[A-Za-z][A-Za-z0-9_]{0,63}(?:[.](?:[A-Za-z_][A-Za-z0-9_]{0,63}|[0-9]{1,6})){0,15})"
)
_EXPAND_PATH = f"{NAME}(?:[.]{NAME}){{0,{MAX_SEGMENTS - 1}}}"
EXPAND = (
    "expand",
    f"comma-separated paths (at most {MAX_PATHS}, each at most {MAX_STEPS} steps) of records"
    " to add under _expand: reference fields (author, items.sku) and back-relations"
    " (comments_via_post), steps joined by dots, e.g. author,comments_via_post.author",
    {
        "type": "string",
        "pattern": f"^(?:{_EXPAND_PATH}(?:,{_EXPAND_PATH}){{0,{MAX_PATHS - 1}}})?$",
    },
)
LIST_QUERY = (
    ("filter", 'JSON filter, e.g. {"score":{"$gt":10}}', {"type": "string"}),
    (
        "sort",
        f"comma-separated fields (at most {MAX_SORT_KEYS}, each once), - for descending,"
        " e.g. -score,_id",
        {
            "type": "string",
            "pattern": f"^(?:[-+]?{_PATH}(?:,[-+]?{_PATH}){{0,{MAX_SORT_KEYS - 1}}})?$",
        },
    ),
    (
        "fields",
        f"comma-separated fields to return (_id always; at most {MAX_FIELDS})",
        {"type": "string", "pattern": f"^(?:{_PATH}(?:,{_PATH}){{0,{MAX_FIELDS - 1}}})?$"},
    ),
    limit_param(20),
    ("cursor", "next_cursor of the previous page", {"type": "string"}),
    ("count", "also return the total number of matches", {"type": "boolean"}),
    EXPAND,
)
READ_QUERY = (LIST_QUERY[2], EXPAND)  # fields, expand


def _version_header(request: Request) -> int | None:
    value = request.headers.get("if-match")
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ApiError("request.invalid_query", 400, 'If-Match takes the record _version, e.g. "3"')
    return int(text)


@routes.add(
    "GET",
    BASE,
    "List records the caller may see",
    access="optional",
    query=LIST_QUERY,
    responses={200: ("A page of records", PAGE)},
)
async def list_route(request: Request) -> Response:
    services = services_of(request)
    text = request.scope["query_string"]
    query = services.list_queries.get(text)
    if query is None:  # a list asked afresh (a query string asked again is parsed already)
        settings = services.settings
        declared_only(request, LIST_QUERY)
        query = parse_list_query(
            request.query_params, settings.list_default_limit, settings.list_max_limit
        )
        if query.cursor is None:  # each next page's cursor is new: not worth keeping
            remember(services.list_queries, text, query, PARSED_QUERIES)
    caller = await caller_of(request)
    page = await list_records_json(services, caller, request.path_params["name"], query)
    return raw_json_response(page)


@routes.add(
    "POST",
    BASE,
    "Create a record",
    access="optional",
    body=RECORD,
    responses={201: ("Created", RECORD), 400: ("Invalid", None), 409: ("Conflict", None)},
)
async def create_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_json(request, services.settings.max_body_bytes)
    record = await create_record(services, caller, request.path_params["name"], body)
    return json_response(record, 201)


@routes.add(
    "POST",
    BASE + "/bulk-create",
    "Create up to bulk_max_records records, all or none",
    access="optional",
    body={"type": "object", "properties": {"records": {"type": "array", "items": RECORD}}},
    responses={
        201: (
            "Created",
            {"type": "object", "properties": {"items": {"type": "array", "items": RECORD}}},
        )
    },
)
async def bulk_create_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    records = await create_records(
        services, caller, request.path_params["name"], body.get("records")
    )
    return json_response({"items": records}, 201)


@routes.add(
    "POST",
    BASE + "/bulk-update",
    "Update every record matching a filter (bounded)",
    access="optional",
    body={
        "type": "object",
        "required": ["filter", "update"],
        "properties": {"filter": {"type": "object"}, "update": UPDATE},
    },
    responses={200: ("Counts", {"type": "object"})},
)
async def bulk_update_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    return json_response(
        await update_by_filter(services, caller, request.path_params["name"], body)
    )


@routes.add(
    "POST",
    BASE + "/bulk-delete",
    "Delete every record matching a filter (bounded)",
    access="optional",
    body={"type": "object", "required": ["filter"], "properties": {"filter": {"type": "object"}}},
    responses={200: ("Counts", {"type": "object"})},
)
async def bulk_delete_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    return json_response(
        await delete_by_filter(services, caller, request.path_params["name"], body)
    )


@routes.add(
    "POST",
    "/api/collections/{name}/aggregate",
    "Aggregate the records the caller may list: a pipeline of stages, as in MongoDB",
    access="optional",
    body={
        "type": "object",
        "required": ["pipeline"],
        "properties": {
            "pipeline": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_STAGES,
                "items": {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "propertyNames": {"enum": list(STAGES)},
                },
                "description": "stages: $match $group $sort $skip $limit $project $unwind"
                " $count $lookup",
            }
        },
    },
    responses={
        200: ("The documents the pipeline makes", AGGREGATED),
        400: ("An invalid pipeline, too slow or too large an answer", None),
    },
)
async def aggregate_route(request: Request) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    name = request.path_params["name"]
    return raw_json_response(await aggregate(services, caller, name, body))


@routes.add(
    "GET",
    BASE + "/{id}",
    "Read a record",
    access="optional",
    query=READ_QUERY,
    responses={200: ("The record", RECORD), 404: ("Not found", None)},
)
async def get_route(request: Request) -> Response:
    services = services_of(request)
    fields = None
    expand: tuple[str, ...] = ()
    if request.scope["query_string"]:  # the usual read has none: skip parsing
        declared_only(request, READ_QUERY)
        fields = parse_fields(request.query_params.get("fields"))
        expand = parse_expand(request.query_params.get("expand"))
    params = request.path_params
    caller = await caller_of(request)
    raw = await get_record(services, caller, params["name"], params["id"], fields, expand=expand)
    return raw_json_response(raw)


async def _update(request: Request, *, replace: bool) -> Response:
    services = services_of(request)
    caller = await caller_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    record = await update_record(
        services,
        caller,
        request.path_params["name"],
        request.path_params["id"],
        body,
        replace=replace,
        expected_version=_version_header(request),
    )
    return json_response(record)


@routes.add(
    "PUT",
    BASE + "/{id}",
    "Replace a record's fields (send _version to guard)",
    access="optional",
    body=RECORD,
    responses={200: ("The record", RECORD), 409: ("Version conflict", None)},
)
async def replace_route(request: Request) -> Response:
    return await _update(request, replace=True)


@routes.add(
    "PATCH",
    BASE + "/{id}",
    "Change some fields, or apply $set/$unset/$inc/$push/$pull",
    access="optional",
    body=UPDATE,
    responses={200: ("The record", RECORD), 409: ("Version conflict", None)},
)
async def patch_route(request: Request) -> Response:
    return await _update(request, replace=False)


@routes.add(
    "DELETE",
    BASE + "/{id}",
    "Delete a record (If-Match: its _version, to guard)",
    access="optional",
    responses={204: ("Deleted", None), 409: ("Version conflict", None)},
)
async def delete_route(request: Request) -> Response:
    services = services_of(request)
    await delete_record(
        services,
        await caller_of(request),
        request.path_params["name"],
        request.path_params["id"],
        _version_header(request),
    )
    return Response(status_code=204)
