"""The OpenAPI 3.1 document: every declared route, plus one schema per collection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from minibase import __version__
from minibase.client_json import INT64_MAX, INT64_MIN
from minibase.http.routing import Endpoint, Media
from minibase.store.collections import Collection

_PARAM = re.compile(r"{(\w+)}")
RECORDS = "/api/collections/{name}/records"
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
INT64 = {"minimum": INT64_MIN, "maximum": INT64_MAX}
_ANY = {"$ref": "#/components/schemas/JsonValue"}
# Without "type", each keyword bounds the values of its own type only: numbers, arrays, objects.
# (An anyOf of typed branches says the same, but fuzzers mutate one branch into another.)
_JSON_VALUE = {
    "description": "Any JSON value a client may send: numbers within 64-bit integers' range"
    " (send larger ones as strings), strings without the NUL character",
    **INT64,
    "items": _ANY,
    "additionalProperties": _ANY,
}
DESCRIPTION = (
    "A self-hosted backend for mini programs (WeChat, Alipay, Douyin, Baidu, QQ): collections"
    " and their records under access rules, files (uploads, temporary URLs, thumbnails),"
    " platform login, users and tokens, cloud functions"
    " and jobs, payments (WeChat Pay, Alipay), subscribe messages, QR codes and links, message"
    " push and content checks. Each has a guide in the docs folder; every error answers"
    " {code, message}, the codes listed in docs/errors.md. Every JSON input keeps two bounds:"
    " integers fit in 64 bits, and strings (and the path and query) never hold the NUL"
    " character."
)
_OPEN = ("anyOf", "oneOf", "allOf", "enum", "const", "$ref", "type")
_SYSTEM = {
    "_id": {"type": "string", "readOnly": True},
    "_owner": {"type": ["string", "null"], "readOnly": True},
    "_created": {"type": "string", "format": "date-time", "readOnly": True},
    "_updated": {"type": "string", "format": "date-time", "readOnly": True},
    "_version": {"type": "integer", "readOnly": True},
    "_expand": {
        "type": "object",
        "readOnly": True,
        "description": "with expand: the records each expand step brings, by step (a record,"
        " or a list of them for references in an array and back-relations)",
    },
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    parameters += [
        {"name": name, "in": "query", "description": description, "schema": sent(schema)}
        for name, description, schema in endpoint.query
    ]
    responses: dict[str, Any] = {}
    for status, (description, schema) in endpoint.responses.items():
        response: dict[str, Any] = {"description": description}
        if schema is not None and status != 204:
            response["content"] = _content(schema)
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
        body = dict(endpoint.body)
        media = body.pop("contentMediaType", "application/json")  # a form upload says so
        schema = sent(body) if media == "application/json" else body
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {media: {"schema": schema}},
        }
    if endpoint.access in ("user", "admin"):
        operation["security"] = [{"bearer": []}]
    elif endpoint.access == "optional":
        operation["security"] = [{"bearer": []}, {}]
    return operation


def sent(schema: Any) -> Any:
    """A schema of what a client sends, with the bounds every JSON input keeps: integers
    within 64 bits, and any value left open a JsonValue (which keeps them too).

    Answers keep their schemas as declared: a stored float may well pass 2^63."""
    if not isinstance(schema, dict):  # true or false
        return schema
    if not any(key in schema for key in _OPEN):
        return {**schema, **_ANY}
    out = dict(schema)
    types = out.get("type", ())
    types = [types] if isinstance(types, str) else types
    if "integer" in types or "number" in types:
        for bound, value in INT64.items():
            out.setdefault(bound, value)
    if "object" in types:
        if "properties" in out:
            out["properties"] = {name: sent(field) for name, field in out["properties"].items()}
        extra = out.get("additionalProperties", True)
        out["additionalProperties"] = _ANY if extra is True else sent(extra)
    if "array" in types:
        out["items"] = sent(out["items"]) if "items" in out else _ANY
    for key in ("anyOf", "oneOf", "allOf"):
        if key in out:
            out[key] = [sent(option) for option in out[key]]
    return out


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, Media):
        return {media_type: {"schema": one} for media_type, one in schema.items()}
    # a binary answer (an image) names its media type in the schema
    return {schema.get("contentMediaType", "application/json"): {"schema": schema}}


def _record_schema(collection: Collection) -> dict[str, Any]:
    user = collection.schema.to_json_schema()
    properties = {**_SYSTEM, **user.get("properties", {})}
    schema = {**user, "type": "object", "properties": properties}
    schema["title"] = collection.name
    return schema


def _collection_paths(collection: Collection, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The generic records operations typed for one collection, so generated clients get its
    record shape: the same parameters and answers, with `name` fixed and the record schema."""
    ref = {"$ref": f"#/components/schemas/{_schema_name(collection)}"}
    listed = records[RECORDS]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    items = {"type": "array", "items": ref}
    page = {**listed, "properties": {**listed["properties"], "items": items}}
    name = collection.name
    body = sent(_record_schema(collection))  # inline: the component also describes answers
    typed = {  # (path suffix, method): (summary, success status, its schema, body schema)
        ("", "get"): (f"List {name} records", "200", page, None),
        ("", "post"): (f"Create a {name} record", "201", ref, body),
        ("/{id}", "get"): (f"Read a {name} record", "200", ref, None),
        ("/{id}", "put"): (f"Replace a {name} record", "200", ref, body),
        ("/{id}", "patch"): (f"Change a {name} record", "200", ref, None),
        ("/{id}", "delete"): (f"Delete a {name} record", "204", None, None),
    }
    paths: dict[str, Any] = {}
    for (suffix, method), (summary, status, schema, sends) in typed.items():
        operation = dict(records[RECORDS + suffix][method])
        operation["operationId"] = f"{operation['operationId']}_{name}"
        operation["summary"] = summary
        operation["tags"] = [f"collection:{name}"]
        operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "name"]
        responses = dict(operation["responses"])
        if schema is not None:
            content = {"application/json": {"schema": schema}}
            responses[status] = {**responses[status], "content": content}
        operation["responses"] = responses
        if sends is not None:
            operation["requestBody"] = {
                **operation["requestBody"],
                "content": {"application/json": {"schema": sends}},
            }
        paths.setdefault(f"/api/collections/{name}/records{suffix}", {})[method] = operation
    return paths


def _schema_name(collection: Collection) -> str:
    return "Record_" + collection.name


def build_openapi(
    endpoints: Sequence[Endpoint], collections: Sequence[Collection]
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    for collection in collections:
        paths.update(_collection_paths(collection, paths))
    schemas: dict[str, Any] = {"Error": _ERROR, "JsonValue": _JSON_VALUE}
    for collection in collections:
        schemas[_schema_name(collection)] = _record_schema(collection)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "minibase",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
