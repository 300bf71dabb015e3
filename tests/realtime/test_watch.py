"""Watching a query over the realtime socket: a snapshot, then every committed change that
matches — in commit order, as the collection's list rule lets the watcher see it — including
records that stop matching (remove); resuming after a disconnect; and what bad input,
expired or revoked tokens and slow readers get."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from tests.http.records.conftest import create, make_collection
from tests.realtime.conftest import Connect

from minibase.auth.caller import Caller
from minibase.clock import OffsetClock
from minibase.data.records import create_record
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

POSTS = {"title": {"type": "string"}, "published": {"type": "boolean"}}


async def patch(
    client: httpx.AsyncClient, who: Actor, record: dict[str, Any], **changes: Any
) -> None:
    url = f"/api/collections/posts/records/{record['_id']}"
    answer = await client.patch(url, headers=who.headers, json=changes)
    assert answer.status_code == 200, answer.text


async def test_a_watcher_gets_a_snapshot_then_each_matching_change_in_commit_order(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    first = await create(client, ann.headers, "posts", {"title": "hello", "published": True})
    await create(client, ann.headers, "posts", {"title": "draft", "published": False})

    reader = await connect()  # anyone may read published posts
    snapshot = await reader.subscribe("feed", "posts", filter={"published": True})
    assert snapshot["type"] == "snapshot"
    assert [doc["title"] for doc in snapshot["docs"]] == ["hello"]

    second = await create(client, ann.headers, "posts", {"title": "news", "published": True})
    await patch(client, ann, second, title="news!")
    await patch(client, ann, second, published=False)  # stops matching
    await create(client, ann.headers, "posts", {"title": "secret", "published": False})
    deleted = await client.delete(
        f"/api/collections/posts/records/{first['_id']}", headers=ann.headers
    )
    assert deleted.status_code == 204

    changes = [await reader.receive() for _ in range(4)]
    assert [(c["id"], c["change"], c["doc"]["_id"], c["doc"]["title"]) for c in changes] == [
        ("feed", "add", second["_id"], "news"),
        ("feed", "update", second["_id"], "news!"),
        ("feed", "remove", second["_id"], "news!"),  # as the watcher last saw it
        ("feed", "remove", first["_id"], "hello"),
    ]
    # and what the write was: a remove by an update (out of the filter) or by a delete
    assert [c["action"] for c in changes] == ["create", "update", "update", "delete"]
    events = [c["event"] for c in changes]
    assert events == sorted(events)
    assert events[0] > snapshot["event"]
    await reader.nothing_more()  # the unpublished post never shows


async def test_a_watcher_sees_only_what_the_list_rule_lets_it(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, connect: Connect
) -> None:
    await make_collection(
        client, admin, "notes", {"text": {"type": "string"}}, rules={"preset": "owner_only"}
    )
    ann, bob = await make_user(), await make_user()
    mine = await connect(ann.token)
    assert (await mine.receive())["type"] == "authenticated"
    assert (await mine.subscribe("all", "notes"))["docs"] == []
    anyone = await connect()
    assert (await anyone.subscribe("all", "notes"))["docs"] == []

    await create(client, bob.headers, "notes", {"text": "bob's"})
    note = await create(client, ann.headers, "notes", {"text": "ann's"})
    added = await mine.receive()
    assert (added["change"], added["doc"]["_id"]) == ("add", note["_id"])
    await mine.nothing_more()
    await anyone.nothing_more()


async def test_a_rolled_back_write_is_never_sent(
    client: httpx.AsyncClient, admin: Actor, services: Services, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    watcher = await connect()
    await watcher.subscribe("feed", "posts")

    async def write_then_fail() -> None:
        async with services.db.transaction() as conn:
            await create_record(services, Caller(kind="admin"), "posts", {"title": "x"}, conn=conn)
            raise RuntimeError("the function failed after writing")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    await watcher.nothing_more()
    kept = await services.db.fetch_value("SELECT COUNT(*) FROM record_changes")
    assert kept == 0


async def test_a_client_that_reconnects_gets_what_it_missed_or_is_told_to_start_again(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    connect: Connect,
    services: Services,
    clock: OffsetClock,
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    watcher = await connect()
    snapshot = await watcher.subscribe("feed", "posts")
    await create(client, ann.headers, "posts", {"title": "one"})
    last = (await watcher.receive())["event"]
    await watcher.connection.close()

    missed = [await create(client, ann.headers, "posts", {"title": t}) for t in ("two", "three")]
    again = await connect()
    resumed = await again.subscribe("feed", "posts", since=last)
    assert resumed == {"type": "resumed", "id": "feed", "event": last}
    got = [await again.receive() for _ in missed]
    assert [(c["change"], c["doc"]["title"]) for c in got] == [("add", "two"), ("add", "three")]
    assert snapshot["event"] < last < got[0]["event"] < got[1]["event"]

    # past the retention window the changes are gone: a new snapshot, said so
    clock.advance(seconds=services.settings.realtime_retention + 1)
    await create(client, ann.headers, "posts", {"title": "four"})
    await services.functions.enqueue_due()  # the scheduler's tick prunes the log
    late = await connect()
    assert await late.subscribe("feed", "posts", since=last) == {
        "type": "resync",
        "id": "feed",
        "since": last,
    }
    fresh = await late.receive()
    assert fresh["type"] == "snapshot"
    assert sorted(doc["title"] for doc in fresh["docs"]) == ["four", "one", "three", "two"]


async def test_bad_frames_and_queries_get_errors_and_the_socket_stays_open(
    client: httpx.AsyncClient, admin: Actor, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    await make_collection(client, admin, "audit", {}, rules={"preset": "admin_only"})
    socket = await connect()
    for garbage in ("not json", "[1, 2]", '{"type": "dance"}', '{"type": "ping", "x": 1}'):
        await socket.connection.send(garbage)
        error = await socket.receive()
        assert (error["type"], error["code"]) == ("error", "realtime.bad_frame"), garbage
    problems = [
        ({"collection": "nope"}, "collections.not_found"),
        ({"collection": "posts", "filter": {"title": {"$nope": 1}}}, "records.invalid_filter"),
        ({"collection": "posts", "limit": 100000}, "request.invalid_query"),
        ({"collection": "audit"}, "auth.forbidden"),
    ]
    for query, code in problems:
        error = await socket.subscribe("q", **query)
        assert (error["type"], error["id"], error["code"]) == ("error", "q", code), query
    assert (await socket.subscribe("q", "posts"))["type"] == "snapshot"
    duplicate = await socket.subscribe("q", "posts")
    assert duplicate["code"] == "realtime.duplicate_id"
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
    await socket.send({"type": "unsubscribe", "id": "q"})
    assert await socket.receive() == {"type": "unsubscribed", "id": "q"}


async def test_a_backlog_larger_than_the_socket_may_hold_is_a_new_snapshot(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    connect: Connect,
    services: Services,
) -> None:
    services.settings = services.settings.replace(realtime_queue=5)
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    watcher = await connect()
    last = (await watcher.subscribe("feed", "posts"))["event"]
    await watcher.connection.close()
    for n in range(12):
        await create(client, ann.headers, "posts", {"title": str(n)})
    again = await connect()
    assert (await again.subscribe("feed", "posts", since=last))["type"] == "resync"
    fresh = await again.receive()
    assert (fresh["type"], len(fresh["docs"])) == ("snapshot", 12)


async def test_a_bad_token_in_the_upgrade_request_is_refused_not_taken_as_anyone(
    connect: Connect,
) -> None:
    socket = await connect("not-a-token")
    refused = await socket.receive()
    assert (refused["type"], refused["code"]) == ("error", "auth.invalid_token")
    await socket.connection.wait_closed()
    assert socket.connection.close_code == 4001


async def test_a_bad_token_is_refused_and_an_expired_one_ends_the_session(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    connect: Connect,
    services: Services,
    clock: OffsetClock,
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    socket = await connect()
    await socket.send({"type": "auth", "token": "not-a-token"})
    assert (await socket.receive())["code"] == "auth.invalid_token"
    ann = await make_user()
    await socket.send({"type": "auth", "token": ann.token})
    assert (await socket.receive())["user"] == ann.id
    await socket.subscribe("feed", "posts")
    clock.advance(seconds=services.settings.access_token_ttl + 1)
    ended = await socket.receive()
    assert ended["code"] == "auth.token_expired"
    await socket.connection.wait_closed()
    assert socket.connection.close_code == 4001


async def test_a_revoked_user_is_signed_out_of_the_socket(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    socket = await connect(ann.token)
    await socket.receive()  # authenticated
    await socket.subscribe("feed", "posts")
    revoked = await client.post(f"/api/admin/users/{ann.id}/revoke", headers=admin.headers)
    assert revoked.status_code == 200
    ended = await socket.receive()
    assert ended["code"] == "auth.token_revoked"
    await socket.connection.wait_closed()
    assert socket.connection.close_code == 4001


async def test_a_reader_too_slow_for_its_queue_is_closed_with_a_reason(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    connect: Connect,
    services: Services,
) -> None:
    services.settings = services.settings.replace(realtime_queue=3)
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    socket = await connect()
    await socket.subscribe("feed", "posts")
    bulk = await client.post(
        "/api/collections/posts/records/bulk-create",
        headers=ann.headers,
        json={"records": [{"title": str(n)} for n in range(20)]},
    )
    assert bulk.status_code == 201
    await asyncio.wait_for(socket.connection.wait_closed(), 5)
    assert socket.connection.close_code == 4008
    assert "too slow" in (socket.connection.close_reason or "")


async def test_the_realtime_path_is_a_websocket(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/realtime")
    assert answer.status_code == 426
    assert answer.json()["code"] == "realtime.upgrade_required"


async def test_a_refreshed_token_sent_on_the_socket_keeps_the_watch_going(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    connect: Connect,
    clock: OffsetClock,
    services: Services,
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    socket = await connect(ann.token)
    first = await socket.receive()
    await socket.subscribe("feed", "posts")
    clock.advance(seconds=services.settings.access_token_ttl - 30)  # nearly expired: refresh
    pair = await client.post("/api/auth/refresh", json={"refresh_token": ann.refresh_token})
    assert pair.status_code == 200, pair.text
    await socket.send({"type": "auth", "token": pair.json()["access_token"]})
    renewed = await socket.receive()
    assert (renewed["type"], renewed["user"]) == ("authenticated", ann.id)
    assert renewed["expires"] > first["expires"]
    clock.advance(seconds=60)  # past the first token's expiry, not the second's
    post = await create(
        client,
        ann.headers | {"Authorization": f"Bearer {pair.json()['access_token']}"},
        "posts",
        {"title": "still here"},
    )
    change = await socket.receive()
    assert (change["change"], change["doc"]["_id"]) == ("add", post["_id"])
    # a token of another account is refused: a socket is one account's
    bob = await make_user()
    await socket.send({"type": "auth", "token": bob.token})
    assert (await socket.receive())["code"] == "realtime.other_user"


async def test_admins_see_this_instances_sockets_and_subscriptions(
    client: httpx.AsyncClient, admin: Actor, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    one, two = await connect(), await connect()
    await one.subscribe("a", "posts")
    await one.subscribe("b", "posts", filter={"published": True})
    await two.subscribe("a", "posts")

    async def counts() -> dict[str, int]:
        report = (await client.get("/api/admin/health", headers=admin.headers)).json()
        live: dict[str, int] = report["realtime"]
        return live

    async def settles_at(expected: dict[str, int]) -> dict[str, int]:
        # a snapshot is sent just before the hub counts its subscription, and a close is
        # noticed a moment after it: the counts settle within a few polls
        for _ in range(50):
            if (seen := await counts()) == expected:
                break
            await asyncio.sleep(0.02)
        return seen

    both = {"connections": 2, "subscriptions": 3}
    assert await settles_at(both) == both
    await one.connection.close()
    two_left = {"connections": 1, "subscriptions": 1}
    assert await settles_at(two_left) == two_left


async def test_a_changed_rule_applies_to_watches_already_open(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, connect: Connect
) -> None:
    await make_collection(client, admin, "posts", POSTS)
    ann = await make_user()
    anyone = await connect()
    await anyone.subscribe("feed", "posts")
    mine = await connect(ann.token)
    await mine.receive()  # authenticated
    await mine.subscribe("feed", "posts")

    async def rules(preset: str) -> None:
        url = "/api/admin/collections/posts"
        answer = await client.patch(url, headers=admin.headers, json={"rules": {"preset": preset}})
        assert answer.status_code == 200, answer.text

    await rules("owner_only")  # anyone no longer sees ann's posts; ann still does
    post = await create(client, ann.headers, "posts", {"title": "private now"})
    assert (await mine.receive())["doc"]["_id"] == post["_id"]
    await anyone.nothing_more()

    await rules("admin_only")  # neither may list it any more: their watches end, and say why
    await create(client, admin.headers, "posts", {"title": "admins only"})
    for socket in (anyone, mine):
        ended = await socket.receive()
        assert (ended["type"], ended["id"], ended["code"]) == ("error", "feed", "auth.forbidden")
        await socket.nothing_more()


async def test_a_change_is_sent_only_when_the_read_rule_lets_the_watcher_read_it(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, connect: Connect
) -> None:
    rules = {"list": "true", "read": "doc.published == true", "create": "auth.id != null"}
    await make_collection(client, admin, "posts", POSTS, rules=rules)
    ann = await make_user()
    await create(client, ann.headers, "posts", {"title": "old draft", "published": False})
    watcher = await connect()
    snapshot = await watcher.subscribe("feed", "posts")
    assert snapshot["docs"] == []  # listed, but not readable: not in the snapshot either
    await create(client, ann.headers, "posts", {"title": "draft", "published": False})
    public = await create(client, ann.headers, "posts", {"title": "out", "published": True})
    change = await watcher.receive()
    assert (change["change"], change["doc"]["_id"]) == ("add", public["_id"])
    await watcher.nothing_more()
