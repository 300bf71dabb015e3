"""Access rules: the presets, custom expressions over auth, doc and body, and admin bypass."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import (
    ANONYMOUS,
    all_records,
    assert_error,
    create,
    list_page,
    make_collection,
    read,
    records_url,
    walk_pages,
)


async def test_public_read_owner_write_lets_anyone_read_and_only_the_owner_change(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    owner, stranger = await make_user(), await make_user()
    record = await create(client, owner.headers, "posts", {"title": "mine"})
    url = records_url("posts", f"/{record['_id']}")

    assert (await list_page(client, ANONYMOUS, "posts"))["items"] == [record]
    assert await read(client, ANONYMOUS, "posts", record["_id"]) == record
    anonymous_create = await client.post(records_url("posts"), json={"title": "x"})
    assert_error(anonymous_create, 401, "auth.required")
    assert_error(await client.patch(url, json={"title": "x"}), 401, "auth.required")
    assert_error(await client.delete(url), 401, "auth.required")
    for call in (
        client.patch(url, headers=stranger.headers, json={"title": "x"}),
        client.put(url, headers=stranger.headers, json={"title": "x"}),
        client.delete(url, headers=stranger.headers),
    ):
        assert_error(await call, 403, "auth.forbidden")
    assert await all_records(client, admin, "posts") == [record]

    changed = await client.patch(url, headers=owner.headers, json={"title": "still mine"})
    assert changed.status_code == 200
    assert (await client.delete(url, headers=owner.headers)).status_code == 204


async def test_owner_only_hides_other_users_records_everywhere(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "notes", rules={"preset": "owner_only"})
    alice, bob = await make_user(), await make_user()
    for n in range(7):
        await create(client, alice.headers, "notes", {"n": n})
    bobs = await create(client, bob.headers, "notes", {"n": 100, "secret": "text"})
    await create(client, admin.headers, "notes", {"n": 200})  # ownerless
    url = records_url("notes", f"/{bobs['_id']}")

    alices = await walk_pages(client, alice.headers, "notes", limit="3")
    counted = await list_page(client, alice.headers, "notes", count="true", limit="2")
    assert sorted(item["n"] for item in alices) == list(range(7))
    assert counted["total"] == 7
    assert len(counted["items"]) == 2
    assert (await list_page(client, ANONYMOUS, "notes", count="true"))["total"] == 0
    assert_error(await client.get(url, headers=alice.headers), 404, "records.not_found")
    # Alice cannot even learn what the hidden record holds through a failing update.
    for body in ({"$inc": {"secret": 1}}, {"$push": {"secret": 1}}, {"n": "x"}):
        response = await client.patch(url, headers=alice.headers, json=body)
        assert_error(response, 404, "records.not_found")
    assert_error(await client.delete(url, headers=alice.headers), 404, "records.not_found")
    assert await read(client, bob.headers, "notes", bobs["_id"]) == bobs


async def test_anonymous_callers_never_match_ownerless_records(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "notes", rules={"preset": "owner_only"})
    ownerless = await create(client, admin.headers, "notes", {"n": 1})
    url = records_url("notes", f"/{ownerless['_id']}")

    assert (await list_page(client, ANONYMOUS, "notes"))["items"] == []
    assert_error(await client.get(url), 404, "records.not_found")
    assert_error(await client.patch(url, json={"n": 2}), 404, "records.not_found")
    assert_error(await client.delete(url), 404, "records.not_found")
    assert await all_records(client, admin, "notes") == [ownerless]


async def test_admin_write_presets_refuse_users_and_admins_pass_every_rule(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "news", rules={"preset": "public_read_admin_write"})
    await make_collection(client, admin, "vault", rules={"preset": "admin_only"})
    user = await make_user()
    news = await create(client, admin.headers, "news", {"title": "hi"})
    secret = await create(client, admin.headers, "vault", {"code": 1})

    assert (await list_page(client, user.headers, "news"))["items"] == [news]
    for collection, record in (("news", news), ("vault", secret)):
        url = records_url(collection, f"/{record['_id']}")
        for call in (
            client.post(records_url(collection), headers=user.headers, json={"x": 1}),
            client.patch(url, headers=user.headers, json={"x": 1}),
            client.delete(url, headers=user.headers),
        ):
            assert_error(await call, 403, "auth.forbidden")
    for call in (
        client.get(records_url("vault"), headers=user.headers),
        client.get(records_url("vault", f"/{secret['_id']}"), headers=user.headers),
    ):
        assert_error(await call, 403, "auth.forbidden")

    url = records_url("vault", f"/{secret['_id']}")
    assert (await client.patch(url, headers=admin.headers, json={"code": 2})).status_code == 200
    assert (await list_page(client, admin.headers, "vault"))["items"][0]["code"] == 2
    assert (await client.delete(url, headers=admin.headers)).status_code == 204


async def test_a_rule_may_let_editors_change_anyones_records(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    rules = {
        "preset": "public_read_owner_write",
        "update": 'doc._owner == auth.id || "editor" in auth.roles',
    }
    await make_collection(client, admin, "posts", rules=rules)
    author, editor, reader = await make_user(), await make_user(("editor",)), await make_user()
    record = await create(client, author.headers, "posts", {"title": "draft"})
    url = records_url("posts", f"/{record['_id']}")

    by_editor = await client.patch(url, headers=editor.headers, json={"title": "edited"})
    by_reader = await client.patch(url, headers=reader.headers, json={"title": "vandalised"})
    editor_delete = await client.delete(url, headers=editor.headers)

    assert by_editor.status_code == 200
    assert by_editor.json()["_owner"] == author.id
    assert_error(by_reader, 403, "auth.forbidden")
    assert_error(editor_delete, 403, "auth.forbidden")  # the delete rule is still owner-only
    assert (await read(client, reader.headers, "posts", record["_id"]))["title"] == "edited"


async def test_a_list_rule_on_a_field_filters_lists_totals_pages_and_reads(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    rules = {
        "list": "doc.published == true || doc._owner == auth.id",
        "read": "doc.published == true || doc._owner == auth.id",
        "create": "auth.id != null",
    }
    await make_collection(client, admin, "posts", {"published": {"type": "boolean"}}, rules=rules)
    author, reader = await make_user(), await make_user()
    records = [
        await create(client, author.headers, "posts", {"n": n, "published": n % 3 == 0})
        for n in range(12)
    ]
    hidden = next(r for r in records if not r["published"])

    seen = await walk_pages(client, reader.headers, "posts", limit="2", sort="-n")
    page = await list_page(client, reader.headers, "posts", count="true", limit="1")
    filtered = await list_page(
        client, reader.headers, "posts", count="true", filter='{"n": {"$lt": 6}}'
    )

    assert [item["n"] for item in seen] == [9, 6, 3, 0]
    assert page["total"] == 4
    assert filtered["total"] == 2
    assert (await list_page(client, author.headers, "posts", count="true"))["total"] == 12
    url = records_url("posts", f"/{hidden['_id']}")
    assert_error(await client.get(url, headers=reader.headers), 404, "records.not_found")
    assert_error(await client.get(url), 404, "records.not_found")
    assert await read(client, author.headers, "posts", hidden["_id"]) == hidden
    # no rule for update or delete: admins only
    patch = await client.patch(url, headers=author.headers, json={"n": 0})
    assert_error(patch, 403, "auth.forbidden")


async def test_create_and_update_rules_see_the_record_as_it_will_be(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    rules = {
        "preset": "public_read_owner_write",
        "create": 'auth.id != null && body.score <= 100 && doc.status != "locked"',
        "update": 'doc._owner == auth.id && body.score <= 100 && doc.status != "locked"',
    }
    fields = {"score": {"type": "integer", "default": 0}, "status": {"type": "string"}}
    await make_collection(client, admin, "games", fields, rules=rules)
    user = await make_user()

    too_high = await client.post(records_url("games"), headers=user.headers, json={"score": 101})
    born_locked = await client.post(
        records_url("games"), headers=user.headers, json={"status": "locked"}
    )
    record = await create(client, user.headers, "games", {"score": 60})  # defaults count too
    url = records_url("games", f"/{record['_id']}")
    over = await client.patch(url, headers=user.headers, json={"$inc": {"score": 50}})
    fine = await client.patch(url, headers=user.headers, json={"$inc": {"score": 40}})
    lock = await client.patch(url, headers=user.headers, json={"status": "locked"})
    after_lock = await client.patch(url, headers=user.headers, json={"status": "open"})

    assert_error(too_high, 403, "auth.forbidden")
    assert_error(born_locked, 403, "auth.forbidden")
    assert_error(over, 403, "auth.forbidden")
    assert fine.json()["score"] == 100
    assert lock.status_code == 200  # doc is the stored record: it was not locked yet
    assert_error(after_lock, 403, "auth.forbidden")
    assert await all_records(client, admin, "games") == [lock.json()]


async def test_the_same_list_asked_again_follows_each_caller_and_the_rule_of_the_moment(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    """A list asked again (the same query string) is answered from SQL kept for it: kept per
    caller's bound rule, and forgotten when the collection's rules or fields change."""
    fields = {"n": {"type": "integer"}, "m": {"type": "integer"}}
    await make_collection(
        client, admin, "notes", fields, rules={"preset": "owner_only"}, additional=False
    )
    alice, bob = await make_user(), await make_user()
    for n in range(4):
        await create(client, alice.headers, "notes", {"n": n})
    await create(client, bob.headers, "notes", {"n": 10})
    query = {"filter": '{"n": {"$gte": 0}}', "sort": "-n", "count": "true"}

    for _ in range(2):
        assert [
            r["n"] for r in (await list_page(client, alice.headers, "notes", **query))["items"]
        ] == [3, 2, 1, 0]
        assert (await list_page(client, bob.headers, "notes", **query))["items"][0]["n"] == 10
        assert (await list_page(client, bob.headers, "notes", **query))["total"] == 1
        anonymous = await list_page(client, ANONYMOUS, "notes", **query)
        assert anonymous == {"items": [], "next_cursor": None, "total": 0}
    seen = await walk_pages(client, alice.headers, "notes", limit="3", **query)
    assert [r["n"] for r in seen] == [3, 2, 1, 0]

    changed = await client.patch(
        "/api/admin/collections/notes",
        json={"rules": {"preset": "public_read_owner_write"}},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    page = await list_page(client, bob.headers, "notes", **query)
    assert [r["n"] for r in page["items"]] == [10, 3, 2, 1, 0]
    assert page["total"] == 5

    on_m = {"filter": '{"m": {"$gte": 0}}'}
    for _ in range(2):
        assert (await list_page(client, alice.headers, "notes", **on_m))["items"] == []
    changed = await client.patch(
        "/api/admin/collections/notes",
        json={"fields": {"n": {"type": "integer"}}},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    # `m` is no field of the collection any more: the same query is refused now, saying so
    refused = await client.get(records_url("notes"), params=on_m, headers=alice.headers)
    assert_error(refused, 400, "records.invalid_filter")
