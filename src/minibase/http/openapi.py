"""The OpenAPI 3.1 document: every declared route, plus one schema per collection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from minibase import __version__
from minibase.http.routing import Endpoint
from minibase.store.collections import Collection

_PARAM = re.compile(r"{(\w+)}")
_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable, see docs/errors.md"},
        "message": {"type": "string"},
        "details": {"type": "object"},
        "request_id": {"type": "string"},
    },
}
_SYSTEM = {
    "_id": {"type": "string", "readOnly": True},
    "_owner": {"type": ["string", "null"], "readOnly": True},
    "_created": {"type": "string", "format": "date-time", "readOnly": True},
    "_updated": {"type": "string", "format": "date-time", "readOnly": True},
    "_version": {"type": "integer", "readOnly": True},
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    parameters += [
        {"name": name, "in": "query", "description": description, "schema": schema}
        for name, description, schema in endpoint.query
    ]
    responses: dict[str, Any] = {}
    for status, (description, schema) in endpoint.responses.items():
        response: dict[str, Any] = {"description": description}
        if schema is not None and status != 204:
            # a binary answer (an image) names its media type in the schema
            media_type = schema.get("contentMediaType", "application/json")
            response["content"] = {media_type: {"schema": schema}}
        responses[str(status)] = response
    responses.setdefault(
        "4XX",
        {
            "description": "Bad input, missing or insufficient credentials",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    )
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": endpoint.body}},
        }
    if endpoint.access in ("user", "admin"):
        operation["security"] = [{"bearer": []}]
    elif endpoint.access == "optional":
        operation["security"] = [{"bearer": []}, {}]
    return operation


def _record_schema(collection: Collection) -> dict[str, Any]:
    user = collection.schema.to_json_schema()
    properties = {**_SYSTEM, **user.get("properties", {})}
    schema = {**user, "type": "object", "properties": properties}
    schema["title"] = collection.name
    return schema


def _collection_paths(collection: Collection) -> dict[str, Any]:
    """Typed paths for one collection, so generated clients get its record shape."""
    ref = {"$ref": f"#/components/schemas/{_schema_name(collection)}"}
    base = f"/api/collections/{collection.name}/records"
    page = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": ref},
            "next_cursor": {"type": ["string", "null"]},
            "total": {"type": "integer"},
        },
    }
    tag = [f"collection:{collection.name}"]

    def op(
        summary: str, schema: dict[str, Any], status: str = "200", body: bool = False
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": tag,
            "security": [{"bearer": []}, {}],
            "responses": {
                status: {
                    "description": summary,
                    "content": {"application/json": {"schema": schema}},
                }
            },
        }
        if body:
            operation["requestBody"] = {"content": {"application/json": {"schema": ref}}}
        return operation

    item = {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": op(f"Read a {collection.name} record", ref),
        "put": op(f"Replace a {collection.name} record", ref, body=True),
    }
    return {
        base: {
            "get": op(f"List {collection.name} records", page),
            "post": op(f"Create a {collection.name} record", ref, "201", body=True),
        },
        base + "/{id}": item,
    }


def _schema_name(collection: Collection) -> str:
    return "Record_" + collection.name


def build_openapi(
    endpoints: Sequence[Endpoint], collections: Sequence[Collection]
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    for collection in collections:
        for path, item in _collection_paths(collection).items():
            paths.setdefault(path, {}).update(item)
    schemas: dict[str, Any] = {"Error": _ERROR}
    for collection in collections:
        schemas[_schema_name(collection)] = _record_schema(collection)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "minibase",
            "version": __version__,
            "description": "Backend for mini programs: data API, users and tokens.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
