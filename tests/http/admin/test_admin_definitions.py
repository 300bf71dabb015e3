"""Definitions as a file: export every collection (JSON or YAML) and apply a file to make a
server match it, all or nothing, with a dry run and an optional prune."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from minibase.app import create_app
from minibase.auth.admins import create_admin
from minibase.config import Settings
from minibase.services import open_services
from minibase.testing import postgres
from minibase.testing.plugin import Actor

DEFINITIONS = "/api/admin/definitions"

SHOP: list[dict[str, Any]] = [
    {
        "name": "products",
        "fields": {
            "title": {"type": "string", "required": True, "max": 80},
            "price": {"type": "integer", "min": 0},
            "size": {"type": "enum", "values": ["yes", "no", "2026-01-01"]},
            "since": {"type": "datetime", "default": "2026-01-01T08:00:00+08:00"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "shop": {"type": "object", "fields": {"city": {"type": "string"}}},
        },
        "indexes": [{"fields": ["-price", "title"]}, {"fields": ["title"], "unique": True}],
        "rules": {"preset": "public_read_admin_write"},
    },
    {
        "name": "orders",
        "fields": {
            "product": {"type": "reference", "collection": "products"},
            "where": {"type": "geopoint"},
        },
        "additional": False,
        "rules": {"preset": "owner_only", "update": None},
    },
]


class Server:
    """A second, empty server on the same backend as the test."""

    def __init__(self, client: httpx.AsyncClient, admin: Actor) -> None:
        self.client = client
        self.admin = admin


@pytest.fixture
async def fresh_server(backend: str, tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(
        data_dir=tmp_path / "fresh",
        master_key=base64.b64encode(b"f" * 32).decode(),
        auto_migrate=True,
    )
    database = None
    if backend == "postgres":
        database = await postgres.clone_database()
        settings = settings.replace(database_url=postgres.url_for(database), postgres_pool_size=2)
    services = await open_services(settings)
    try:
        found = await create_admin(
            services.db, services.clock, services.ids, "ops@example.com", "a long password"
        )
        admin = Actor(found.id, services.signer.issue(found.caller(), 600))
        transport = httpx.ASGITransport(app=create_app(settings, services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://fresh.test") as client:
            yield Server(client, admin)
    finally:
        await services.close()
        if database is not None:
            await postgres.drop_database(database)


async def apply(
    client: httpx.AsyncClient, admin: Actor, document: Any, **params: str
) -> httpx.Response:
    if isinstance(document, str):
        headers = {**admin.headers, "content-type": "application/yaml"}
        return await client.post(DEFINITIONS, content=document, params=params, headers=headers)
    return await client.post(DEFINITIONS, json=document, params=params, headers=admin.headers)


async def names(client: httpx.AsyncClient, admin: Actor) -> list[str]:
    response = await client.get("/api/admin/collections", headers=admin.headers)
    return [c["name"] for c in response.json()["items"]]


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# -- export and round trip --------------------------------------------------------------------


async def test_export_round_trips_through_a_fresh_server_unchanged(
    client: httpx.AsyncClient, admin: Actor, fresh_server: Server
) -> None:
    applied = await apply(client, admin, {"collections": SHOP})
    assert applied.json()["created"] == ["products", "orders"]
    exported = await client.get(DEFINITIONS, headers=admin.headers)
    document = exported.json()
    assert [c["name"] for c in document["collections"]] == ["products", "orders"]
    assert document["collections"][0]["fields"]["since"]["default"] == (
        "2026-01-01T00:00:00.000000Z"
    )

    fresh, fresh_admin = fresh_server.client, fresh_server.admin
    assert (await apply(fresh, fresh_admin, document)).status_code == 200
    again = await fresh.get(DEFINITIONS, headers=fresh_admin.headers)
    assert again.json() == document


async def test_yaml_export_round_trips_through_a_fresh_server_unchanged(
    client: httpx.AsyncClient, admin: Actor, fresh_server: Server
) -> None:
    await apply(client, admin, {"collections": SHOP})
    exported = await client.get(DEFINITIONS, params={"format": "yaml"}, headers=admin.headers)
    assert exported.headers["content-type"].startswith("application/yaml")
    as_json = await client.get(DEFINITIONS, headers=admin.headers)
    assert yaml.safe_load(exported.text) == as_json.json()

    fresh, fresh_admin = fresh_server.client, fresh_server.admin
    applied = await apply(fresh, fresh_admin, exported.text)
    assert applied.status_code == 200, applied.text
    again = await fresh.get(DEFINITIONS, params={"format": "yaml"}, headers=fresh_admin.headers)
    assert again.text == exported.text


async def test_an_export_format_other_than_json_or_yaml_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for value in ("xml", "", "YAML"):
        answer = await client.get(DEFINITIONS, params={"format": value}, headers=admin.headers)
        assert codes_of(answer) == (400, "request.invalid_query"), value


# -- apply ------------------------------------------------------------------------------------


async def test_apply_reports_what_it_created_altered_and_left_alone(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    first = await apply(client, admin, SHOP)  # a bare list works as well as {collections: ...}
    assert first.json() == {
        "dry_run": False,
        "created": ["products", "orders"],
        "altered": [],
        "unchanged": [],
        "dropped": [],
    }
    changed = [{**SHOP[0], "rules": {"preset": "admin_only"}}, SHOP[1], {"name": "notes"}]
    second = await apply(client, admin, changed)
    assert second.json()["created"] == ["notes"]
    assert second.json()["altered"] == ["products"]
    assert second.json()["unchanged"] == ["orders"]
    products = await client.get("/api/admin/collections/products", headers=admin.headers)
    assert products.json()["preset"] == "admin_only"


async def test_collections_in_a_file_may_reference_each_other_in_any_order(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await apply(client, admin, list(reversed(SHOP)))
    assert response.json()["created"] == ["orders", "products"]


async def test_a_dry_run_reports_the_plan_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, [SHOP[0], {"name": "old"}])
    plan = await apply(
        client, admin, [{**SHOP[0], "indexes": []}, SHOP[1]], dry_run="true", prune="true"
    )
    assert plan.json() == {
        "dry_run": True,
        "created": ["orders"],
        "altered": ["products"],
        "unchanged": [],
        "dropped": ["old"],
    }
    assert await names(client, admin) == ["products", "old"]
    products = await client.get("/api/admin/collections/products", headers=admin.headers)
    assert len(products.json()["indexes"]) == 2


async def test_a_dry_run_still_finds_what_would_fail(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, [{"name": "notes"}])
    await client.post("/api/collections/notes/records", json={"n": "x"}, headers=admin.headers)
    stricter = [{"name": "notes", "fields": {"n": {"type": "integer"}}}]
    response = await apply(client, admin, stricter, dry_run="true")
    assert codes_of(response) == (409, "collections.incompatible_records")


async def test_prune_drops_the_collections_missing_from_the_file(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, [*SHOP, {"name": "old"}])
    kept = await apply(client, admin, [{"name": "old"}])
    assert kept.json()["dropped"] == []
    assert await names(client, admin) == ["products", "orders", "old"]
    pruned = await apply(client, admin, [{"name": "old"}], prune="true")
    assert sorted(pruned.json()["dropped"]) == ["orders", "products"]
    assert await names(client, admin) == ["old"]


async def test_prune_may_drop_a_collection_the_file_no_longer_references(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, SHOP)
    orders = {**SHOP[1], "fields": {"product": {"type": "string"}}}
    response = await apply(client, admin, [orders], prune="true")
    assert response.status_code == 200, response.text
    assert response.json()["dropped"] == ["products"]


async def test_prune_keeps_a_collection_that_the_file_still_references(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, [SHOP[0]])
    response = await apply(client, admin, [SHOP[1]], prune="true")
    assert codes_of(response) == (409, "collections.referenced")
    assert await names(client, admin) == ["products"]


async def test_apply_is_all_or_nothing(client: httpx.AsyncClient, admin: Actor) -> None:
    await apply(client, admin, [{"name": "notes"}, {"name": "old"}])
    file = [
        {"name": "notes", "rules": {"preset": "owner_only"}},
        {"name": "fresh"},
        {"name": "broken", "fields": {"x": {"type": "nope"}}},
    ]
    response = await apply(client, admin, file, prune="true")
    assert codes_of(response) == (400, "collections.invalid_definition")
    assert response.json()["details"]["problems"][0]["field"] == "fields.x"
    assert await names(client, admin) == ["notes", "old"]
    notes = await client.get("/api/admin/collections/notes", headers=admin.headers)
    assert notes.json()["preset"] == "admin_only"


async def test_a_reference_to_a_collection_the_file_creates_must_not_dangle(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await apply(client, admin, [{"name": "posts"}])
    await client.post("/api/collections/posts/records", json={"by": "x"}, headers=admin.headers)
    file = [
        {"name": "posts", "fields": {"by": {"type": "reference", "collection": "authors"}}},
        {"name": "authors"},  # new, so empty: nothing "x" can name
    ]
    response = await apply(client, admin, file)
    assert codes_of(response) == (409, "collections.incompatible_records")
    assert await names(client, admin) == ["posts"]


UNUSABLE = [
    ("collections: [unclosed", "request.malformed_json"),
    ("just text", "collections.invalid_definition"),
    ("[{name: a}, {name: A}]", "collections.invalid_definition"),
    ("[{name: a, rules: {read: 'doc.x =='}}]", "collections.invalid_rule"),
]


async def test_a_file_that_cannot_be_applied_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for body, code in UNUSABLE:
        response = await apply(client, admin, body)
        assert codes_of(response) == (400, code), body
    assert await names(client, admin) == []
    response = await apply(client, admin, [], dry_run="maybe")
    assert codes_of(response) == (400, "request.invalid_query")
