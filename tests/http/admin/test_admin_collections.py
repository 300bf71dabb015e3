"""The collections admin API: create, read, list and drop collections; what a definition may
declare (fields of every type, indexes, rules) and how a wrong one is reported."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

COLLECTIONS = "/api/admin/collections"

EVERY_TYPE: dict[str, Any] = {
    "title": {"type": "string", "required": True, "min": 1, "max": 20, "pattern": "^[a-z ]+$"},
    "count": {"type": "integer", "min": 0, "max": 10, "default": 0},
    "ratio": {"type": "number", "min": 0.5, "max": 2.5},
    "done": {"type": "boolean", "default": False},
    "due": {"type": "datetime"},
    "size": {"type": "enum", "values": ["s", "m", "l"]},
    "meta": {"type": "object", "fields": {"color": {"type": "string"}}, "additional": False},
    "tags": {"type": "array", "items": {"type": "string"}, "max": 3, "unique": True},
    "place": {"type": "geopoint"},
    "parent": {"type": "reference", "collection": "things"},
}
GOOD_THING = {
    "title": "a thing",
    "count": 3,
    "ratio": 1.5,
    "done": True,
    "due": "2026-05-01T08:00:00+08:00",
    "size": "m",
    "meta": {"color": "red"},
    "tags": ["x", "y"],
    "place": {"type": "Point", "coordinates": [121.47, 31.23]},
}
BAD_THING = {
    "title": "UPPER",
    "count": 11,
    "ratio": 3,
    "done": "yes",
    "due": "tomorrow",
    "size": "xl",
    "meta": {"color": "red", "shade": "dark"},
    "tags": ["x", "x"],
    "place": {"type": "Point", "coordinates": [200, 0]},
    "parent": "no such record",
}


async def create(client: httpx.AsyncClient, admin: Actor, **definition: Any) -> httpx.Response:
    return await client.post(COLLECTIONS, json=definition, headers=admin.headers)


def codes_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# -- create, read, list, drop ---------------------------------------------------------------


async def test_a_created_collection_is_returned_with_its_normalized_definition(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await create(
        client,
        admin,
        name="posts",
        fields={"title": {"type": "string", "required": True, "max": 200}},
        indexes=["title"],
        rules={"preset": "public_read_owner_write"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "posts"
    assert body["fields"] == {"title": {"type": "string", "required": True, "max": 200}}
    assert body["additional"] is True
    assert body["indexes"] == [{"fields": ["title"], "unique": False}]
    assert body["preset"] == "public_read_owner_write"
    assert body["rules"]["update"] == "doc._owner == auth.id"
    assert body["id"]
    assert body["created"] == body["updated"]
    fetched = await client.get(f"{COLLECTIONS}/posts", headers=admin.headers)
    assert fetched.json() == body


async def test_the_list_holds_every_collection_in_creation_order(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for name in ("b_second", "a_first", "c_third"):
        await create(client, admin, name=name)
    response = await client.get(COLLECTIONS, headers=admin.headers)
    assert [c["name"] for c in response.json()["items"]] == ["b_second", "a_first", "c_third"]


async def test_names_keep_their_letter_case_but_are_unique_and_found_in_any_case(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    assert (await create(client, admin, name="Posts")).status_code == 201
    assert codes_of(await create(client, admin, name="posts")) == (409, "collections.exists")
    response = await client.get(f"{COLLECTIONS}/pOSTS", headers=admin.headers)
    assert response.json()["name"] == "Posts"


async def test_a_dropped_collection_and_its_records_are_gone(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    created = (await create(client, admin, name="posts")).json()
    await client.post("/api/collections/posts/records", json={"a": 1}, headers=admin.headers)
    response = await client.delete(f"{COLLECTIONS}/posts", headers=admin.headers)
    assert response.status_code == 204
    fetched = await client.get(f"{COLLECTIONS}/posts", headers=admin.headers)
    assert codes_of(fetched) == (404, "collections.not_found")
    records = await client.get("/api/collections/posts/records", headers=admin.headers)
    assert codes_of(records) == (404, "collections.not_found")
    assert not await _table_exists(services, f"c_{created['id']}")
    # the name is free again
    assert (await create(client, admin, name="posts")).status_code == 201


async def test_an_unknown_collection_is_not_found_to_read_alter_or_drop(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        body = {"name": "nothing"} if method in ("PATCH", "PUT") else None
        response = await client.request(
            method, f"{COLLECTIONS}/nothing", json=body, headers=admin.headers
        )
        assert codes_of(response) == (404, "collections.not_found"), method


async def _table_exists(services: Services, table: str) -> bool:
    if services.db.dialect.name == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT 1 FROM pg_tables WHERE tablename = ?"
    return await services.db.fetch_value(sql, table) is not None


# -- fields -----------------------------------------------------------------------------------


async def test_fields_of_every_type_are_declared_and_enforced(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await create(client, admin, name="things", fields=EVERY_TYPE)
    assert response.status_code == 201, response.text
    declared = response.json()["fields"]
    assert set(declared) == set(EVERY_TYPE)
    assert {name: spec["type"] for name, spec in declared.items()} == {
        name: spec["type"] for name, spec in EVERY_TYPE.items()
    }
    records = "/api/collections/things/records"
    good = await client.post(records, json=GOOD_THING, headers=admin.headers)
    assert good.status_code == 201, good.text
    assert good.json()["due"] == "2026-05-01T00:00:00.000000Z"
    child = {"title": "child", "parent": good.json()["_id"]}
    created = await client.post(records, json=child, headers=admin.headers)
    assert created.json()["count"] == 0  # the default
    bad = await client.post(records, json=BAD_THING, headers=admin.headers)
    assert codes_of(bad) == (400, "records.invalid")
    wrong = {problem["field"] for problem in bad.json()["details"]["problems"]}
    assert wrong == {
        "title",
        "count",
        "ratio",
        "done",
        "due",
        "size",
        "meta.shade",
        "tags.1",
        "place",
        "parent",
    }
    missing_parent = await client.post(
        records, json={"title": "orphan", "parent": "nope"}, headers=admin.headers
    )
    assert codes_of(missing_parent) == (400, "records.reference_not_found")


# -- indexes ----------------------------------------------------------------------------------


async def test_declared_indexes_are_normalized_deduplicated_and_built(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    response = await create(
        client,
        admin,
        name="scores",
        fields={"player": {"type": "string"}, "score": {"type": "integer"}},
        indexes=[
            "score",
            ["player", "-score"],
            {"fields": ["-score"]},
            {"fields": ["player"], "unique": True},
            {"fields": ["score"], "unique": False},  # the same as the first
        ],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["indexes"] == [
        {"fields": ["score"], "unique": False},
        {"fields": ["player", "-score"], "unique": False},
        {"fields": ["-score"], "unique": False},
        {"fields": ["player"], "unique": True},
    ]
    assert len(await _index_names(services, body["id"])) == 4


async def test_a_unique_index_refuses_a_second_record_with_the_same_value(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await create(client, admin, name="accounts", indexes=[{"fields": ["email"], "unique": True}])
    records = "/api/collections/accounts/records"
    first = await client.post(records, json={"email": "a@example.com"}, headers=admin.headers)
    assert first.status_code == 201
    second = await client.post(records, json={"email": "a@example.com"}, headers=admin.headers)
    assert codes_of(second) == (409, "records.unique_violation")
    assert second.json()["details"] == {"fields": ["email"]}


async def _index_names(services: Services, collection_id: str) -> set[str]:
    prefix = f"i_{collection_id}_"
    if services.db.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = ?"
    rows = await services.db.fetch_all(sql, f"c_{collection_id}")
    return {row[0] for row in rows if row[0].startswith(prefix)}


# -- rules ------------------------------------------------------------------------------------


async def test_a_preset_can_be_overridden_per_action(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await create(
        client,
        admin,
        name="posts",
        rules={"preset": "owner_only", "list": "true", "delete": None},
    )
    body = response.json()
    assert body["preset"] is None  # no longer exactly one preset
    assert body["rules"] == {
        "list": "true",
        "read": "doc._owner == auth.id",
        "create": "auth.id != null",
        "update": "doc._owner == auth.id",
        "delete": None,
    }


async def test_without_rules_only_admins_reach_the_records(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    body = (await create(client, admin, name="secrets")).json()
    assert body["preset"] == "admin_only"
    user = await make_user()
    response = await client.get("/api/collections/secrets/records", headers=user.headers)
    assert codes_of(response) == (403, "auth.forbidden")


async def test_custom_rule_expressions_decide_who_may_act(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await create(
        client,
        admin,
        name="reviews",
        rules={"list": "true", "create": '"editor" in auth.roles && body.stars <= 5'},
    )
    editor, reader = await make_user(roles=("editor",)), await make_user()
    records = "/api/collections/reviews/records"
    allowed = await client.post(records, json={"stars": 5}, headers=editor.headers)
    assert allowed.status_code == 201, allowed.text
    too_many = await client.post(records, json={"stars": 6}, headers=editor.headers)
    assert codes_of(too_many) == (403, "auth.forbidden")
    not_editor = await client.post(records, json={"stars": 1}, headers=reader.headers)
    assert codes_of(not_editor) == (403, "auth.forbidden")


async def test_a_rule_that_does_not_parse_reports_its_action_and_position(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await create(client, admin, name="posts", rules={"list": "doc.score >"})
    assert codes_of(response) == (400, "collections.invalid_rule")
    rule = response.json()["details"]["rule"]
    assert rule["action"] == "list"
    assert isinstance(rule["position"], int)
    assert 0 <= rule["position"] <= len("doc.score >")
    assert rule["message"]
    only_writes_have_a_body = await create(client, admin, name="posts", rules={"read": "body.x"})
    assert codes_of(only_writes_have_a_body) == (400, "collections.invalid_rule")
    assert only_writes_have_a_body.json()["details"]["rule"]["action"] == "read"


# -- invalid definitions ----------------------------------------------------------------------


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"name": "1posts"}, "name"),
    ({"name": "has space"}, "name"),
    ({"fields": {}}, "name"),
    ({"name": "p", "colour": "blue"}, ""),
    ({"name": "p", "additional": "yes"}, "additional"),
    ({"name": "p", "fields": {"a": {"type": "text"}}}, "fields.a"),
    ({"name": "p", "fields": {"a": {"type": "string", "max": "ten"}}}, "fields.a"),
    ({"name": "p", "fields": {"_a": {"type": "string"}}}, "fields._a"),
    ({"name": "p", "fields": {"a": {"type": "integer", "default": "0"}}}, "fields.a"),
    ({"name": "p", "fields": {"a": {"type": "array"}}}, "fields.a"),
    ({"name": "p", "fields": {"a": {"type": "enum", "values": []}}}, "fields.a"),
    ({"name": "p", "indexes": ["a..b"]}, "indexes.0"),
    ({"name": "p", "indexes": [{"fields": []}]}, "indexes.0"),
    ({"name": "p", "indexes": [{"fields": ["a"], "unique": "yes"}]}, "indexes.0"),
    ({"name": "p", "indexes": [{"fields": ["_nope"]}]}, "indexes.0"),
    ({"name": "p", "rules": {"preset": "everyone"}}, "rules"),
    ({"name": "p", "rules": {"read": 1}}, "rules"),
    ({"name": "p", "rules": {"write": "true"}}, "rules"),
    ({"name": "p", "fields": {"by": {"type": "reference", "collection": "x"}}}, "fields.by"),
    # only null stands for "none": false, 0 and "" are not empty definitions
    ({"name": "p", "fields": False}, "fields"),
    ({"name": "p", "indexes": 0}, "indexes"),
    ({"name": "p", "rules": ""}, "rules"),
]


async def test_an_invalid_definition_lists_its_problems_and_creates_nothing(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for definition, field in INVALID:
        response = await create(client, admin, **definition)
        assert codes_of(response) == (400, "collections.invalid_definition"), definition
        problems = response.json()["details"]["problems"]
        assert field in [problem["field"] for problem in problems], (definition, problems)
        assert all(problem["message"] for problem in problems)
    not_an_object = await client.post(COLLECTIONS, json=["posts"], headers=admin.headers)
    assert codes_of(not_an_object) == (400, "request.invalid_body")
    listed = await client.get(COLLECTIONS, headers=admin.headers)
    assert listed.json()["items"] == []


async def test_a_definition_with_an_integer_outside_64_bits_is_refused_not_rounded(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    definition = '{"name": "things", "fields": {"n": {"type": "number", "default": %s}}}'
    headers = {**admin.headers, "Content-Type": "application/json"}

    for big in ("18446744073709551616", "9223372036854775808", "-1180591620717411303424"):
        response = await client.post(COLLECTIONS, headers=headers, content=definition % big)
        assert codes_of(response) == (400, "request.integer_out_of_range")
        assert response.json()["details"]["path"] == "fields.n.default"

    listed = await client.get(COLLECTIONS, headers=admin.headers)
    assert listed.json()["items"] == []


async def test_every_problem_of_a_definition_is_reported_at_once(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await create(
        client, admin, name="9", fields={"a": {"type": "nope"}}, indexes=[{"fields": [1]}]
    )
    fields = [problem["field"] for problem in response.json()["details"]["problems"]]
    assert fields == ["name", "fields.a", "indexes.0"]


# -- who may call -----------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", COLLECTIONS),
    ("POST", COLLECTIONS),
    ("GET", f"{COLLECTIONS}/posts"),
    ("PATCH", f"{COLLECTIONS}/posts"),
    ("PUT", f"{COLLECTIONS}/posts"),
    ("DELETE", f"{COLLECTIONS}/posts"),
    ("GET", "/api/admin/definitions"),
    ("POST", "/api/admin/definitions"),
]


async def test_collection_admin_routes_need_an_admin(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await create(client, admin, name="posts")
    user = await make_user()
    for method, path in ADMIN_ROUTES:
        body = {"name": "posts"} if method in ("POST", "PATCH", "PUT") else None
        anonymous = await client.request(method, path, json=body)
        assert codes_of(anonymous) == (401, "auth.required"), (method, path)
        as_user = await client.request(method, path, json=body, headers=user.headers)
        assert codes_of(as_user) == (403, "auth.admin_required"), (method, path)
    still_there = await client.get(f"{COLLECTIONS}/posts", headers=admin.headers)
    assert still_there.json()["fields"] == {}
