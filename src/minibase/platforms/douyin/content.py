"""Douyin content security, sans-IO: text (antidirt) and images (censor/image, "V2").

Text: POST /api/v2/tags/text/antidirt, the app's access token in the `X-Token` header, JSON
{"tasks": [{"content": ...}, ...]} (at most 10 tasks a call). The answer has one item a task,
in order: {"log_id", "data": [{"code", "msg", "task_id", "data_id", "predicts": [{"model_name",
"target", "prob", "hit"}]}]}; `hit` true means the text breaks the rules (`prob` is for
reference only). A refused call answers {"error_id", "code", "message", "exception"}: code 400
for bad parameters, 401 for an access token that fails its check (developer.open-douyin.com,
mini-app server "内容安全检测").

Images: POST /api/apps/censor/image with JSON {app_id, access_token, image (a URL) or
image_data (base64, ignored when image is given)}, answering {"error", "message", "predicts":
[{"model_name", "hit"}]}; error 1 bad parameters, 2 an access token that fails its check, 3
the image could not be downloaded, 4 an internal error ("图片检测V2"). The models include porn,
cartoon_porn, bloody, sensitive_text, sensitive_flag, leader_recognition and plant_ppx.

Neither takes a user: Douyin checks content for the app. It answers hit or not, with no
"review": a hit is `risky` (label 21000, "other"), nothing hit `pass` (label 100), and the
verdict's `detail` keeps the predicts as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from minibase.platforms.errors import ErrorKind, PlatformError
from minibase.platforms.models import ContentVerdict
from minibase.platforms.transport import Call, json_object

MAX_TASKS = 10
TEXT_TOKEN_REFUSED = 401  # antidirt's `code` for an access token that fails its check
IMAGE_TOKEN_REFUSED = 2  # censor/image's `error` for the same
IMAGE_NOT_DOWNLOADED = 3
_TEXT_KINDS: Mapping[int, ErrorKind] = {400: "other", 401: "invalid_credentials"}
_IMAGE_KINDS: Mapping[int, ErrorKind] = {
    1: "other",
    2: "invalid_credentials",
    3: "other",  # the image could not be downloaded
    4: "unavailable",
}


def verdict(predicts: Any, trace_id: str | None = None) -> ContentVerdict:
    """`risky` when a predict hit, else `pass`."""
    if not isinstance(predicts, list) or not all(isinstance(p, Mapping) for p in predicts):
        raise PlatformError("douyin", "bad_response", "the answer has no predicts")
    hit = any(predict.get("hit") is True for predict in predicts)
    return ContentVerdict(
        suggest="risky" if hit else "pass",
        label=21000 if hit else 100,
        trace_id=trace_id,
        detail=tuple(predicts),
    )


def antidirt(
    base_url: str, access_token: str, contents: Sequence[str]
) -> Call[list[ContentVerdict]]:
    """One verdict a text, in order (1 to MAX_TASKS texts)."""
    if not 1 <= len(contents) <= MAX_TASKS:
        raise ValueError(f"antidirt takes 1 to {MAX_TASKS} texts a call")

    def parse(response: httpx.Response) -> list[ContentVerdict]:
        body = json_object(response, "douyin")
        code = body.get("code")
        if body.get("error_id") is not None or (isinstance(code, int) and code != 0):
            kind = _TEXT_KINDS.get(code, "other") if isinstance(code, int) else "other"
            message = str(body.get("message") or "antidirt refused the call")
            raise PlatformError(
                "douyin", kind, message, errcode=code, http_status=response.status_code
            )
        items = body.get("data")
        if not isinstance(items, list) or len(items) != len(contents):
            raise PlatformError("douyin", "bad_response", "the answer has no result per text")
        verdicts = []
        for item in items:
            if not isinstance(item, Mapping):
                raise PlatformError("douyin", "bad_response", "a result is not an object")
            if item.get("code", 0) != 0:
                message = str(item.get("msg") or "a text was not checked")
                raise PlatformError("douyin", "other", message, errcode=item.get("code"))
            task_id = item.get("task_id")
            verdicts.append(verdict(item.get("predicts"), task_id if task_id else None))
        return verdicts

    return Call(
        platform="douyin",
        method="POST",
        url=f"{base_url.rstrip('/')}/api/v2/tags/text/antidirt",
        json={"tasks": [{"content": content} for content in contents]},
        headers={"X-Token": access_token},
        parse=parse,
    )


def censor_image(
    base_url: str,
    appid: str,
    access_token: str,
    *,
    image: str | None = None,
    image_data: str | None = None,
) -> Call[ContentVerdict]:
    """The verdict on an image at a URL (`image`) or sent as base64 (`image_data`)."""
    if not image and not image_data:
        raise ValueError("censor_image needs an image URL or image_data")
    payload: dict[str, Any] = {"app_id": appid, "access_token": access_token}
    if image:
        payload["image"] = image
    else:
        payload["image_data"] = image_data

    def parse(response: httpx.Response) -> ContentVerdict:
        body = json_object(response, "douyin")
        error = body.get("error")
        if error != 0:
            kind = _IMAGE_KINDS.get(error, "other") if isinstance(error, int) else "bad_response"
            message = str(body.get("message") or "censor/image answered no verdict")
            raise PlatformError(
                "douyin", kind, message, errcode=error, http_status=response.status_code
            )
        return verdict(body.get("predicts"))

    return Call(
        platform="douyin",
        method="POST",
        url=f"{base_url.rstrip('/')}/api/apps/censor/image",
        json=payload,
        parse=parse,
    )
