"""The `content_check` field rule over HTTP, against the sandbox on both engines: text a user
writes into a checked field is checked with their WeChat openid before anything is stored;
risky text is 422 content.risky (naming the field and the label) with nothing written, clean
text is stored, "review" passes unless the field is strict, unchanged text costs no call,
admins are not checked, writers without WeChat are 422 content.unchecked, and an outage is
503 content.unavailable, never an unchecked record."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.http.login.conftest import bearer, sign_in
from tests.http.records.conftest import all_records, assert_error, make_collection, records_url

from minibase.platforms import CONTENT_SCENES
from minibase.services import Services
from minibase.store.schema_content import SCENES
from minibase.testing.plugin import Actor, MakeUser, RegisterApp
from minibase.testing.sandbox import SandboxClient

APP = "wx-forum"
POSTS = {
    "title": {"type": "string", "max": 80, "content_check": {"scene": "forum"}},
    "body": {"type": "string", "content_check": True},
    "tags": {"type": "array", "items": {"type": "string", "content_check": True}},
    "bio": {"type": "string", "content_check": {"scene": "profile", "strict": True}},
    "likes": {"type": "integer", "default": 0},
}


@pytest.fixture
async def writer(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> dict[str, str]:
    """A person signed in through WeChat, and a forum collection with checked fields."""
    await register_app("wechat", APP)
    await make_collection(client, admin, "posts", POSTS)
    return bearer(await sign_in(client, sandbox, "wechat", APP, "ann"))


async def _checks(sandbox: SandboxClient) -> int:
    return (await sandbox.calls()).get("wechat", {}).get("/wxa/msg_sec_check", 0)


async def test_risky_text_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str], admin: Actor
) -> None:
    refused = await client.post(
        records_url("posts"),
        json={"title": "hello", "body": "visit sandbox-risky dot com"},
        headers=writer,
    )
    body = assert_error(refused, 422, "content.risky")
    assert body["details"]["field"] == "body"
    assert (body["details"]["suggest"], body["details"]["label"]) == ("risky", 21000)
    assert await all_records(client, admin, "posts") == []
    created = await client.post(
        records_url("posts"), json={"title": "hello", "body": "a calm post"}, headers=writer
    )
    assert created.status_code == 201, created.text
    assert [r["body"] for r in await all_records(client, admin, "posts")] == ["a calm post"]


async def test_an_update_is_checked_and_a_refused_one_changes_nothing(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str], admin: Actor
) -> None:
    created = await client.post(records_url("posts"), json={"title": "hi"}, headers=writer)
    url = records_url("posts", f"/{created.json()['_id']}")
    refused = await client.patch(url, json={"title": "sandbox-risky news"}, headers=writer)
    assert assert_error(refused, 422, "content.risky")["details"]["field"] == "title"
    replaced = await client.put(url, json={"title": "ok", "body": "sandbox-risky"}, headers=writer)
    assert assert_error(replaced, 422, "content.risky")["details"]["field"] == "body"
    pushed = await client.patch(url, json={"$push": {"tags": "sandbox-risky"}}, headers=writer)
    assert assert_error(pushed, 422, "content.risky")["details"]["field"] == "tags"
    [stored] = await all_records(client, admin, "posts")
    assert (stored["title"], stored["_version"], stored.get("tags")) == ("hi", 1, None)
    changed = await client.patch(url, json={"title": "good news"}, headers=writer)
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "good news"
    calls = await _checks(sandbox)
    liked = await client.patch(url, json={"$inc": {"likes": 1}}, headers=writer)
    assert liked.json()["likes"] == 1
    assert await _checks(sandbox) == calls  # the text did not change: no call


async def test_review_passes_unless_the_field_is_strict(
    client: httpx.AsyncClient, writer: dict[str, str], admin: Actor
) -> None:
    reviewed = await client.post(
        records_url("posts"), json={"body": "maybe sandbox-review"}, headers=writer
    )
    assert reviewed.status_code == 201, reviewed.text
    strict = await client.post(records_url("posts"), json={"bio": "sandbox-review"}, headers=writer)
    details = assert_error(strict, 422, "content.risky")["details"]
    assert (details["field"], details["suggest"]) == ("bio", "review")
    assert len(await all_records(client, admin, "posts")) == 1


async def test_an_apps_own_keyword_is_refused_with_its_label(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str]
) -> None:
    await sandbox.content_word(APP, "cheap watches", "risky", 10001)
    refused = await client.post(
        records_url("posts"), json={"title": "Cheap Watches!"}, headers=writer
    )
    details = assert_error(refused, 422, "content.risky")["details"]
    assert (details["label"], details["label_name"]) == (10001, "ad")


async def test_a_bulk_create_with_one_risky_record_writes_none(
    client: httpx.AsyncClient, writer: dict[str, str], admin: Actor
) -> None:
    records = [{"title": "one"}, {"title": "two", "tags": ["fine", "sandbox-risky"]}]
    refused = await client.post(
        records_url("posts", "/bulk-create"), json={"records": records}, headers=writer
    )
    details = assert_error(refused, 422, "content.risky")["details"]
    assert (details["field"], details["index"]) == ("tags", 1)
    assert await all_records(client, admin, "posts") == []


async def test_a_bulk_create_checks_each_distinct_text_once(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str], admin: Actor
) -> None:
    records = [{"title": "daily", "body": f"note {i % 3}"} for i in range(30)]
    created = await client.post(
        records_url("posts", "/bulk-create"), json={"records": records}, headers=writer
    )
    assert created.status_code == 201, created.text
    assert len(await all_records(client, admin, "posts")) == 30
    assert await _checks(sandbox) == 4  # "daily", "note 0", "note 1", "note 2"


async def test_admins_are_not_checked(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str], admin: Actor
) -> None:
    created = await client.post(
        records_url("posts"), json={"body": "sandbox-risky, quoted"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    assert await _checks(sandbox) == 0


async def test_a_writer_without_wechat_cannot_write_checked_text(
    client: httpx.AsyncClient, writer: dict[str, str], make_user: MakeUser, admin: Actor
) -> None:
    user = await make_user()
    refused = await client.post(records_url("posts"), json={"body": "hello"}, headers=user.headers)
    assert assert_error(refused, 422, "content.unchecked")["details"]["field"] == "body"
    untouched = await client.post(records_url("posts"), json={"likes": 3}, headers=user.headers)
    assert untouched.status_code == 201  # no checked text in it
    assert [r["likes"] for r in await all_records(client, admin, "posts")] == [3]


@pytest.mark.parametrize("fault", ["outage", "quota"])
async def test_an_outage_refuses_the_write_rather_than_store_unchecked_text(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    writer: dict[str, str],
    admin: Actor,
    fault: str,
) -> None:
    await client.post(records_url("posts"), json={"title": "warm up"}, headers=writer)
    if fault == "outage":
        await sandbox.outage("wechat", "http_500", count=1)
    else:
        await sandbox.rate_limit("wechat", APP, 0)
    failed = await client.post(records_url("posts"), json={"title": "hello"}, headers=writer)
    assert_error(failed, 503, "content.unavailable")
    assert [r["title"] for r in await all_records(client, admin, "posts")] == ["warm up"]


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "string", "content_check": "yes"},
        {"type": "string", "content_check": {"scene": "chat"}},
        {"type": "string", "content_check": {"strict": "very"}},
        {"type": "integer", "content_check": True},
    ],
)
async def test_a_bad_content_check_option_is_refused(
    client: httpx.AsyncClient, admin: Actor, spec: dict[str, Any]
) -> None:
    refused = await client.post(
        "/api/admin/collections",
        json={"name": "notes", "fields": {"text": spec}},
        headers=admin.headers,
    )
    assert_error(refused, 400, "collections.invalid_definition")


async def test_the_definition_keeps_the_option(client: httpx.AsyncClient, admin: Actor) -> None:
    await make_collection(client, admin, "posts", POSTS)
    fields = (await client.get("/api/admin/collections/posts", headers=admin.headers)).json()[
        "fields"
    ]
    assert fields["body"]["content_check"] is True
    assert fields["bio"]["content_check"] == {"scene": "profile", "strict": True}


async def test_a_bulk_update_with_risky_text_changes_nothing(
    client: httpx.AsyncClient, writer: dict[str, str], admin: Actor
) -> None:
    for title in ("one", "two"):
        await client.post(records_url("posts"), json={"title": title}, headers=writer)
    refused = await client.post(
        records_url("posts", "/bulk-update"),
        json={"filter": {}, "update": {"$set": {"body": "sandbox-risky"}}},
        headers=writer,
    )
    assert assert_error(refused, 422, "content.risky")["details"]["field"] == "body"
    assert [r.get("body") for r in await all_records(client, admin, "posts")] == [None, None]
    changed = await client.post(
        records_url("posts", "/bulk-update"),
        json={"filter": {}, "update": {"$set": {"body": "all calm"}}},
        headers=writer,
    )
    assert changed.json()["updated"] == 2


FORUM_FUNCTIONS = """
from minibase.functions import before, function

@before("posts", "create")
async def sign(ctx, event):
    signoff = event.record.pop("signoff", None)  # an unchecked field, folded into the body
    if signoff:
        event.record["body"] += " -- " + signoff

@function(auth="user")
async def post_in_transaction(ctx, input):
    if input.get("check_first"):
        await ctx.content.check_text(input["body"])
    async with ctx.transaction() as tx:
        return await tx.records.create("posts", {"body": input["body"]})
"""


async def test_text_a_before_hook_writes_is_checked_too(
    client: httpx.AsyncClient, writer: dict[str, str], services: Services, admin: Actor
) -> None:
    from tests.http.pay.conftest import load_functions

    load_functions(services, FORUM_FUNCTIONS)
    refused = await client.post(
        records_url("posts"), json={"body": "hello", "signoff": "sandbox-risky"}, headers=writer
    )
    details = assert_error(refused, 422, "content.risky")["details"]
    assert details["field"] == "body"  # "hello" passed; "hello -- sandbox-risky" did not
    created = await client.post(
        records_url("posts"), json={"body": "hello", "signoff": "ann"}, headers=writer
    )
    assert created.json()["body"] == "hello -- ann"
    assert len(await all_records(client, admin, "posts")) == 1


async def test_inside_a_functions_transaction_text_must_be_checked_first(
    client: httpx.AsyncClient, sandbox: SandboxClient, writer: dict[str, str], services: Services
) -> None:
    from tests.http.pay.conftest import load_functions

    load_functions(services, FORUM_FUNCTIONS)
    unchecked = await client.post(
        "/api/functions/post_in_transaction", json={"body": "hello"}, headers=writer
    )
    assert_error(unchecked, 422, "content.unchecked")
    checked = await client.post(
        "/api/functions/post_in_transaction",
        json={"body": "hello", "check_first": True},
        headers=writer,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["result"]["body"] == "hello"
    assert await _checks(sandbox) == 1  # the write used the verdict of the check before it


def test_the_field_rule_knows_the_platforms_scenes() -> None:
    # the store may not import the SDK, so it keeps the scene names itself
    assert tuple(CONTENT_SCENES) == SCENES
