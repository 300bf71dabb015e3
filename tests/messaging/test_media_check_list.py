"""Admins list the media checks minibase keeps, newest first, in pages, filtered by state,
media type, platform, user and app. Text checks are not kept (their verdict is answered at
once), so there are none to list."""

from __future__ import annotations

from typing import Any

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient
from tests.http.admin.test_declared_indexes_are_used import (
    assert_index_scan_without_sort,
    query_plan,
)
from tests.http.login.conftest import bearer, sign_in

APP = "wx-content"
CHECKS = "/api/admin/content/media-checks"


async def queue_media(
    client: httpx.AsyncClient, session: dict[str, Any], url: str, media_type: str = "image"
) -> str:
    queued = await client.post(
        "/api/content/media-checks",
        json={"media_url": url, "media_type": media_type},
        headers=bearer(session),
    )
    assert queued.status_code == 202, queued.text
    trace_id: str = queued.json()["trace_id"]
    return trace_id


async def listed(client: httpx.AsyncClient, admin: Actor, **params: str) -> list[str]:
    answer = await client.get(CHECKS, params=params, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return [check["trace_id"] for check in answer.json()["items"]]


async def test_an_admin_lists_media_checks_newest_first_filtered_and_in_pages(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Actor,
) -> None:
    await register_app("wechat", APP)
    ann = await sign_in(client, sandbox, "wechat", APP, "ann")
    bob = await sign_in(client, sandbox, "wechat", APP, "bob")
    cat = await queue_media(client, ann, "https://cdn.example.com/cat.jpg")
    risky = await queue_media(client, ann, "https://cdn.example.com/sandbox-risky.jpg")
    song = await queue_media(client, ann, "https://cdn.example.com/song.mp3", "audio")
    dog = await queue_media(client, bob, "https://cdn.example.com/dog.jpg")
    await services.content.record_media_result(APP, await sandbox.finish_media_check(risky))

    assert await listed(client, admin) == [dog, song, risky, cat]
    first = (await client.get(CHECKS, params={"limit": "3"}, headers=admin.headers)).json()
    assert [check["trace_id"] for check in first["items"]] == [dog, song, risky]
    assert first["next_before"] == risky
    rest = await client.get(
        CHECKS, params={"limit": "3", "before": first["next_before"]}, headers=admin.headers
    )
    assert ([c["trace_id"] for c in rest.json()["items"]], rest.json()["next_before"]) == (
        [cat],
        None,
    )

    assert await listed(client, admin, state="risky") == [risky]
    assert await listed(client, admin, state="pending", user=ann["user"]["id"]) == [song, cat]
    assert await listed(client, admin, media_type="audio") == [song]
    assert await listed(client, admin, platform="wechat", appid=APP, user=bob["user"]["id"]) == [
        dog
    ]
    assert await listed(client, admin, platform="douyin") == []

    (shown,) = (await client.get(CHECKS, params={"state": "risky"}, headers=admin.headers)).json()[
        "items"
    ]
    assert shown["media_url"] == "https://cdn.example.com/sandbox-risky.jpg"
    assert (shown["label_name"], shown["user"], shown["appid"]) == (
        "other",
        ann["user"]["id"],
        APP,
    )
    assert shown["checked_at"] >= shown["created"]


async def test_bad_filters_and_callers_are_refused(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    await register_app("wechat", APP)
    ann = await sign_in(client, sandbox, "wechat", APP, "ann")
    for params in ({"state": "lost"}, {"media_type": "video"}, {"platform": "qq"}):
        refused = await client.get(CHECKS, params=params, headers=admin.headers)
        assert refused.status_code == 400, params
        assert refused.json()["code"] == "request.invalid_query"
        assert next(iter(params)) in refused.json()["message"]
    by_user = await client.get(CHECKS, headers=bearer(ann))
    assert (by_user.status_code, by_user.json()["code"]) == (403, "auth.admin_required")


async def test_the_newest_checks_are_read_from_an_index_not_sorted(services: Services) -> None:
    sql = "SELECT trace_id FROM content_media_checks ORDER BY created DESC, trace_id DESC LIMIT ?"
    plan = await query_plan(services, sql, [31])
    assert_index_scan_without_sort(services, plan, "content_media_checks_created")
