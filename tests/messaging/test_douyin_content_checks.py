"""Content security for Douyin users over HTTP, against the sandbox: their texts go to Douyin's
antidirt (a hit is risky, the rest passes), their images to censor/image (decided at once),
a guest is checked too, content-checked fields refuse their risky text, and users of QQ,
Baidu or Alipay — platforms minibase checks no content on — get 422 content.unchecked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.functions.conftest import run_jobs
from tests.http.login.conftest import bearer, sign_in

APP = "tt-content"
OTHER_APPS = {"qq": "1110009", "baidu": "bd-content", "alipay": "2021000000000009"}


@pytest.fixture
async def ann(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> dict[str, str]:
    """Ann, signed in through the Douyin app: her auth headers."""
    await register_app("douyin", APP)
    return bearer(await sign_in(client, sandbox, "douyin", APP, "ann"))


async def _check(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/content/text-checks", json=body, headers=headers)


async def _antidirt_calls(sandbox: SandboxClient) -> int:
    return int((await sandbox.calls()).get("douyin", {}).get("/api/v2/tags/text/antidirt", 0))


async def test_a_douyin_user_checks_their_text_with_antidirt(
    client: httpx.AsyncClient, sandbox: SandboxClient, ann: dict[str, str]
) -> None:
    clean = await _check(client, ann, content="a flat white, please")
    assert clean.status_code == 200, clean.text
    assert (clean.json()["suggest"], clean.json()["label_name"]) == ("pass", "normal")
    risky = await _check(client, ann, content="this is sandbox-risky", scene="forum")
    assert (risky.json()["suggest"], risky.json()["label"]) == ("risky", 21000)
    assert risky.json()["detail"][0]["model_name"] == "short_content_antidirt"
    assert risky.json()["trace_id"]
    # Douyin has no "review": what WeChat would have a person look at passes or hits
    assert (await _check(client, ann, content="sandbox-review")).json()["suggest"] == "pass"
    await sandbox.content_word(APP, "cheap watches", "risky", platform="douyin")
    advert = await _check(client, ann, content="Cheap watches at our shop")
    assert advert.json()["suggest"] == "risky"
    assert await _antidirt_calls(sandbox) == 4


async def test_a_title_or_nickname_is_checked_too_and_a_long_text_in_pieces(
    client: httpx.AsyncClient, sandbox: SandboxClient, ann: dict[str, str]
) -> None:
    titled = await _check(client, ann, content="fine words", title="sandbox-risky", scene="forum")
    assert titled.json()["suggest"] == "risky"
    straddling = "word " * 499 + "sandbox-risky " + "word " * 100  # crosses the first piece's end
    assert (await _check(client, ann, content=straddling)).json()["suggest"] == "risky"
    assert await _antidirt_calls(sandbox) == 2
    longest = "a calm text " * 2050 + "sandbox-risky"  # 24,613 characters: 11 pieces
    assert (await _check(client, ann, content=longest)).json()["suggest"] == "risky"
    assert await _antidirt_calls(sandbox) == 4  # ten tasks to a call


async def test_a_douyin_guest_is_checked_too(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("douyin", APP)
    minted = await sandbox.login_code("douyin", APP, "ann", guest=True)
    guest = await client.post(
        "/api/auth/douyin/login", json={"appid": APP, "anonymous_code": minted["anonymous_code"]}
    )
    risky = await _check(client, bearer(guest.json()), content="sandbox-risky")
    assert (risky.status_code, risky.json()["suggest"]) == (200, "risky")


async def test_an_admin_names_a_douyin_user(
    client: httpx.AsyncClient, ann: dict[str, str], admin: Actor
) -> None:
    me = (await client.get("/api/auth/me", headers=ann)).json()["id"]
    named = await _check(client, admin.headers, content="sandbox-risky", user=me)
    assert (named.status_code, named.json()["suggest"]) == (200, "risky")
    named = await _check(client, admin.headers, content="hi", user=me, appid=APP)
    assert named.json()["suggest"] == "pass"


async def test_a_douyin_image_is_decided_at_once_and_audio_cannot_be_checked(
    client: httpx.AsyncClient, ann: dict[str, str], services: Services
) -> None:
    checked = await client.post(
        "/api/content/media-checks",
        json={"media_url": "https://cdn.example.com/sandbox-risky.jpg", "media_type": "image"},
        headers=ann,
    )
    assert checked.status_code == 200, checked.text
    found = checked.json()
    assert (found["platform"], found["state"], found["label"]) == ("douyin", "risky", 21000)
    assert found["checked_at"]
    assert [p["model_name"] for p in found["detail"] if p["hit"]] == ["porn"]
    read = await client.get(f"/api/content/media-checks/{found['trace_id']}", headers=ann)
    assert read.json()["state"] == "risky"
    clean = await client.post(
        "/api/content/media-checks",
        json={"media_url": "https://cdn.example.com/cat.jpg", "media_type": "image"},
        headers=ann,
    )
    assert (clean.status_code, clean.json()["state"]) == (200, "pass")
    audio = await client.post(
        "/api/content/media-checks",
        json={"media_url": "https://cdn.example.com/song.mp3", "media_type": "audio"},
        headers=ann,
    )
    assert (audio.status_code, audio.json()["code"]) == (422, "content.unchecked")
    assert await services.db.fetch_value("SELECT COUNT(*) FROM content_media_checks") == 2


async def test_a_content_checked_field_refuses_a_douyin_users_risky_text(
    client: httpx.AsyncClient, ann: dict[str, str], admin: Actor
) -> None:
    created = await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={
            "name": "comments",
            "fields": {"body": {"type": "string", "content_check": True}},
            "rules": {"preset": "public_read_owner_write"},
        },
    )
    assert created.status_code == 201, created.text
    url = "/api/collections/comments/records"
    refused = await client.post(url, headers=ann, json={"body": "sandbox-risky, buy now"})
    assert (refused.status_code, refused.json()["code"]) == (422, "content.risky")
    assert refused.json()["details"]["field"] == "body"
    stored = await client.post(url, headers=ann, json={"body": "lovely flat white"})
    assert stored.status_code == 201, stored.text


@pytest.mark.parametrize("platform", sorted(OTHER_APPS))
async def test_users_of_platforms_without_checks_are_unchecked(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    platform: str,
) -> None:
    await register_app(platform, OTHER_APPS[platform])
    session = await sign_in(client, sandbox, platform, OTHER_APPS[platform], "ann")
    refused = await _check(client, bearer(session), content="hello")
    assert (refused.status_code, refused.json()["code"]) == (422, "content.unchecked")
    assert platform in refused.json()["message"]
    named = await _check(client, admin.headers, content="hello", user=session["user"]["id"])
    assert (named.status_code, named.json()["code"]) == (422, "content.unchecked")


async def test_an_outage_is_unavailable_and_a_refused_token_is_renewed(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    ann: dict[str, str],
    services: Services,
) -> None:
    await services.access_tokens.get(await services.apps.get("douyin", APP))
    await sandbox.outage("douyin", "http_500", count=1)
    failed = await _check(client, ann, content="hello")
    assert (failed.status_code, failed.json()["code"]) == (503, "content.unavailable")
    await sandbox.reset()  # Douyin forgets every token: the server's is refused, then renewed
    await sandbox.register_app("douyin", APP, secret="s3cret-for-tests")
    again = await _check(client, ann, content="hello")
    assert (again.status_code, again.json()["suggest"]) == (200, "pass")
    assert services.access_tokens.refreshes == 2


IMAGE_FUNCTIONS = """
from minibase.functions import function, job

@function(auth="user")
async def post_picture(ctx, input):
    check = await ctx.content.check_media(input["picture"])
    return {"state": check["state"], "trace_id": check["trace_id"]}

@job("content.media_checked")
async def media_checked(ctx, check):
    await ctx.records_as_admin.create("verdicts", {"trace_id": check["trace_id"],
                                                  "state": check["state"]})
"""


async def test_a_cloud_function_gets_a_douyin_image_verdict_at_once_and_as_a_job(
    client: httpx.AsyncClient, ann: dict[str, str], services: Services, admin: Actor
) -> None:
    from tests.http.pay.conftest import load_functions

    load_functions(services, IMAGE_FUNCTIONS)
    await client.post("/api/admin/collections", json={"name": "verdicts"}, headers=admin.headers)
    posted = await client.post(
        "/api/functions/post_picture",
        json={"picture": "https://cdn.example.com/sandbox-risky.png"},
        headers=ann,
    )
    result = posted.json()["result"]
    assert result["state"] == "risky"
    assert await run_jobs(services) == 1
    listed = await client.get("/api/collections/verdicts/records", headers=admin.headers)
    assert [(r["trace_id"], r["state"]) for r in listed.json()["items"]] == [
        (result["trace_id"], "risky")
    ]
