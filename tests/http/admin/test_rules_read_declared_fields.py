"""A rule that reads a record field a closed collection does not declare would never match (a
typo like `doc.ownr == auth.id` locks everyone out, with no error): the collection is refused
when it is defined, and a change of schema that leaves a rule reading a field no record can
hold is refused too, naming the rule's action, the field and the closest declared one."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.testing.plugin import Actor, MakeUser

COLLECTIONS = "/api/admin/collections"
FIELDS: dict[str, Any] = {
    "owner": {"type": "string"},
    "score": {"type": "integer"},
    "size": {"type": "object", "additional": False, "fields": {"width": {"type": "integer"}}},
    "extra": {"type": "object"},
}


def _posts(rules: dict[str, Any], **definition: Any) -> dict[str, Any]:
    return {"name": "posts", "fields": FIELDS, "additional": False, "rules": rules, **definition}


def refused_rule(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "collections.invalid_rule", body
    rule: dict[str, Any] = body["details"]["rule"]
    assert body["message"] == f"rule {rule['action']}: {rule['message']}"
    return rule


async def test_a_rule_reading_an_undeclared_field_is_refused_naming_the_closest(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    cases = [
        ({"update": "doc.ownr == auth.id"}, "update", 0, "ownr", "owner"),
        ({"read": "doc._owner == auth.id || doc.scroe > 5"}, "read", 25, "scroe", "score"),
        ({"create": "body.score <= 100 && body.sorce >= 0"}, "create", 21, "sorce", "score"),
        ({"delete": "doc.size.widht == 1"}, "delete", 0, "size.widht", "size.width"),
        ({"list": "auth.id in doc.members"}, "list", 11, "members", None),
    ]
    for rules, action, position, field, meant in cases:
        response = await client.post(COLLECTIONS, json=_posts(rules), headers=admin.headers)
        rule = refused_rule(response)
        assert rule["action"] == action, rules
        assert rule["position"] == position, rules
        assert (rule["field"], rule["did_you_mean"]) == (field, meant), rules
        assert f"posts has no field {field!r}" in rule["message"]
    response = await client.post(
        COLLECTIONS, json=_posts({"update": "doc.ownr == auth.id"}), headers=admin.headers
    )
    assert response.json()["message"] == (
        "rule update: doc.ownr at 0: posts has no field 'ownr' (did you mean 'owner'?)"
    )
    assert (await client.get(COLLECTIONS, headers=admin.headers)).json()["items"] == []


async def test_declared_fields_system_fields_and_open_parts_may_be_read(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    rules = {
        "list": "doc._owner == auth.id || doc.extra.public == true",
        "read": "doc.owner == auth.id && doc.size.width > 0",
        "create": "body.score <= 100",
        "update": "doc._owner == auth.id",
    }
    response = await client.post(COLLECTIONS, json=_posts(rules), headers=admin.headers)
    assert response.status_code == 201, response.text
    # an open collection may hold any field: its rules may read undeclared ones
    notes = {"name": "notes", "rules": {"list": "doc.ownr == auth.id", "create": "true"}}
    assert (await client.post(COLLECTIONS, json=notes, headers=admin.headers)).status_code == 201
    user = await make_user()
    records = "/api/collections/notes/records"
    await client.post(records, json={"ownr": user.id}, headers=user.headers)
    listed = await client.get(records, headers=user.headers)
    assert [item["ownr"] for item in listed.json()["items"]] == [user.id]


async def test_a_change_that_leaves_a_rule_reading_no_field_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    rules = {"read": "doc.owner == auth.id", "update": "doc.nickname == 'x'"}
    created = await client.post(
        COLLECTIONS, json={"name": "posts", "fields": FIELDS, "rules": rules}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    posts = f"{COLLECTIONS}/posts"
    closed = await client.patch(posts, json={"additional": False}, headers=admin.headers)
    rule = refused_rule(closed)
    assert (rule["action"], rule["field"], rule["did_you_mean"]) == ("update", "nickname", None)
    without_owner = {k: v for k, v in FIELDS.items() if k != "owner"}
    for method in ("PATCH", "PUT"):
        body = {"name": "posts", "fields": without_owner, "additional": False, "rules": rules}
        dropped = await client.request(method, posts, json=body, headers=admin.headers)
        rule = refused_rule(dropped)
        assert (rule["action"], rule["field"]) == ("read", "owner"), method
    kept = (await client.get(posts, headers=admin.headers)).json()
    assert (kept["additional"], set(kept["fields"])) == (True, set(FIELDS))
    # the rule changed with the schema, in one step: accepted
    fixed = {**rules, "read": "doc._owner == auth.id", "update": None}
    body = {"fields": without_owner, "additional": False, "rules": fixed}
    changed = await client.patch(posts, json=body, headers=admin.headers)
    assert changed.status_code == 200, changed.text


async def test_a_definitions_file_with_such_a_rule_changes_nothing(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    file = [{"name": "tags"}, _posts({"list": "doc.scroe > 1"})]
    response = await client.post("/api/admin/definitions", json=file, headers=admin.headers)
    rule = refused_rule(response)
    assert (rule["action"], rule["field"], rule["did_you_mean"]) == ("list", "scroe", "score")
    assert (await client.get(COLLECTIONS, headers=admin.headers)).json()["items"] == []
