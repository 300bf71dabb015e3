"""Douyin's content checks in the sandbox, through the SDK: a text or an image holding a marked
word (built in, or the app's own) hits and is risky, anything else passes, and refused tokens
and bad requests come back as Douyin gives them."""

from __future__ import annotations

import base64

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.douyin import AsyncDouyinClient
from minibase.sandbox import Sandbox

APP = "tt-content"


@pytest.fixture
async def douyin(sandbox: Sandbox, client: httpx.AsyncClient) -> AsyncDouyinClient:
    sandbox.register_app("douyin", APP, secret="dy-secret")
    return AsyncDouyinClient(APP, "dy-secret", base_url="http://sandbox/douyin", http=client)


async def test_a_text_holding_a_marked_word_hits_and_the_rest_pass(
    douyin: AsyncDouyinClient,
) -> None:
    token = (await douyin.get_access_token()).value

    clean, risky, review = await douyin.antidirt(
        token, ["a flat white", "buy SANDBOX-RISKY now", "sandbox-review"]
    )

    assert (clean.suggest, clean.label) == ("pass", 100)
    assert (risky.suggest, risky.label) == ("risky", 21000)
    assert risky.detail[0] == {
        "prob": 1,
        "hit": True,
        "target": None,
        "model_name": "short_content_antidirt",
    }
    assert str(risky.trace_id).startswith("MICROAPP_")
    assert review.suggest == "pass"  # Douyin has no review: hit or not


async def test_an_apps_own_word_hits_its_texts_and_images(
    douyin: AsyncDouyinClient, client: httpx.AsyncClient
) -> None:
    added = await client.post(
        "/control/content/words",
        json={"platform": "douyin", "appid": APP, "word": "Cheap Watches", "suggest": "risky"},
    )
    assert added.status_code == 201
    token = (await douyin.get_access_token()).value
    [text] = await douyin.antidirt(token, ["cheap watches here"])
    image = await douyin.censor_image(token, image="https://cdn.example.com/cheap%20watches.png")
    assert text.suggest == "risky"
    assert image.suggest == "pass"  # the URL spells it otherwise
    image = await douyin.censor_image(token, image="https://cdn.example.com/cheap watches.png")
    assert image.suggest == "risky"


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "douyin", "appid": APP, "word": "x", "suggest": "review"},
        {"platform": "douyin", "appid": "tt-nobody", "word": "x", "suggest": "risky"},
        {"platform": "qq", "appid": APP, "word": "x", "suggest": "risky"},
    ],
)
async def test_douyin_words_are_risky_words_of_a_known_app(
    douyin: AsyncDouyinClient, client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    refused = await client.post("/control/content/words", json=body)
    assert refused.status_code in (400, 404)


async def test_an_image_by_url_or_by_its_bytes_hits_on_the_porn_model(
    douyin: AsyncDouyinClient,
) -> None:
    token = (await douyin.get_access_token()).value
    clean = await douyin.censor_image(token, image="https://cdn.example.com/cat.png")
    by_url = await douyin.censor_image(token, image="https://cdn.example.com/sandbox-risky.png")
    data = base64.b64encode(b"\x89PNG...sandbox-risky...").decode()
    by_bytes = await douyin.censor_image(token, image_data=data)

    assert clean.suggest == "pass"
    assert not any(predict["hit"] for predict in clean.detail)
    for verdict in (by_url, by_bytes):
        assert verdict.suggest == "risky"
        assert [p["model_name"] for p in verdict.detail if p["hit"]] == ["porn"]


async def _refusal(call: object) -> PlatformError:
    with pytest.raises(PlatformError) as refused:
        await call  # type: ignore[misc]
    return refused.value


async def test_a_token_douyin_does_not_know_is_refused_as_stale(
    douyin: AsyncDouyinClient,
) -> None:
    text = await _refusal(douyin.antidirt("sbx_forged", ["hi"]))
    assert (text.errcode, text.http_status, text.access_token_rejected) == (401, 401, True)
    image = await _refusal(douyin.censor_image("sbx_forged", image="https://a.example/x.png"))
    assert (image.errcode, image.access_token_rejected) == (2, True)


async def test_bad_requests_get_douyins_codes(
    douyin: AsyncDouyinClient, client: httpx.AsyncClient
) -> None:
    token = (await douyin.get_access_token()).value
    headers = {"X-Token": token}
    for body in ({}, {"tasks": []}, {"tasks": [{"content": ""}]}, {"tasks": [{}] * 11}):
        answer = await client.post("/douyin/api/v2/tags/text/antidirt", json=body, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (400, 400)
        assert answer.json()["error_id"]
    image = "/douyin/api/apps/censor/image"
    base = {"app_id": APP, "access_token": token}
    for body, error in (
        ({"access_token": token, "image": "https://a.example/x.png"}, 1),
        (base, 1),
        ({**base, "image_data": "not base64!"}, 1),
        ({**base, "image": "ftp://a.example/x.png"}, 3),
        ({**base, "app_id": "tt-other", "image": "https://a.example/x.png"}, 2),
    ):
        answer = await client.post(image, json=body)
        assert (answer.status_code, answer.json()["error"]) == (200, error)
