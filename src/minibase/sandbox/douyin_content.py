"""Douyin content security as developer.toutiao.com answers it: `api/v2/tags/text/antidirt`
(texts, the access token in the X-Token header) and `api/apps/censor/image` (an image URL or
base64 image_data, the token in the body).

Marked words decide, as in the sandbox's WeChat: a text, an image URL or the bytes of
image_data holding "sandbox-risky", or one of the app's own words (`content/words` with
platform douyin), hits. Douyin answers hit or not, nothing like "review": "sandbox-review"
passes here. A text hit is reported by the "short_content_antidirt" model; an image hit by
"porn" (every other model answers no hit).

Refusals: antidirt answers a token that is unknown, expired, of another platform or replaced
past its grace period with HTTP 401 {"error_id", "code": 401, "message", "exception"}, and a
body that is not {"tasks": [{"content": "..."}]} with 1 to 10 non-empty texts with HTTP 400
and code 400. censor/image answers HTTP 200 with {"error": 1} for bad parameters (no app_id,
neither image nor image_data, image_data that is not base64), 2 for a token it refuses (or of
another app) and 3 for an image URL it cannot download (not http(s)).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities
from minibase.sandbox.content_book import RISKY_WORD
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import SandboxState

MAX_TASKS = 10
TEXT_MODEL = "short_content_antidirt"
IMAGE_HIT_MODEL = "porn"
IMAGE_MODELS = (
    "porn",
    "cartoon_leader",
    "anniversary_flag",
    "sensitive_flag",
    "sensitive_text",
    "leader_recognition",
    "bloody",
    "fandongtaibiao",
    "plant_ppx",
    "high_risk_social_event",
    "high_risk_boom",
    "high_risk_money",
    "high_risk_terrorist_uniform",
    "high_risk_sensitive_map",
    "great_hall",
    "cartoon_porn",
    "party_founding_memorial",
)
TOKEN_REFUSED = "[app token sign fail] bad token"  # noqa: S105 (a message, not a secret)


def _token_app(state: SandboxState, value: Any) -> str | None:
    """The Douyin app a token that still works was issued to."""
    token = state.access_token(value) if isinstance(value, str) and value else None
    if token is None or token.platform != "douyin" or token.problem(state.now()) is not None:
        return None
    return token.appid


def _hits(state: SandboxState, appid: str, text: str) -> bool:
    lowered = text.lower()
    words = (RISKY_WORD, *state.content.douyin_words.get(appid, ()))
    return any(word in lowered for word in words)


def _refused(code: int, message: str) -> Response:
    body = {"error_id": uuid.uuid4().hex, "code": code, "message": message, "exception": message}
    return json_response(body, status=code)


async def antidirt(request: Request, state: SandboxState) -> Response:
    body = await read_json(request)
    with state.lock:
        appid = _token_app(state, request.headers.get("x-token"))
    if appid is None:
        return _refused(401, TOKEN_REFUSED)
    tasks = body.get("tasks") if body is not None else None
    if (
        not isinstance(tasks, list)
        or not 1 <= len(tasks) <= MAX_TASKS
        or not all(isinstance(t, dict) and isinstance(t.get("content"), str) for t in tasks)
        or not all(task["content"] for task in tasks)
    ):
        return _refused(400, "参数有误")
    with state.lock:
        hits = [_hits(state, appid, task["content"]) for task in tasks]
        state.content.texts_checked += len(tasks)
    data = [
        {
            "msg": "",
            "code": 0,
            "task_id": f"MICROAPP_{secrets.randbelow(10**19)}",
            "predicts": [
                {"prob": 1 if hit else 0, "hit": hit, "target": None, "model_name": TEXT_MODEL}
            ],
            "data_id": None,
        }
        for hit in hits
    ]
    return json_response({"log_id": identities.log_id(), "data": data})


def _image_error(error: int, message: str) -> Response:
    return json_response({"error": error, "message": message})


async def censor_image(request: Request, state: SandboxState) -> Response:
    body = await read_json(request)
    if body is None or not isinstance(body.get("app_id"), str) or not body["app_id"]:
        return _image_error(1, "app_id is required")
    image, image_data = body.get("image"), body.get("image_data")
    if image:  # image_data is ignored when both are given
        if not isinstance(image, str) or not image.startswith(("http://", "https://")):
            return _image_error(3, "image download failed")
        seen = image
    elif isinstance(image_data, str) and image_data:
        try:
            seen = base64.b64decode(image_data, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return _image_error(1, "image_data is not base64")
    else:
        return _image_error(1, "image or image_data is required")
    with state.lock:
        if _token_app(state, body.get("access_token")) != body["app_id"]:
            return _image_error(2, "access_token check failed")
        hit = _hits(state, body["app_id"], seen)
    predicts = [
        {"model_name": model, "hit": hit and model == IMAGE_HIT_MODEL} for model in IMAGE_MODELS
    ]
    return json_response({"error": 0, "message": "image censor success", "predicts": predicts})


# -- control -----------------------------------------------------------------------------


def add_word(state: SandboxState, appid: str, word: str, suggest: str) -> None:
    """The Douyin app's own word: a text or an image holding it hits (there is no review)."""
    if suggest != "risky":
        raise SandboxError(
            "sandbox.invalid_request", 400, "Douyin answers hit or not: suggest must be risky"
        )
    if not word.strip():
        raise SandboxError("sandbox.invalid_request", 400, "word must not be blank")
    with state.lock:
        if state.app("douyin", appid) is None:
            raise SandboxError("sandbox.unknown_app", 404, f"no douyin app {appid!r}")
        state.content.douyin_words.setdefault(appid, set()).add(word.lower())


ROUTES = (
    Route("POST", "/douyin/api/v2/tags/text/antidirt", antidirt),
    Route("POST", "/douyin/api/apps/censor/image", censor_image),
)
