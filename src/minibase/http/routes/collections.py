"""Admin API over collection definitions."""

from __future__ import annotations

from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from minibase.data.definitions import (
    alter_collection,
    apply_definitions,
    create_collection,
    drop_collection,
    export_definitions,
    parse_definitions_file,
    plan_definitions,
)
from minibase.data.rule_tester import try_rules
from minibase.errors import ApiError
from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response, read_body, read_object
from minibase.http.paging import declared_only
from minibase.http.routing import Media, Routes

routes = Routes("collections")

DEFINITION: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,62}$"},
        # null, like a missing key: no fields, no indexes, no rules (admins only)
        "fields": {"type": ["object", "null"], "additionalProperties": {"type": "object"}},
        "additional": {"type": "boolean", "default": True},
        "indexes": {
            "type": ["array", "null"],
            "items": {
                "description": "a field, a list of fields, {fields, unique}, {fields, search:"
                " true} (a text search index on string fields, for $search), or {fields: [a"
                " geopoint field], geo: true} (for $near and $geoWithin)",
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}},
                    {
                        "type": "object",
                        "properties": {
                            "fields": {"type": "array", "items": {"type": "string"}},
                            "unique": {"type": "boolean"},
                            "search": {"type": "boolean"},
                            "geo": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                ],
            },
        },
        "rules": {
            "type": ["object", "null"],
            "properties": {
                "preset": {
                    "enum": [
                        "public_read_owner_write",
                        "owner_only",
                        "public_read_admin_write",
                        "admin_only",
                    ]
                },
                **{
                    a: {"type": ["string", "null"]}
                    for a in ("list", "read", "create", "update", "delete")
                },
            },
        },
    },
}
# PATCH names only the top-level keys it changes.
_CHANGES = {key: value for key, value in DEFINITION.items() if key != "required"}
_COLLECTION = {
    **DEFINITION,
    "properties": {
        **DEFINITION["properties"],
        "id": {"type": "string"},
        "preset": {"type": ["string", "null"]},
        "created": {"type": "string", "format": "date-time"},
        "updated": {"type": "string", "format": "date-time"},
    },
}
_NAME = ("name", "The collection name", {"type": "string"})
EXPORT_QUERY = (("format", "json (default) or yaml", {"enum": ["json", "yaml"]}),)
APPLY_QUERY = (
    ("prune", "drop collections not in the file", {"type": "boolean"}),
    ("dry_run", "check and report without changing anything", {"type": "boolean"}),
)
_DEFINITIONS = {
    "type": "object",
    "properties": {"collections": {"type": "array", "items": DEFINITION}},
}


def _bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError("request.invalid_query", 400, f"{name} must be true or false")
    return value in ("true", "1")


@routes.add(
    "GET",
    "/api/admin/collections",
    "List collections",
    access="admin",
    responses={
        200: (
            "Collections",
            {"type": "object", "properties": {"items": {"type": "array", "items": _COLLECTION}}},
        )
    },
)
async def list_collections(request: Request) -> Response:
    await require_admin(request)
    collections = await services_of(request).collections.all()
    return json_response({"items": [c.to_json() for c in collections]})


@routes.add(
    "POST",
    "/api/admin/collections",
    "Create a collection",
    access="admin",
    body=DEFINITION,
    responses={
        201: ("Created", _COLLECTION),
        400: ("Invalid definition", None),
        409: ("Exists", None),
    },
)
async def create_collection_route(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    definition = await read_object(request, services.settings.max_body_bytes)
    collection = await create_collection(services, definition)
    return json_response(collection.to_json(), 201)


@routes.add(
    "GET",
    "/api/admin/collections/{name}",
    "Read a collection definition",
    access="admin",
    responses={200: ("The collection", _COLLECTION)},
)
async def get_collection(request: Request) -> Response:
    await require_admin(request)
    collection = await services_of(request).collections.get(request.path_params["name"])
    return json_response(collection.to_json())


@routes.add(
    "PATCH",
    "/api/admin/collections/{name}",
    "Alter a collection: the given top-level keys replace the current ones",
    access="admin",
    body=_CHANGES,
    responses={200: ("Altered", _COLLECTION)},
)
async def patch_collection(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    changes = await read_object(request, services.settings.max_body_bytes)
    collection = await alter_collection(services, request.path_params["name"], changes)
    return json_response(collection.to_json())


@routes.add(
    "PUT",
    "/api/admin/collections/{name}",
    "Replace a collection's whole definition",
    access="admin",
    body=DEFINITION,
    responses={200: ("Replaced", _COLLECTION)},
)
async def put_collection(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    definition = await read_object(request, services.settings.max_body_bytes)
    collection = await alter_collection(
        services, request.path_params["name"], definition, replace=True
    )
    return json_response(collection.to_json())


@routes.add(
    "DELETE",
    "/api/admin/collections/{name}",
    "Drop a collection and its records",
    access="admin",
    responses={204: ("Dropped", None)},
)
async def delete_collection(request: Request) -> Response:
    await require_admin(request)
    await drop_collection(services_of(request), request.path_params["name"])
    return Response(status_code=204)


@routes.add(
    "GET",
    "/api/admin/definitions",
    "Export every collection definition (JSON or YAML)",
    access="admin",
    query=EXPORT_QUERY,
    responses={
        200: (
            "The definitions",
            Media({"application/json": _DEFINITIONS, "application/yaml": _DEFINITIONS}),
        )
    },
)
async def export_route(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, EXPORT_QUERY)
    form = request.query_params.get("format", "json")
    if form not in ("json", "yaml"):
        raise ApiError("request.invalid_query", 400, "format is json or yaml")
    document = {"collections": await export_definitions(services_of(request))}
    if form == "yaml":
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")
    return json_response(document)


@routes.add(
    "POST",
    "/api/admin/definitions",
    "Apply a file of definitions: create and alter collections (drop with prune=true)",
    access="admin",
    query=APPLY_QUERY,
    body=_DEFINITIONS,
    responses={200: ("What changed (or would)", {"type": "object"})},
)
async def apply_route(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, APPLY_QUERY)  # a misspelt dry_run must not apply the file
    services = services_of(request)
    raw = await read_body(request, services.settings.max_body_bytes)
    document = parse_definitions_file(raw)
    prune, dry_run = _bool_param(request, "prune"), _bool_param(request, "dry_run")
    if dry_run:
        plan = await plan_definitions(services, document, prune=prune)
    else:
        plan = await apply_definitions(services, document, prune=prune)
    return json_response({"dry_run": dry_run, **plan.to_json()})


_VERDICT = {
    "type": "object",
    "properties": {
        "allowed": {"type": "boolean"},
        "rule": {"type": ["string", "null"]},
        "why": {"type": "array", "items": {"type": "string"}},
    },
}


@routes.add(
    "POST",
    "/api/admin/collections/{name}/rules/test",
    "Test the rules: as a user (or anyone), on a record, which actions pass, and why not",
    access="admin",
    body={
        "type": "object",
        "properties": {
            "user": {"type": ["string", "null"], "description": "a user id; null: not signed in"},
            "record": {
                "description": "a record id, or a record as JSON",
                "anyOf": [{"type": "string"}, {"type": "object"}],
            },
            "write": {"type": "object", "description": "the body of a create or update"},
        },
        "required": ["record"],
        "additionalProperties": False,
    },
    responses={
        200: (
            "Each action's verdict",
            {
                "type": "object",
                "properties": {
                    "user": {"type": ["string", "null"]},
                    "record": {"type": "object"},
                    "actions": {"type": "object", "additionalProperties": _VERDICT},
                },
            },
        )
    },
)
async def try_collection_rules(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    body = await read_object(request, services.settings.max_body_bytes)
    return json_response(await try_rules(services, request.path_params["name"], body))
