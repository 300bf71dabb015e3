"""GET /api/openapi.json describes the server as it is: every route it serves, and a record
schema per collection made from the collection's definition. GET /api/health says it is up, and
GET / points to both."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from openapi_spec_validator.versions.shortcuts import get_spec_version

from minibase import __version__
from minibase.app import MinibaseApp
from minibase.services import Services
from minibase.testing.plugin import Actor

PRODUCTS: dict[str, Any] = {
    "name": "products",
    "fields": {
        "title": {"type": "string", "required": True, "max": 80},
        "price": {"type": "integer", "min": 0, "default": 0},
        "weight": {"type": "number"},
        "on_sale": {"type": "boolean"},
        "since": {"type": "datetime"},
        "size": {"type": "enum", "values": ["s", "m"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "maker": {"type": "object", "fields": {"city": {"type": "string", "required": True}}},
        "shop": {"type": "geopoint"},
    },
    "additional": False,
    "rules": {"preset": "public_read_admin_write"},
}


async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def body_schema(operation: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


async def test_the_document_is_valid_openapi_3_1(client: httpx.AsyncClient, admin: Actor) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    spec = await document(client)
    assert spec["openapi"].startswith("3.1")
    assert get_spec_version(spec).major == "3"
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema


async def test_every_route_the_app_serves_is_described(
    client: httpx.AsyncClient, app: MinibaseApp
) -> None:
    spec = await document(client)
    served = {(e.method.lower(), e.path) for e in app.state.endpoints}
    described = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert served == described  # no collections yet: only the declared routes
    operations = [op for item in spec["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    collection = spec["paths"]["/api/admin/collections/{name}"]
    assert body_schema(collection["put"])["required"] == ["name"]
    assert "required" not in body_schema(collection["patch"])  # it names only what changes


async def test_every_described_operation_is_answered_by_a_route(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    spec = await document(client)
    for path, item in spec["paths"].items():
        url = re.sub(r"{(\w+)}", lambda m: "products" if m[1] == "name" else "x1", path)
        for method in item:
            if method == "parameters":
                continue
            response = await client.request(method, url, headers=admin.headers)
            is_json = response.headers.get("content-type", "").startswith("application/json")
            code = response.json().get("code") if response.content and is_json else None
            assert code not in ("request.not_found", "request.method_not_allowed"), (method, path)


async def test_each_collection_has_a_record_schema_made_from_its_definition(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    schema = (await document(client))["components"]["schemas"]["Record_products"]
    properties = schema["properties"]
    assert schema["required"] == ["title"]
    assert schema["additionalProperties"] is False
    assert properties["title"] == {"type": "string", "maxLength": 80}
    assert properties["price"]["type"] == ["integer", "null"]
    assert properties["price"]["minimum"] == 0
    assert properties["price"]["default"] == 0
    assert properties["weight"]["type"] == ["number", "null"]
    assert properties["on_sale"]["type"] == ["boolean", "null"]
    assert properties["since"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["size"]["enum"] == ["s", "m", None]
    assert properties["tags"]["items"] == {"type": "string"}
    assert properties["maker"]["required"] == ["city"]
    assert properties["shop"]["properties"]["type"] == {"const": "Point"}
    assert {"_id", "_owner", "_created", "_updated", "_version"} <= set(properties)


async def test_records_the_api_returns_fit_their_record_schema(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    record = {
        "title": "tea",
        "weight": 0.5,
        "on_sale": True,
        "since": "2026-03-01T09:00:00+08:00",
        "size": "m",
        "tags": ["green"],
        "maker": {"city": "Hangzhou"},
        "shop": {"type": "Point", "coordinates": [120.15, 30.28]},
    }
    created = await client.post(
        "/api/collections/products/records", json=record, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    schema = (await document(client))["components"]["schemas"]["Record_products"]
    validator = OAS31Validator(schema)
    assert list(validator.iter_errors(created.json())) == []
    assert list(validator.iter_errors({"title": 5})) != []


async def test_an_expanded_record_of_a_closed_collection_fits_its_record_schema(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    reviews = {
        "name": "reviews",
        "fields": {"product": {"type": "reference", "collection": "products"}},
        "additional": False,
        "rules": {"preset": "public_read_admin_write"},
    }
    await client.post("/api/admin/collections", json=reviews, headers=admin.headers)
    url = "/api/collections/{}/records"
    await client.post(
        url.format("products"), json={"_id": "tea", "title": "tea"}, headers=admin.headers
    )
    await client.post(url.format("reviews"), json={"product": "tea"}, headers=admin.headers)

    read = await client.get(
        url.format("products") + "/tea", params={"expand": "reviews_via_product"}
    )
    listed = await client.get(url.format("reviews"), params={"expand": "product"})

    schemas = (await document(client))["components"]["schemas"]
    assert read.json()["_expand"]["reviews_via_product"]
    assert list(OAS31Validator(schemas["Record_products"]).iter_errors(read.json())) == []
    (review,) = listed.json()["items"]
    assert review["_expand"]["product"]["_id"] == "tea"
    assert list(OAS31Validator(schemas["Record_reviews"]).iter_errors(review)) == []


async def test_the_document_follows_collection_changes(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    await client.patch(
        "/api/admin/collections/products", json={"name": "goods"}, headers=admin.headers
    )
    spec = await document(client)
    assert "Record_goods" in spec["components"]["schemas"]
    assert "Record_products" not in spec["components"]["schemas"]
    assert "/api/collections/goods/records" in spec["paths"]
    await client.delete("/api/admin/collections/goods", headers=admin.headers)
    assert "Record_goods" not in (await document(client))["components"]["schemas"]


async def test_the_root_names_the_server_and_links_to_its_api_description_and_health(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {
        "name": "minibase",
        "version": __version__,
        "links": {
            "openapi": "/api/openapi.json",
            "docs": "/api/docs",
            "console": "/_/",
            "health": "/api/health",
        },
    }
    for link in response.json()["links"].values():
        assert (await client.get(link)).status_code == 200


async def test_health_says_ok_and_names_the_database(
    client: httpx.AsyncClient, backend: str
) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": backend, "version": __version__}


async def test_health_says_unavailable_when_the_database_is_unreachable(
    client: httpx.AsyncClient, services: Services
) -> None:
    await services.db.close()
    response = await client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_answers_that_are_not_json_are_described_with_their_media_type(
    client: httpx.AsyncClient,
) -> None:
    paths = (await document(client))["paths"]
    export = paths["/api/admin/definitions"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/json", "application/yaml"}
    verify = paths["/api/push/wechat/{appid}"]["get"]["responses"]["200"]["content"]
    assert set(verify) == {"text/plain"}
    alipay = paths["/api/pay/alipay/notify/{merchant}"]["post"]["responses"]
    assert alipay["200"]["content"]["text/plain"]["schema"] == {"const": "success"}
    assert alipay["401"]["content"]["text/plain"]["schema"] == {"const": "fail"}


async def test_a_collections_typed_paths_take_what_the_generic_ones_take(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await client.post("/api/admin/collections", json=PRODUCTS, headers=admin.headers)
    paths = (await document(client))["paths"]
    generic, typed = "/api/collections/{name}/records", "/api/collections/products/records"
    for suffix in ("", "/{id}"):
        assert set(paths[typed + suffix]) == set(paths[generic + suffix])
        for method, operation in paths[typed + suffix].items():
            same = paths[generic + suffix][method]
            assert set(operation["responses"]) == set(same["responses"])
            names = [p["name"] for p in same["parameters"] if p["name"] != "name"]
            assert [p["name"] for p in operation["parameters"]] == names
    listed = paths[typed]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/Record_products"
    }


async def test_what_clients_send_is_bounded_as_the_server_reads_json(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    """Integers past 64 bits are refused wherever JSON enters, so every request schema says so:
    typed integers carry the bounds, and values left open are JsonValues, which keep them."""
    await client.post("/api/admin/collections", headers=admin.headers, json=PRODUCTS)
    doc = await document(client)
    validator = OAS31Validator({**doc["components"]["schemas"]["JsonValue"], **doc})
    huge, fits = {"x": [{"y": 2**64}]}, {"x": [{"y": 2**63 - 1, "z": "any"}], "f": 1.5}

    assert not validator.is_valid(huge)
    assert validator.is_valid(fits)
    record_body = body_schema(doc["paths"]["/api/collections/{name}/records"]["post"])
    assert record_body["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    users_body = body_schema(doc["paths"]["/api/admin/users"]["post"])
    assert users_body["properties"]["profile"]["additionalProperties"] == {
        "$ref": "#/components/schemas/JsonValue"
    }
    typed = body_schema(doc["paths"]["/api/collections/products/records"]["post"])
    assert typed["properties"]["weight"] == {
        "type": ["number", "null"],
        "minimum": -(2**63),
        "maximum": 2**63 - 1,
    }
    # an answer keeps the declared schema: a stored float may pass 2^63
    answer = doc["components"]["schemas"]["Record_products"]["properties"]["weight"]
    assert answer == {"type": ["number", "null"]}


# What the document's description calls each tag's routes; None: plumbing it need not name.
_DESCRIBED_AS = {
    "admin": None,
    "apps": "platform login",
    "collections": "collections",
    "content": "content checks",
    "files": "files",
    "functions": "cloud functions",
    "health": None,
    "jobs": "jobs",
    "links": "QR codes and links",
    "login": "platform login",
    "messages": "subscribe messages",
    "meta": None,
    "payments": "payments",
    "payments admin": "payments",
    "push": "message push",
    "qrcodes": "QR codes",
    "records": "records",
    "users": "users and tokens",
}


async def test_the_description_names_every_part_of_the_api(client: httpx.AsyncClient) -> None:
    spec = await document(client)
    tags = {tag for item in spec["paths"].values() for op in item.values() for tag in op["tags"]}
    assert tags - set(_DESCRIBED_AS) == set(), "a new part of the API: name it in the description"
    description = spec["info"]["description"]
    assert [words for words in _DESCRIBED_AS.values() if words and words not in description] == []
    assert "docs/errors.md" in description
