"""Cloud functions: `POST /api/functions/{name}` runs Python on the server with the caller's
identity, validated input, the records API under the caller's rules, and durable jobs."""

from __future__ import annotations

import logging

import httpx
import pytest
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in

from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser, RegisterApp
from minibase.testing.sandbox import SandboxClient

FUNCTIONS = """
    import threading, time, asyncio
    from minibase.functions import ApiError, function, job

    @function(auth="public")
    async def echo(ctx, input):
        return {"got": input, "caller": ctx.caller.kind}

    @function()
    async def whoami(ctx, input):
        return {"id": ctx.caller.id, "roles": list(ctx.caller.roles)}

    @function()
    async def wx_context(ctx, input):
        c = ctx.caller
        return {"kind": c.kind, "id": c.id, "platform": c.platform, "appid": c.appid,
                "openid": c.openid, "unionid": c.unionid}

    @function(auth="admin")
    async def only_admins(ctx, input):
        return "ok"

    @function(auth="public", schema={"page": {"type": "integer", "default": 1}})
    async def paged(ctx, input):
        return input

    @function(auth="public", schema={"title": {"type": "string", "required": True, "max": 10},
                                     "n": {"type": "integer", "default": 1}}, additional=False)
    async def typed(ctx, input):
        return input

    @function(auth="public")
    async def broken(ctx, input):
        raise RuntimeError("secret internals")

    @function(auth="public")
    async def refuses(ctx, input):
        raise ApiError("orders.sold_out", 409, "sold out", {"sku": "A1"})

    @function(auth="public", timeout=0.2)
    async def slow(ctx, input):
        await asyncio.sleep(5)

    @function(auth="public")
    def blocking(ctx, input):
        time.sleep(0.01)
        return threading.current_thread().name

    @function(auth="public")
    async def not_json(ctx, input):
        return object()

    @function()
    async def write_note(ctx, input):
        mine = await ctx.records.create("notes", {"text": input["text"]})
        return mine

    @function()
    async def write_huge_number(ctx, input):
        note = await ctx.records.create("notes", {"n": 2**63 - 1})
        if input["how"] == "inc":
            await ctx.records.update("notes", note["_id"], {"$inc": {"n": 1}})
        else:
            await ctx.records.update("notes", note["_id"], {"n": 2**70})

    @function()
    async def read_all_notes(ctx, input):
        return {
            "mine": len((await ctx.records.list("notes"))["items"]),
            "all": len((await ctx.records_as_admin.list("notes"))["items"]),
        }

    @function()
    async def note_and_job(ctx, input):
        async with ctx.transaction() as tx:
            note = await tx.records.create("notes", {"text": input["text"]})
            await tx.jobs.enqueue("count_note", {"id": note["_id"]})
            if input.get("fail"):
                raise ApiError("notes.failed", 400, "changed my mind")
        return note["_id"]

    @job("count_note")
    async def count_note(ctx, payload):
        await ctx.records_as_admin.update("notes", payload["id"], {"$set": {"counted": True}})
"""


async def _call(
    client: httpx.AsyncClient, name: str, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(f"/api/functions/{name}", json=body, headers=headers or {})


async def test_a_public_function_gets_the_input_and_answers_its_result(
    client: httpx.AsyncClient,
) -> None:
    answer = await _call(client, "echo", {"a": [1, 2]})
    assert answer.status_code == 200
    assert answer.json() == {"result": {"got": {"a": [1, 2]}, "caller": "anonymous"}}


async def test_the_caller_and_the_auth_mode_are_enforced(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin: Actor,
) -> None:
    user = await make_user(roles=("editor",))
    assert (await _call(client, "whoami")).json()["code"] == "auth.required"
    mine = await _call(client, "whoami", {}, user.headers)
    assert mine.json()["result"] == {"id": user.id, "roles": ["editor"]}
    refused = await _call(client, "only_admins", {}, user.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.admin_required")
    assert (await _call(client, "only_admins", {}, admin.headers)).json()["result"] == "ok"


async def test_declared_input_is_validated_with_defaults_applied(
    client: httpx.AsyncClient,
) -> None:
    assert (await _call(client, "typed", {"title": "hi"})).json()["result"] == {
        "title": "hi",
        "n": 1,
    }
    for bad in ({}, {"title": "far too long a title"}, {"title": "x", "extra": 1}, [1], None):
        answer = await _call(client, "typed", bad)
        assert (answer.status_code, answer.json()["code"]) == (400, "functions.invalid_input")
    without_a_body = await client.post("/api/functions/paged")
    assert without_a_body.json() == {"result": {"page": 1}}


async def test_input_with_an_integer_outside_64_bits_is_refused_before_the_function_runs(
    client: httpx.AsyncClient,
) -> None:
    for big in ("18446744073709551616", "9223372036854775808", "-1180591620717411303424"):
        answer = await client.post(
            "/api/functions/echo",
            headers={"Content-Type": "application/json"},
            content=f'{{"a": [{big}]}}',
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "request.integer_out_of_range")
        assert answer.json()["details"] == {"path": "a.0", "value": big}


async def test_records_a_function_writes_keep_integers_to_64_bits(
    client: httpx.AsyncClient, make_user: MakeUser, admin: Actor
) -> None:
    await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    user = await make_user()

    replaced = await _call(client, "write_huge_number", {"how": "set"}, user.headers)
    increased = await _call(client, "write_huge_number", {"how": "inc"}, user.headers)

    assert (replaced.status_code, replaced.json()["code"]) == (400, "records.invalid")
    assert replaced.json()["details"]["problems"][0]["field"] == "n"
    assert (increased.status_code, increased.json()["code"]) == (400, "records.invalid_update")
    notes = await client.get("/api/collections/notes/records", headers=admin.headers)
    assert [note["n"] for note in notes.json()["items"]] == [2**63 - 1, 2**63 - 1]


async def test_a_function_that_raises_is_a_500_with_a_request_id_and_no_trace(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        answer = await _call(client, "broken")
    assert answer.status_code == 500
    body = answer.json()
    assert body["code"] == "functions.failed"
    assert body["request_id"]
    assert "secret internals" not in answer.text
    assert "Traceback" not in answer.text
    assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_errors_the_function_raises_as_api_errors_reach_the_client_as_they_are(
    client: httpx.AsyncClient,
) -> None:
    answer = await _call(client, "refuses")
    assert answer.status_code == 409
    assert answer.json()["code"] == "orders.sold_out"
    assert answer.json()["details"] == {"sku": "A1"}


async def test_timeouts_unknown_names_and_non_json_results(client: httpx.AsyncClient) -> None:
    slow = await _call(client, "slow")
    assert (slow.status_code, slow.json()["code"]) == (504, "functions.timeout")
    missing = await _call(client, "nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "functions.not_found")
    odd = await _call(client, "not_json")
    assert (odd.status_code, odd.json()["code"]) == (500, "functions.failed")


async def test_a_sync_function_runs_on_a_thread_not_the_event_loop(
    client: httpx.AsyncClient,
) -> None:
    answer = await _call(client, "blocking")
    assert answer.json()["result"] != "MainThread"


async def test_records_follow_the_callers_rules_unless_asked_as_admin(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin: Actor,
) -> None:
    await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    ann, bob = await make_user(), await make_user()
    note = (await _call(client, "write_note", {"text": "hi"}, ann.headers)).json()["result"]
    assert note["_owner"] == ann.id
    await _call(client, "write_note", {"text": "yo"}, bob.headers)
    counts = (await _call(client, "read_all_notes", {}, ann.headers)).json()["result"]
    assert counts == {"mine": 1, "all": 2}


async def test_records_and_jobs_in_one_transaction_commit_or_roll_back_together(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin: Actor,
    services: Services,
) -> None:
    await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    ann = await make_user()
    failed = await _call(client, "note_and_job", {"text": "x", "fail": True}, ann.headers)
    assert failed.status_code == 400
    assert await services.db.fetch_value("SELECT COUNT(*) FROM jobs") == 0
    note_id = (await _call(client, "note_and_job", {"text": "y"}, ann.headers)).json()["result"]
    assert await run_jobs(services) == 1
    note = await client.get(f"/api/collections/notes/records/{note_id}", headers=ann.headers)
    assert note.json()["counted"] is True


async def test_a_user_signed_in_on_a_platform_is_known_by_openid_as_in_getwxcontext(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("wechat", "wxshop", account="acme")
    session = await sign_in(client, sandbox, "wechat", "wxshop", "ann")
    seen = (await _call(client, "wx_context", {}, bearer(session))).json()["result"]
    identity = session["identity"]
    assert seen == {
        "kind": "user",
        "id": session["user"]["id"],
        "platform": "wechat",
        "appid": "wxshop",
        "openid": identity["openid"],
        "unionid": identity["unionid"],
    }
    assert seen["openid"]
    assert seen["unionid"]
