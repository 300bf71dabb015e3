"""Images of a content-checked file field go through the platform's media check: hidden while
WeChat reviews them, shown once the pushed verdict passes, hidden for good when it flags them;
Douyin answers at once. Admins still see every file."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.http.files.conftest import jpeg, make_collection, upload
from tests.http.login.conftest import sign_in

from minibase.config import Settings
from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

AVATAR = {"type": "file", "types": ["image/*"], "content_check": {"scene": "profile"}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Where the platform downloads the images it checks."""
    return settings.replace(public_url="https://api.example.com")


async def signed_in(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    platform: str,
    person: str,
) -> Actor:
    """A person signed in through the app of `platform` (whose checks minibase calls)."""
    appid = {"wechat": "wx-files", "douyin": "tt-files"}[platform]
    await register_app(platform, appid)
    session = await sign_in(client, sandbox, platform, appid, person)
    return Actor(session["user"]["id"], session["access_token"])


async def _link(client: httpx.AsyncClient, headers: dict[str, str], file_id: str) -> Any:
    answer = await client.post("/api/files/temp-urls", headers=headers, json={"files": [file_id]})
    assert answer.status_code == 200, answer.text
    return answer.json()["files"][0]


async def test_a_wechat_image_is_hidden_until_its_verdict_and_then_by_it(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Actor,
) -> None:
    ann = await signed_in(client, sandbox, register_app, "wechat", "ivy")
    await make_collection(client, admin, "profiles", {"avatar": AVATAR})
    good = (await upload(client, ann, "/api/collections/profiles/files/avatar", jpeg()))["file"]
    bad = (await upload(client, ann, "/api/collections/profiles/files/avatar", jpeg()))["file"]

    assert (await _link(client, ann.headers, good["id"]))["error"]["code"] == "files.reviewing"
    assert "url" in await _link(client, admin.headers, good["id"])  # admins see it meanwhile

    checks = await client.get("/api/admin/collections/profiles/files", headers=admin.headers)
    traces = {item["id"]: item["check"] for item in checks.json()["items"]}
    assert traces == {good["id"]: "reviewing", bad["id"]: "reviewing"}
    pending = {
        check["media_url"].split("/api/files/", 1)[1].split("/", 1)[0]: check["trace_id"]
        for check in (await sandbox.media_checks())
    }
    for file_id, suggest in ((good["id"], "pass"), (bad["id"], "risky")):
        event = await sandbox.finish_media_check(pending[file_id], suggest=suggest, label=100)
        await services.content.record_media_result("wx-files", event)

    shown = await _link(client, ann.headers, good["id"])
    assert (await client.get(shown["url"])).status_code == 200
    assert (await _link(client, ann.headers, bad["id"]))["error"]["code"] == "files.flagged"
    admin_link = (await _link(client, admin.headers, bad["id"]))["url"]
    hidden = await client.get(admin_link)  # the link is signed, but the file stays hidden
    assert (hidden.status_code, hidden.json()["code"]) == (403, "files.flagged")


async def test_a_douyin_image_is_judged_at_once(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    jay = await signed_in(client, sandbox, register_app, "douyin", "jay")
    await make_collection(client, admin, "profiles", {"avatar": AVATAR})
    fine = (await upload(client, jay, "/api/collections/profiles/files/avatar", jpeg()))["file"]
    # the sandbox flags an image whose URL holds one of its marked words
    flagged = (
        await upload(
            client,
            jay,
            "/api/collections/profiles/files/avatar",
            jpeg(),
            filename="sandbox-risky.jpg",
        )
    )["file"]

    assert "url" in await _link(client, jay.headers, fine["id"])
    assert (await _link(client, jay.headers, flagged["id"]))["error"]["code"] == "files.flagged"


async def test_a_user_the_platforms_cannot_check_cannot_upload_there(
    client: httpx.AsyncClient, admin: Actor, make_user: Any, services: Services
) -> None:
    await make_collection(client, admin, "profiles", {"avatar": AVATAR})
    nobody = await make_user()  # no WeChat or Douyin sign-in
    refused = await upload(
        client, nobody, "/api/collections/profiles/files/avatar", jpeg(), expect=422
    )
    assert refused["code"] == "content.unchecked"
    assert await services.db.fetch_value("SELECT COUNT(*) FROM files WHERE state = 'ready'") == 0


async def test_without_public_url_images_to_check_are_refused_before_upload(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    kim = await signed_in(client, sandbox, register_app, "wechat", "kim")
    await make_collection(client, admin, "profiles", {"avatar": AVATAR, "cover": {"type": "file"}})
    services.settings = services.settings.replace(public_url=None, dev=False)
    refused = await upload(
        client, kim, "/api/collections/profiles/files/avatar", jpeg(), expect=503
    )
    assert refused["code"] == "files.not_configured"
    await upload(client, kim, "/api/collections/profiles/files/cover", jpeg())  # unchecked field


async def test_when_the_check_cannot_be_asked_the_record_keeps_its_photo(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    lee = await signed_in(client, sandbox, register_app, "wechat", "lee")
    await make_collection(client, admin, "profiles", {"avatar": AVATAR})
    url = "/api/collections/profiles/files/avatar"
    first = (await upload(client, lee, url, jpeg()))["file"]
    record = await client.post(
        "/api/collections/profiles/records", headers=lee.headers, json={"avatar": first["id"]}
    )
    assert record.status_code == 201, record.text
    await sandbox.outage("wechat", "http_500", count=5)
    into = f"/api/collections/profiles/records/{record.json()['_id']}/files/avatar"
    refused = await upload(client, lee, into, jpeg(), expect=503)
    assert refused["code"] == "content.unavailable"
    kept = await client.get(
        f"/api/collections/profiles/records/{record.json()['_id']}", headers=lee.headers
    )
    assert (kept.json()["avatar"]["id"], kept.json()["_version"]) == (first["id"], 1)
    held = await services.db.fetch_value(
        "SELECT COUNT(*) FROM files WHERE state = 'ready' AND check_trace IS NULL"
        " AND record_id IS NULL"
    )
    assert held == 0  # the refused upload is on its way out, not waiting to be claimed
