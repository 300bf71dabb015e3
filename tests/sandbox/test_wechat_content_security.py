"""Content security (version 2) in the sandbox, through the SDK: marked words make text risky
or worth a review, an app's own keywords carry their label, a media check gives a trace_id and
waits until it is finished, and the platform's refusals come back as WeChat gives them."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import CONTENT_SCENES, ContentVerdict, PlatformError
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from minibase.sandbox import Sandbox
from minibase.testing.sandbox import SandboxProcess

COMMENT = CONTENT_SCENES["comment"]


@pytest.fixture
async def wechat(sandbox: Sandbox, client: httpx.AsyncClient) -> AsyncWeChatClient:
    sandbox.register_app("wechat", "wx-sec", secret="sec-secret")
    return AsyncWeChatClient("wx-sec", "sec-secret", base_url="http://sandbox/wechat", http=client)


async def _signed_in(sandbox: Sandbox, wechat: AsyncWeChatClient, person: str) -> str:
    minted = sandbox.login_code("wechat", "wx-sec", person)
    return (await wechat.code2session(minted["code"])).openid


async def test_text_verdicts_follow_the_marked_words(
    sandbox: Sandbox, wechat: AsyncWeChatClient
) -> None:
    openid = await _signed_in(sandbox, wechat, "ann")
    token = (await wechat.get_access_token()).value
    clean = await wechat.msg_sec_check(token, openid=openid, content="a flat white", scene=COMMENT)
    assert (clean.suggest, clean.label, clean.label_name) == ("pass", 100, "normal")
    assert clean.trace_id
    risky = await wechat.msg_sec_check(
        token, openid=openid, content="buy SANDBOX-RISKY now", scene=COMMENT
    )
    assert (risky.suggest, risky.label) == ("risky", 21000)
    review = await wechat.msg_sec_check(
        token, openid=openid, content="fine", title="sandbox-review", scene=3
    )
    assert review.suggest == "review"
    assert [item["strategy"] for item in review.detail] == ["content_model", "keyword"]


async def test_an_apps_own_keyword_carries_its_label(
    sandbox: Sandbox, wechat: AsyncWeChatClient, client: httpx.AsyncClient
) -> None:
    openid = await _signed_in(sandbox, wechat, "bob")
    added = await client.post(
        "/control/content/words",
        json={"appid": "wx-sec", "word": "Cheap Watches", "suggest": "risky", "label": 10001},
    )
    assert added.status_code == 201
    token = (await wechat.get_access_token()).value
    verdict = await wechat.msg_sec_check(
        token, openid=openid, content="cheap watches here", scene=COMMENT
    )
    assert (verdict.suggest, verdict.label, verdict.label_name) == ("risky", 10001, "ad")
    keyword = [item for item in verdict.detail if item["strategy"] == "keyword"]
    assert keyword[0]["keyword"] == "cheap watches"
    bad = await client.post(
        "/control/content/words", json={"appid": "wx-sec", "word": "x", "suggest": "pass"}
    )
    assert bad.status_code == 400


async def _errcode(call: object) -> object:
    with pytest.raises(PlatformError) as refused:
        await call  # type: ignore[misc]
    return refused.value.errcode


async def test_the_platforms_refusals(sandbox: Sandbox, wechat: AsyncWeChatClient) -> None:
    openid = await _signed_in(sandbox, wechat, "cat")
    token = (await wechat.get_access_token()).value
    text = {"openid": openid, "content": "hello", "scene": COMMENT}
    assert await _errcode(wechat.msg_sec_check(token, **{**text, "openid": "o-nobody"})) == 40003
    assert await _errcode(wechat.msg_sec_check(token, **{**text, "scene": 9})) == 40129
    assert await _errcode(wechat.msg_sec_check(token, **{**text, "content": ""})) == 44002
    assert await _errcode(wechat.msg_sec_check(token, **{**text, "content": "x" * 2501})) == 47001
    assert await _errcode(wechat.msg_sec_check("not-a-token", **text)) == 40001
    media = {"openid": openid, "media_url": "ftp://x", "media_type": 2, "scene": COMMENT}
    assert await _errcode(wechat.media_check_async(token, **media)) == 47001
    sandbox.rate_limit("wechat", "wx-sec", 0)
    assert await _errcode(wechat.msg_sec_check(token, **text)) == 45009


async def test_a_media_check_waits_until_it_is_finished(
    sandbox: Sandbox, wechat: AsyncWeChatClient, client: httpx.AsyncClient
) -> None:
    openid = await _signed_in(sandbox, wechat, "dan")
    token = (await wechat.get_access_token()).value
    trace_id = await wechat.media_check_async(
        token,
        openid=openid,
        media_url="https://cdn.example.com/sandbox-risky.png",
        media_type=2,
        scene=COMMENT,
    )
    listed = (await client.get("/control/content/media-checks")).json()["items"]
    assert [(item["trace_id"], item["state"]) for item in listed] == [(trace_id, "pending")]
    finished = await client.post(f"/control/content/media-checks/{trace_id}/result", json={})
    event = finished.json()["event"]
    assert (event["MsgType"], event["Event"], event["appid"]) == (
        "event",
        "wxa_media_check",
        "wx-sec",
    )
    assert (event["trace_id"], event["version"], event["FromUserName"]) == (trace_id, 2, openid)
    assert event["result"] == {"suggest": "risky", "label": 21000}
    listed = (await client.get("/control/content/media-checks")).json()["items"]
    assert listed[0]["state"] == "finished"
    unknown = await client.post("/control/content/media-checks/nope/result", json={})
    assert unknown.status_code == 404


@pytest.fixture
def sandbox_url(request: pytest.FixtureRequest) -> str:
    """The test session's standalone sandbox (a real server on loopback)."""
    process: SandboxProcess = request.getfixturevalue("_sandbox_process")
    return process.url


def test_the_sync_client_checks_content_over_a_real_socket(sandbox_url: str) -> None:
    url = sandbox_url
    control = httpx.Client(base_url=f"{url}/control")
    control.post("/reset").raise_for_status()
    control.post(
        "/apps", json={"platform": "wechat", "appid": "wx-sync", "secret": "sync-secret"}
    ).raise_for_status()
    code = control.post(
        "/login-code", json={"platform": "wechat", "appid": "wx-sync", "person": "eve"}
    ).json()["code"]
    with WeChatClient("wx-sync", "sync-secret", base_url=f"{url}/wechat") as wechat:
        openid = wechat.code2session(code).openid
        token = wechat.get_access_token().value
        verdict = wechat.msg_sec_check(token, openid=openid, content="sandbox-review", scene=4)
        trace_id = wechat.media_check_async(
            token, openid=openid, media_url="https://cdn.example.com/a.mp3", media_type=1, scene=4
        )
    assert verdict.suggest == "review"
    listed = control.get("/content/media-checks").json()["items"]
    assert [(item["trace_id"], item["media_type"]) for item in listed] == [(trace_id, 1)]
    event = control.post(f"/content/media-checks/{trace_id}/result", json={}).json()["event"]
    assert ContentVerdict.from_answer(event).suggest == "pass"
    control.close()
