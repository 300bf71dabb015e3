"""Subscribe messages end to end: an admin queues one, the durable job sends it through the
sandbox with the shared access token, and its status says what happened — sent, failed for
good (43101: the user has not accepted the template), or retried (45009 quota) until sent.
Users report what they accepted; a sent message uses one acceptance."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in
from tests.messaging.conftest import OffsetClock, message_status

TEMPLATE = "tmpl-shipped"
DATA = {"thing1": "a flat white", "time2": "2026-12-01 10:00"}


async def _person(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, name: str
) -> dict[str, Any]:
    await register_app("wechat", "wx-msg")
    return await sign_in(client, sandbox, "wechat", "wx-msg", name)


async def _accepts(sandbox: SandboxClient, person: str, count: int = 1) -> None:
    await sandbox.subscribe("wechat", "wx-msg", person, TEMPLATE, count)


async def _queue(client: httpx.AsyncClient, admin: Actor, user: str) -> dict[str, Any]:
    queued = await client.post(
        "/api/messages/subscribe",
        json={"user": user, "template_id": TEMPLATE, "page": "pages/order", "data": DATA},
        headers=admin.headers,
    )
    assert queued.status_code == 202, queued.text
    body: dict[str, Any] = queued.json()
    return body


async def test_a_queued_message_is_sent_once_by_its_job(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    session = await _person(client, sandbox, register_app, "ann")
    await _accepts(sandbox, "ann")
    granted = await client.post(
        "/api/messages/grants",
        json={TEMPLATE: "accept", "tmpl-other": "reject"},
        headers=bearer(session),
    )
    assert granted.json() == {TEMPLATE: 1}
    queued = await _queue(client, admin, session["user"]["id"])
    assert queued["state"] == "queued"
    assert await run_jobs(services) == 1
    sent = await message_status(client, admin, queued["id"])
    assert (sent["state"], sent["errcode"]) == ("sent", None)
    delivered = await sandbox.subscribe_messages()
    assert [(m["person"], m["data"], m["page"]) for m in delivered] == [
        ("ann", DATA, "pages/order")
    ]
    mine = await client.get("/api/messages/grants", headers=bearer(session))
    assert mine.json() == {TEMPLATE: 0}  # the acceptance was used


async def test_a_user_who_has_not_accepted_fails_the_message_for_good(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    session = await _person(client, sandbox, register_app, "bob")
    await _accepts(sandbox, "ann")  # the app offers the template; bob never accepted it
    queued = await _queue(client, admin, session["user"]["id"])
    assert await run_jobs(services) == 1
    failed = await message_status(client, admin, queued["id"])
    assert (failed["state"], failed["errcode"]) == ("failed", "43101")
    job = await services.db.fetch_value("SELECT state FROM jobs WHERE name LIKE '%subscribe%'")
    assert job == "succeeded"  # nothing to retry


async def test_a_quota_error_is_retried_with_backoff_until_the_message_goes(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
    clock: OffsetClock,
) -> None:
    session = await _person(client, sandbox, register_app, "cat")
    await _accepts(sandbox, "cat")
    queued = await _queue(client, admin, session["user"]["id"])
    await services.access_tokens.get(await services.apps.get("wechat", "wx-msg"))
    await sandbox.rate_limit("wechat", "wx-msg", 0)
    assert await run_jobs(services) == 1
    waiting = await message_status(client, admin, queued["id"])
    assert (waiting["state"], waiting["errcode"]) == ("queued", "45009")
    await sandbox.rate_limit("wechat", "wx-msg", 1000)
    clock.advance(hours=1)  # past the retry's backoff
    assert await run_jobs(services) == 1
    assert (await message_status(client, admin, queued["id"]))["state"] == "sent"


async def test_bad_messages_are_refused_and_nothing_is_queued(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    session = await _person(client, sandbox, register_app, "dan")
    user = session["user"]["id"]
    for body, code in (
        ({"user": user, "template_id": TEMPLATE}, "messages.invalid"),
        ({"user": user, "template_id": TEMPLATE, "data": {"thing1": ""}}, "messages.invalid"),
        ({"user": user, "template_id": TEMPLATE, "data": DATA, "colour": 1}, "messages.invalid"),
        ({"user": "nobody", "template_id": TEMPLATE, "data": DATA}, "messages.invalid"),
    ):
        refused = await client.post("/api/messages/subscribe", json=body, headers=admin.headers)
        assert refused.status_code == 400, body
        assert refused.json()["code"] == code
    assert await services.db.fetch_value("SELECT COUNT(*) FROM subscribe_messages") == 0
    as_user = await client.post(
        "/api/messages/subscribe",
        json={"user": user, "template_id": TEMPLATE, "data": DATA},
        headers=bearer(session),
    )
    assert as_user.status_code == 403


NOTIFY = """
from minibase.functions import function

@function(auth="user")
async def order_shipped(ctx, input):
    return await ctx.messages.subscribe(
        ctx.caller.id, "tmpl-shipped", {"thing1": input["what"], "time2": "2026-12-01 10:00"},
        page="pages/order",
    )
"""


async def test_a_cloud_function_queues_a_message(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    from tests.http.pay.conftest import load_functions

    session = await _person(client, sandbox, register_app, "eve")
    await _accepts(sandbox, "eve")
    load_functions(services, NOTIFY)
    called = await client.post(
        "/api/functions/order_shipped", json={"what": "a mocha"}, headers=bearer(session)
    )
    assert called.status_code == 200, called.text
    queued = called.json()["result"]
    assert (queued["state"], queued["user"]) == ("queued", session["user"]["id"])
    assert await run_jobs(services) == 1
    assert (await message_status(client, admin, queued["id"]))["state"] == "sent"
    delivered = await sandbox.subscribe_messages()
    assert [m["data"]["thing1"] for m in delivered] == ["a mocha"]
