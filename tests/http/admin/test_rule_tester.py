"""The rule tester: as a user, on a record, which actions pass, and what refuses the others."""

from __future__ import annotations

import httpx
from tests.http.records.conftest import create, make_collection

from minibase.testing.plugin import Actor, MakeUser


async def test_the_tester_says_which_actions_pass_and_why_the_others_do_not(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    rules = {
        "list": "doc.published == true || doc._owner == auth.id",
        "read": "doc.published == true || doc._owner == auth.id",
        "create": "auth.id != null",
        "update": 'doc._owner == auth.id && doc.locked != true && "editor" in auth.roles',
        "delete": None,
    }
    await make_collection(client, admin, "posts", {"title": {"type": "string"}}, rules=rules)
    ann, bob = await make_user(), await make_user()
    post = await create(client, ann.headers, "posts", {"title": "draft", "published": False})

    url = "/api/admin/collections/posts/rules/test"
    as_bob = await client.post(
        url, headers=admin.headers, json={"user": bob.id, "record": post["_id"]}
    )
    assert as_bob.status_code == 200, as_bob.text
    actions = as_bob.json()["actions"]
    assert {name: verdict["allowed"] for name, verdict in actions.items()} == {
        "list": False,
        "read": False,
        "create": True,
        "update": False,
        "delete": False,
    }
    assert actions["read"]["why"] == [
        f'none of: published == true (the record has false) | _owner == "{bob.id}"'
        f' (the record has "{ann.id}")'
    ]
    assert actions["delete"] == {"allowed": False, "rule": None, "why": ["only admins may"]}

    as_ann = (
        await client.post(url, headers=admin.headers, json={"user": ann.id, "record": post["_id"]})
    ).json()["actions"]
    assert as_ann["read"]["allowed"] is True
    assert as_ann["update"]["allowed"] is False  # ann owns it but is no editor
    # `"editor" in auth.roles` is about the caller alone: named as the rule writes it
    assert as_ann["update"]["why"] == [
        '"editor" in auth.roles is false for this caller (auth.roles is [])'
    ]

    anyone = (
        await client.post(
            url, headers=admin.headers, json={"user": None, "record": {"published": True}}
        )
    ).json()["actions"]
    assert (anyone["read"]["allowed"], anyone["create"]["allowed"]) == (True, False)
    assert anyone["create"]["why"] == ["auth.id != null is false for this caller (auth.id is null)"]
    # each refusing part of an `&&`, on the caller or on the record
    locked = (
        await client.post(
            url,
            headers=admin.headers,
            json={"user": bob.id, "record": {"locked": True, "_owner": bob.id}},
        )
    ).json()["actions"]
    assert locked["update"]["why"] == [
        "not (locked == true (the record has true))",
        '"editor" in auth.roles is false for this caller (auth.roles is [])',
    ]

    refused = await client.post(url, headers=ann.headers, json={"record": post["_id"]})
    assert refused.status_code == 403
    missing = await client.post(url, headers=admin.headers, json={"user": "nobody", "record": {}})
    assert missing.status_code == 404
