"""Content security over HTTP, against the sandbox: a user checks their own text with the
openid of the WeChat app they signed in through (pass, review, risky and what was found), an
admin names the user, bad input is 400, a user without WeChat is 422, and outages or quota
errors are 503 content.unavailable. A media check is pending until its pushed verdict is
recorded, once, and only for its own app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from minibase.errors import ApiError
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in

APP = "wx-content"


async def _person(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, name: str
) -> dict[str, Any]:
    await register_app("wechat", APP)
    return await sign_in(client, sandbox, "wechat", APP, name)


async def _check(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/content/text-checks", json=body, headers=headers)


async def test_a_user_checks_their_own_text(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    session = await _person(client, sandbox, register_app, "ann")
    me = bearer(session)
    clean = await _check(client, me, content="a flat white, please")
    assert clean.status_code == 200, clean.text
    assert (clean.json()["suggest"], clean.json()["label_name"]) == ("pass", "normal")
    risky = await _check(client, me, content="this is sandbox-risky", scene="forum")
    assert (risky.json()["suggest"], risky.json()["label"]) == ("risky", 21000)
    review = await _check(client, me, content="hmm", title="sandbox-review", scene="profile")
    assert review.json()["suggest"] == "review"
    await sandbox.content_word(APP, "cheap watches", "risky", 10001)
    advert = await _check(client, me, content="Cheap watches at our shop")
    assert (advert.json()["suggest"], advert.json()["label_name"]) == ("risky", "ad")


async def test_a_long_text_is_checked_in_pieces_and_the_worst_decides(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    session = await _person(client, sandbox, register_app, "ann")
    text = "word " * 499 + "sandbox-risky " + "word " * 100  # 3009 characters: two calls,
    # the marked word straddling where the first ends
    checked = await _check(client, bearer(session), content=text)
    assert checked.json()["suggest"] == "risky"
    assert (await sandbox.calls())["wechat"]["/wxa/msg_sec_check"] == 2


async def test_an_admin_names_the_user(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, admin: Actor
) -> None:
    session = await _person(client, sandbox, register_app, "bob")
    user = session["user"]["id"]
    checked = await _check(client, admin.headers, content="sandbox-risky", user=user)
    assert checked.json()["suggest"] == "risky"
    in_app = await _check(client, admin.headers, content="fine", user=user, appid=APP)
    assert in_app.json()["suggest"] == "pass"


async def test_bad_input_is_refused_before_any_platform_call(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    session = await _person(client, sandbox, register_app, "cat")
    me = bearer(session)
    for headers, body in (
        (me, {}),
        (me, {"content": ""}),
        (me, {"content": 5}),
        (me, {"content": "x" * 25001}),
        (me, {"content": "hi", "scene": "chat"}),
        (me, {"content": "hi", "colour": "red"}),
        (me, {"content": "hi", "user": "someone-else"}),
        (admin.headers, {"content": "hi"}),
    ):
        refused = await _check(client, headers, **body)
        assert refused.status_code == 400, body
        assert refused.json()["code"] == "content.invalid"
    assert "/wxa/msg_sec_check" not in (await sandbox.calls()).get("wechat", {})
    anonymous = await client.post("/api/content/text-checks", json={"content": "hi"})
    assert anonymous.status_code == 401


async def test_a_user_without_wechat_cannot_be_checked(
    client: httpx.AsyncClient, make_user: MakeUser, admin: Actor
) -> None:
    user = await make_user()
    refused = await _check(client, user.headers, content="hello")
    assert (refused.status_code, refused.json()["code"]) == (422, "content.unchecked")
    named = await _check(client, admin.headers, content="hello", user=user.id)
    assert (named.status_code, named.json()["code"]) == (422, "content.unchecked")


async def test_an_openid_the_platform_refuses_is_unchecked(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    session = await _person(client, sandbox, register_app, "dan")
    await sandbox.reset()  # the platform forgets the person (and the app: register it again)
    await sandbox.register_app("wechat", APP, secret="s3cret-for-tests")
    refused = await _check(client, bearer(session), content="hello")
    assert (refused.status_code, refused.json()["code"]) == (422, "content.unchecked")
    assert refused.json()["details"]["errcode"] == 40003


@pytest.mark.parametrize("mode", ["timeout", "http_500", "system_busy", "bad_json"])
async def test_outages_are_unavailable_never_a_pass(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    mode: str,
) -> None:
    session = await _person(client, sandbox, register_app, "eve")
    await services.access_tokens.get(await services.apps.get("wechat", APP))
    await sandbox.outage("wechat", mode, count=1, seconds=3)
    failed = await _check(client, bearer(session), content="hello")
    assert (failed.status_code, failed.json()["code"]) == (503, "content.unavailable"), failed.text
    again = await _check(client, bearer(session), content="hello")
    assert again.json()["suggest"] == "pass"


async def test_quota_errors_are_unavailable(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    session = await _person(client, sandbox, register_app, "fay")
    await services.access_tokens.get(await services.apps.get("wechat", APP))
    await sandbox.rate_limit("wechat", APP, 0)
    failed = await _check(client, bearer(session), content="hello")
    assert (failed.status_code, failed.json()["code"]) == (503, "content.unavailable")
    assert failed.json()["details"]["errcode"] == 45009
    media = await client.post(
        "/api/content/media-checks",
        json={"media_url": "https://cdn.example.com/a.png", "media_type": "image"},
        headers=bearer(session),
    )
    assert (media.status_code, media.json()["code"]) == (503, "content.unavailable")
    assert await services.db.fetch_value("SELECT COUNT(*) FROM content_media_checks") == 0


# -- media ---------------------------------------------------------------------------------


async def _queue_media(
    client: httpx.AsyncClient, headers: dict[str, str], url: str
) -> dict[str, Any]:
    queued = await client.post(
        "/api/content/media-checks",
        json={"media_url": url, "media_type": "image", "scene": "social_log"},
        headers=headers,
    )
    assert queued.status_code == 202, queued.text
    body: dict[str, Any] = queued.json()
    return body


async def test_a_media_check_is_pending_until_its_verdict_is_recorded_once(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Actor,
) -> None:
    session = await _person(client, sandbox, register_app, "gus")
    other = await sign_in(client, sandbox, "wechat", APP, "hal")
    queued = await _queue_media(
        client, bearer(session), "https://cdn.example.com/sandbox-risky.jpg"
    )
    trace_id = queued["trace_id"]
    assert (queued["state"], queued["user"]) == ("pending", session["user"]["id"])
    url = f"/api/content/media-checks/{trace_id}"
    assert (await client.get(url, headers=bearer(session))).json()["state"] == "pending"
    assert (await client.get(url, headers=bearer(other))).status_code == 404
    event = await sandbox.finish_media_check(trace_id)
    recorded = await services.content.record_media_result(APP, event)
    assert recorded is not None
    assert (recorded.state, recorded.label) == ("risky", 21000)
    seen = (await client.get(url, headers=admin.headers)).json()
    assert (seen["state"], seen["label"], seen["checked_at"]) == (
        "risky",
        21000,
        recorded.checked_at,
    )
    changed = {**event, "result": {"suggest": "pass", "label": 100}}
    again = await services.content.record_media_result(APP, changed)  # a repeated push
    assert again is not None
    assert again.state == "risky"
    unknown = {**event, "trace_id": "00000000-00000000-00000000"}
    assert await services.content.record_media_result(APP, unknown) is None
    with pytest.raises(ApiError) as foreign:
        await services.content.record_media_result("wx-other", {**event, "appid": "wx-other"})
    assert foreign.value.code == "content.invalid_event"
    with pytest.raises(ApiError):
        await services.content.record_media_result(APP, {"Event": "wxa_media_check"})


async def test_bad_media_requests_are_refused(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    session = await _person(client, sandbox, register_app, "ivy")
    for body in (
        {"media_url": "ftp://x/y.png", "media_type": "image"},
        {"media_url": "https://x/y.png", "media_type": "video"},
        {"media_url": "https://x/y.png", "media_type": "image", "scene": "chat"},
    ):
        refused = await client.post("/api/content/media-checks", json=body, headers=bearer(session))
        assert (refused.status_code, refused.json()["code"]) == (400, "content.invalid"), body
    missing = await client.get("/api/content/media-checks/nope", headers=bearer(session))
    assert (missing.status_code, missing.json()["code"]) == (404, "content.not_found")


COMMENT_FUNCTIONS = """
from minibase.functions import function, job

@function(auth="user")
async def post_comment(ctx, input):
    verdict = await ctx.content.check_text(input["text"], scene="comment")
    if verdict["suggest"] == "risky":
        return {"posted": False, "label": verdict["label_name"]}
    check = await ctx.content.check_media(input["picture"])
    return {"posted": True, "trace_id": check["trace_id"]}

@job("content.media_checked")
async def media_checked(ctx, check):
    await ctx.records_as_admin.create("verdicts", {"trace_id": check["trace_id"],
                                                  "state": check["state"]})
"""


async def test_a_cloud_function_checks_content_and_reacts_to_media_verdicts(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Actor,
) -> None:
    from tests.http.pay.conftest import load_functions

    session = await _person(client, sandbox, register_app, "jo")
    load_functions(services, COMMENT_FUNCTIONS)
    await client.post("/api/admin/collections", json={"name": "verdicts"}, headers=admin.headers)
    refused = await client.post(
        "/api/functions/post_comment",
        json={"text": "sandbox-risky!", "picture": "https://cdn.example.com/a.png"},
        headers=bearer(session),
    )
    assert refused.json()["result"] == {"posted": False, "label": "other"}
    posted = await client.post(
        "/api/functions/post_comment",
        json={"text": "lovely", "picture": "https://cdn.example.com/a.png"},
        headers=bearer(session),
    )
    trace_id = posted.json()["result"]["trace_id"]
    event = await sandbox.finish_media_check(trace_id)
    await services.content.record_media_result(APP, event)
    assert await run_jobs(services) == 1
    listed = await client.get("/api/collections/verdicts/records", headers=admin.headers)
    assert [(r["trace_id"], r["state"]) for r in listed.json()["items"]] == [(trace_id, "pass")]


REACTOR = """
from minibase.functions import job

@job("content.media_checked")
async def media_checked(ctx, check):
    pass
"""


async def test_concurrent_deliveries_of_one_verdict_record_it_once(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    from tests.http.pay.conftest import load_functions

    load_functions(services, REACTOR)
    session = await _person(client, sandbox, register_app, "kim")
    queued = await _queue_media(client, bearer(session), "https://cdn.example.com/b.png")
    event = await sandbox.finish_media_check(queued["trace_id"], suggest="review", label=20012)
    recorded = await asyncio.gather(
        *(services.content.record_media_result(APP, event) for _ in range(5))
    )
    outcomes = {(c.state, c.label, c.checked_at) for c in recorded if c is not None}
    assert len(outcomes) == 1  # every delivery sees the one recorded verdict
    assert next(iter(outcomes))[:2] == ("review", 20012)
    jobs = await services.db.fetch_value(
        "SELECT COUNT(*) FROM jobs WHERE name = ?", "content.media_checked"
    )
    assert jobs == 1
