"""Douyin's content checks: antidirt for texts (the token in X-Token, one task a text) and
censor/image for pictures; a hit is risky, nothing hit passes, refusals keep Douyin's code."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.douyin import AsyncDouyinClient, DouyinClient
from tests.platforms.fakes import Driver, FakePlatform

APPID = "tt5daf2b12c2857910"


@pytest.fixture
def douyin(mode: str) -> Driver:
    return Driver(
        mode,
        lambda http: DouyinClient(APPID, "tt-secret", http=http),
        lambda http: AsyncDouyinClient(APPID, "tt-secret", http=http),
    )


def _task(task_id: str, hit: bool) -> dict:
    predict = {"prob": 1 if hit else 0, "hit": hit, "target": None, "model_name": "antidirt"}
    return {"msg": "", "code": 0, "task_id": task_id, "predicts": [predict], "data_id": None}


async def test_texts_are_tasks_of_one_antidirt_call_and_a_hit_is_risky(douyin):
    platform = FakePlatform({"log_id": "L1", "data": [_task("T1", False), _task("T2", True)]})

    clean, dirty = await douyin(platform).antidirt("tok-1", ["a flat white", "a bad word"])

    assert (clean.suggest, clean.label, clean.label_name) == ("pass", 100, "normal")
    assert (dirty.suggest, dirty.label, dirty.label_name) == ("risky", 21000, "other")
    assert dirty.trace_id == "T2"
    assert dirty.detail[0]["model_name"] == "antidirt"
    request = platform.request
    assert (request.method, request.url.host, request.url.path) == (
        "POST",
        "developer.toutiao.com",
        "/api/v2/tags/text/antidirt",
    )
    assert request.headers["X-Token"] == "tok-1"
    assert platform.sent_json == {"tasks": [{"content": "a flat white"}, {"content": "a bad word"}]}


async def test_an_access_token_antidirt_refuses_is_stale_with_its_code_401(douyin):
    refused = {
        "error_id": "e1",
        "code": 401,
        "message": "[app token sign fail] bad token",
        "exception": "[app token sign fail] bad token",
    }
    with pytest.raises(PlatformError) as caught:
        await douyin(FakePlatform(refused, status=401)).antidirt("old", ["hi"])
    assert (caught.value.kind, caught.value.errcode) == ("invalid_credentials", 401)
    assert caught.value.access_token_rejected


@pytest.mark.parametrize(
    "body",
    [
        {"log_id": "L", "data": []},
        {"log_id": "L", "data": [{"code": 0, "task_id": "T"}]},
        {"log_id": "L", "data": ["?"]},
    ],
)
async def test_an_antidirt_answer_without_a_verdict_per_text_is_a_bad_response(douyin, body):
    with pytest.raises(PlatformError) as caught:
        await douyin(FakePlatform(body)).antidirt("tok", ["hi"])
    assert caught.value.kind == "bad_response"


async def test_a_task_douyin_did_not_check_is_an_error_with_its_code(douyin):
    body = {"log_id": "L", "data": [{"code": 500, "msg": "busy", "task_id": "T", "predicts": []}]}
    with pytest.raises(PlatformError) as caught:
        await douyin(FakePlatform(body)).antidirt("tok", ["hi"])
    assert (caught.value.kind, caught.value.errcode) == ("other", 500)


def test_antidirt_takes_one_to_ten_texts():
    with httpx.Client() as http:
        client = DouyinClient(APPID, "tt-secret", http=http)
        for contents in ([], ["x"] * 11):
            with pytest.raises(ValueError, match="1 to 10"):
                client.antidirt("tok", contents)


async def test_an_image_url_is_censored_with_the_app_id_and_token_in_the_body(douyin):
    predicts = [{"model_name": "porn", "hit": True}, {"model_name": "bloody", "hit": False}]
    platform = FakePlatform({"error": 0, "message": "image censor success", "predicts": predicts})

    verdict = await douyin(platform).censor_image("tok-1", image="https://cdn.example.com/a.png")

    assert (verdict.suggest, verdict.label, verdict.trace_id) == ("risky", 21000, None)
    assert [p["model_name"] for p in verdict.detail if p["hit"]] == ["porn"]
    assert platform.request.url.path == "/api/apps/censor/image"
    assert platform.sent_json == {
        "app_id": APPID,
        "access_token": "tok-1",
        "image": "https://cdn.example.com/a.png",
    }


async def test_image_data_is_sent_when_there_is_no_url(douyin):
    platform = FakePlatform({"error": 0, "message": "ok", "predicts": []})
    verdict = await douyin(platform).censor_image("tok", image_data="aGVsbG8=")
    assert verdict.suggest == "pass"
    assert platform.sent_json["image_data"] == "aGVsbG8="
    assert "image" not in platform.sent_json


@pytest.mark.parametrize(
    ("error", "kind", "stale"),
    [
        (1, "other", False),
        (2, "invalid_credentials", True),
        (3, "other", False),
        (4, "unavailable", False),
    ],
)
async def test_censor_image_errors_keep_douyins_number(douyin, error, kind, stale):
    platform = FakePlatform({"error": error, "message": "no"})
    with pytest.raises(PlatformError) as caught:
        await douyin(platform).censor_image("tok", image="https://cdn.example.com/a.png")
    assert (caught.value.kind, caught.value.errcode) == (kind, error)
    assert caught.value.access_token_rejected is stale


def test_censor_image_needs_an_image():
    with httpx.Client() as http, pytest.raises(ValueError, match="image"):
        DouyinClient(APPID, "tt-secret", http=http).censor_image("tok")
