"""Changing a collection that holds records: PATCH merges top-level keys, PUT replaces the
definition; a change that existing records would violate is refused whole."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.data.definitions import alter_collection, create_collection
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor

COLLECTIONS = "/api/admin/collections"


async def create(client: httpx.AsyncClient, admin: Actor, **definition: Any) -> dict[str, Any]:
    response = await client.post(COLLECTIONS, json=definition, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_records(
    client: httpx.AsyncClient, admin: Actor, name: str, *records: dict[str, Any]
) -> list[str]:
    ids = []
    for record in records:
        response = await client.post(
            f"/api/collections/{name}/records", json=record, headers=admin.headers
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["_id"])
    return ids


async def records_of(client: httpx.AsyncClient, admin: Actor, name: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/collections/{name}/records", headers=admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def definition_of(client: httpx.AsyncClient, admin: Actor, name: str) -> dict[str, Any]:
    response = await client.get(f"{COLLECTIONS}/{name}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


POSTS: dict[str, Any] = {
    "name": "posts",
    "fields": {"title": {"type": "string"}},
    "indexes": [{"fields": ["-title"]}],
    "rules": {"preset": "public_read_owner_write"},
}


# -- PATCH and PUT ----------------------------------------------------------------------------


async def test_patch_replaces_only_the_top_level_keys_it_names(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    before = await create(client, admin, **POSTS)
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"rules": {"preset": "owner_only"}}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["preset"] == "owner_only"
    assert after["fields"] == before["fields"]
    assert after["indexes"] == before["indexes"]
    assert after["id"] == before["id"]
    assert after["created"] == before["created"]
    assert after["updated"] >= before["updated"]
    assert await definition_of(client, admin, "posts") == after
    # a key is replaced whole, not merged inside
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"fields": {"body": {"type": "string"}}}, headers=admin.headers
    )
    assert list(response.json()["fields"]) == ["body"]


async def test_put_replaces_the_whole_definition(client: httpx.AsyncClient, admin: Actor) -> None:
    await create(client, admin, **POSTS)
    response = await client.put(
        f"{COLLECTIONS}/posts",
        json={"name": "posts", "fields": {"body": {"type": "string"}}},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fields"] == {"body": {"type": "string"}}
    assert body["indexes"] == []
    assert body["preset"] == "admin_only"  # no rules given: admins only


async def test_put_without_a_name_is_an_invalid_definition(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    response = await client.put(f"{COLLECTIONS}/posts", json={"fields": {}}, headers=admin.headers)
    assert codes_of(response) == (400, "collections.invalid_definition")
    assert (await definition_of(client, admin, "posts"))["fields"] == POSTS["fields"]


# -- rename -----------------------------------------------------------------------------------


async def test_a_renamed_collection_keeps_its_records(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    ids = await add_records(client, admin, "posts", {"title": "a"}, {"title": "b"})
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"name": "articles"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert [r["_id"] for r in await records_of(client, admin, "articles")] == ids
    gone = await client.get("/api/collections/posts/records", headers=admin.headers)
    assert codes_of(gone) == (404, "collections.not_found")


async def test_a_rename_onto_another_name_is_refused_but_a_change_of_case_is_not(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="posts")
    await create(client, admin, name="articles")
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"name": "Articles"}, headers=admin.headers
    )
    assert codes_of(response) == (409, "collections.exists")
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"name": "Posts"}, headers=admin.headers
    )
    assert response.json()["name"] == "Posts"


async def test_renaming_a_referenced_collection_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="authors")
    await create(
        client, admin, name="posts", fields={"by": {"type": "reference", "collection": "authors"}}
    )
    response = await client.patch(
        f"{COLLECTIONS}/authors", json={"name": "writers"}, headers=admin.headers
    )
    assert codes_of(response) == (409, "collections.referenced")
    assert (await definition_of(client, admin, "authors"))["name"] == "authors"


async def test_a_self_referencing_collection_is_renamed_with_its_references(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(
        client, admin, name="nodes", fields={"up": {"type": "reference", "collection": "nodes"}}
    )
    (root,) = await add_records(client, admin, "nodes", {})
    response = await client.patch(
        f"{COLLECTIONS}/nodes",
        json={"name": "tree", "fields": {"up": {"type": "reference", "collection": "tree"}}},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    await add_records(client, admin, "tree", {"up": root})


async def test_a_rename_that_keeps_references_to_the_old_name_is_an_invalid_definition(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(
        client, admin, name="nodes", fields={"up": {"type": "reference", "collection": "nodes"}}
    )
    response = await client.patch(
        f"{COLLECTIONS}/nodes", json={"name": "tree"}, headers=admin.headers
    )
    assert codes_of(response) == (400, "collections.invalid_definition")
    assert response.json()["details"]["problems"][0]["field"] == "fields.up"


# -- changes that existing records must satisfy -----------------------------------------------


async def test_a_schema_that_existing_records_violate_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="posts", indexes=["-title"])
    ids = await add_records(client, admin, "posts", {"title": "ok"}, {"title": 5}, {})
    before = await definition_of(client, admin, "posts")
    response = await client.patch(
        f"{COLLECTIONS}/posts",
        json={
            "fields": {"title": {"type": "string", "required": True}, "n": {"type": "integer"}},
            "indexes": [],
            "rules": {"preset": "admin_only"},
        },
        headers=admin.headers,
    )
    assert codes_of(response) == (409, "collections.incompatible_records")
    reported = response.json()["details"]["records"]
    assert [entry["_id"] for entry in reported] == ids[1:]
    assert reported[1]["problems"][0]["field"] == "title"
    assert await definition_of(client, admin, "posts") == before
    assert [r.get("title") for r in await records_of(client, admin, "posts")] == ["ok", 5, None]


async def test_closing_a_schema_is_refused_while_records_hold_undeclared_fields(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    await add_records(client, admin, "posts", {"title": "a", "extra": True})
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"additional": False}, headers=admin.headers
    )
    assert codes_of(response) == (409, "collections.incompatible_records")


async def test_a_new_field_with_a_default_fills_existing_records(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    await add_records(client, admin, "posts", {"title": "a"}, {"title": "b", "score": 3})
    fields = {"title": {"type": "string"}, "score": {"type": "integer", "default": 0}}
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"fields": fields}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    records = await records_of(client, admin, "posts")
    assert [r["score"] for r in records] == [0, 3]
    assert [r["_version"] for r in records] == [1, 1]  # a schema change is not an edit
    score_zero = await client.get(
        "/api/collections/posts/records", params={"filter": '{"score": 0}'}, headers=admin.headers
    )
    assert [r["title"] for r in score_zero.json()["items"]] == ["a"]


async def test_a_new_reference_field_needs_existing_records_to_point_at_real_ones(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="authors")
    (ann,) = await add_records(client, admin, "authors", {})
    await create(client, admin, name="posts")
    fine, ghost_author, ghost_helper = await add_records(
        client, admin, "posts", {"by": ann}, {"by": "ghost"}, {"by": ann, "with": [ann, "x"]}
    )
    author = {"type": "reference", "collection": "authors"}
    fields = {"by": author, "with": {"type": "array", "items": author}}
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"fields": fields}, headers=admin.headers
    )
    assert codes_of(response) == (409, "collections.incompatible_records")
    reported = {r["_id"]: r["problems"] for r in response.json()["details"]["records"]}
    assert list(reported) == [ghost_author, ghost_helper]
    assert [(p["field"], p["code"]) for p in reported[ghost_author]] == [("by", "reference")]
    assert [(p["field"], p["code"]) for p in reported[ghost_helper]] == [("with", "reference")]
    assert "'x'" in reported[ghost_helper][0]["message"]

    for record_id in (ghost_author, ghost_helper):
        await client.delete(f"/api/collections/posts/records/{record_id}", headers=admin.headers)
    response = await client.patch(
        f"{COLLECTIONS}/posts", json={"fields": fields}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert [r["_id"] for r in await records_of(client, admin, "posts")] == [fine]


async def test_a_unique_index_over_duplicate_values_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    await add_records(client, admin, "posts", {"title": "same"}, {"title": "same"})
    before = await definition_of(client, admin, "posts")
    response = await client.patch(
        f"{COLLECTIONS}/posts",
        json={
            "indexes": [{"fields": ["title"], "unique": True}],
            "fields": {"title": {"type": "string"}, "n": {"type": "integer", "default": 1}},
        },
        headers=admin.headers,
    )
    assert codes_of(response) == (409, "collections.unique_violation")
    assert await definition_of(client, admin, "posts") == before
    assert all("n" not in r for r in await records_of(client, admin, "posts"))
    # and the old index still stands: the collection is usable as before
    await add_records(client, admin, "posts", {"title": "same"})


async def test_a_unique_index_over_distinct_values_is_added(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, **POSTS)
    await add_records(client, admin, "posts", {"title": "a"}, {"title": "b"})
    response = await client.patch(
        f"{COLLECTIONS}/posts",
        json={"indexes": [{"fields": ["title"], "unique": True}]},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    duplicate = await client.post(
        "/api/collections/posts/records", json={"title": "a"}, headers=admin.headers
    )
    assert codes_of(duplicate) == (409, "records.unique_violation")


# -- drop -------------------------------------------------------------------------------------


async def test_a_collection_referenced_by_another_cannot_be_dropped(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="authors")
    await create(
        client, admin, name="posts", fields={"by": {"type": "reference", "collection": "authors"}}
    )
    response = await client.delete(f"{COLLECTIONS}/authors", headers=admin.headers)
    assert codes_of(response) == (409, "collections.referenced")
    assert "posts.by" in response.json()["message"]
    assert (await client.delete(f"{COLLECTIONS}/posts", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"{COLLECTIONS}/authors", headers=admin.headers)).status_code == 204


async def test_a_collection_that_references_itself_can_be_dropped(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(
        client, admin, name="nodes", fields={"up": {"type": "reference", "collection": "nodes"}}
    )
    response = await client.delete(f"{COLLECTIONS}/nodes", headers=admin.headers)
    assert response.status_code == 204


async def test_a_change_sees_what_another_worker_changed_a_moment_before(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    """Each worker keeps the definitions and looks for changes once a second; a definition
    change reads them afresh, so a collection just made by another worker can be referenced,
    and a PATCH merges into the definition as it is now."""
    other = await open_services(services.settings)  # another worker, same database
    try:
        await other.collections.all()  # it has the definitions, as they were
        await create(client, admin, name="buyers", fields={"name": {"type": "string"}})
        orders = {
            "name": "orders",
            "fields": {"buyer": {"type": "reference", "collection": "buyers"}},
            "rules": {"preset": "public_read_admin_write"},
        }
        made = await create_collection(other, orders)
        assert made.schema.references() == ((("buyer",), "buyers"),)
        changed = await client.patch(
            f"{COLLECTIONS}/buyers", json={"rules": {"preset": "owner_only"}}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
        indexed = await alter_collection(other, "buyers", {"indexes": [{"fields": ["name"]}]})
        assert indexed.rules == (await services.collections.get("buyers")).rules  # kept
        assert indexed.rules["list"] == "doc._owner == auth.id"  # the PATCH of a moment ago
    finally:
        await other.close()
