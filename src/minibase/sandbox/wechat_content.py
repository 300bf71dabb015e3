"""WeChat content security, version 2, as the platform answers it: `wxa/msg_sec_check` (text,
at once) and `wxa/media_check_async` (images and audio: a trace_id now, the verdict later as a
`wxa_media_check` push event).

Marked words decide: text (content, title, nickname or signature) holding "sandbox-risky" is
risky and "sandbox-review" is to review (label 21000, "other"); each app may add its own words
with a label (the control API), reported under the "keyword" strategy as WeChat reports an
app's own keywords. A media URL holding a marked word will be found risky (or to review).

Refusals: an openid that never signed in to the app is 40003, a scene other than 1-4 40129,
empty content 44002, a body that is not JSON, a version other than 2, content longer than 2500
characters or a bad media_url / media_type 47001 (WeChat does not document the code for too
long a text), and past the app's quota (`rate-limit`) 45009.

A media check stays pending until the control API finishes it; the answer is the push event
as WeChat would deliver it (its delivery to the server is the message-push feature's).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities
from minibase.sandbox.content_book import BUILT_IN, MediaCheck
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.message_book import person_of
from minibase.sandbox.routing import Route, json_response
from minibase.sandbox.state import SandboxState
from minibase.sandbox.wechat import DATA_FORMAT_ERROR, error, token_call
from minibase.sandbox.wechat_messages import DAILY_QUOTA, INVALID_OPENID
from minibase.sandbox.wechat_push import original_id, push_event

INVALID_SCENE = (40129, "invalid scene")
EMPTY_PARAMETER = (44002, "empty post data")
MAX_TEXT = 2500
_SEVERITY = {"pass": 0, "review": 1, "risky": 2}
_TEXT_FIELDS = ("content", "title", "nickname", "signature")


def _hits(state: SandboxState, appid: str, text: str) -> tuple[list[Any], list[Any]]:
    """(built-in hits, the app's keyword hits) as (word, suggest, label)."""
    lowered = text.lower()
    built_in = [(w, s, label) for w, (s, label) in BUILT_IN.items() if w in lowered]
    own = [
        (w, s, label)
        for w, (s, label) in state.content.words.get(appid, {}).items()
        if w in lowered
    ]
    return built_in, own


def _verdict(state: SandboxState, appid: str, text: str) -> tuple[str, int, list[dict[str, Any]]]:
    """The overall suggestion and label, and the detail per strategy."""
    built_in, own = _hits(state, appid, text)
    model: dict[str, Any] = {"strategy": "content_model", "errcode": 0, "prob": 90}
    worst_model = max(built_in, key=lambda hit: _SEVERITY[hit[1]], default=None)
    model.update(suggest=worst_model[1] if worst_model else "pass")
    model.update(label=worst_model[2] if worst_model else 100)
    keyword: dict[str, Any] = {"strategy": "keyword", "errcode": 0}
    worst_own = max(own, key=lambda hit: _SEVERITY[hit[1]], default=None)
    if worst_own is not None:
        keyword.update(suggest=worst_own[1], label=worst_own[2], keyword=worst_own[0])
    candidates = [hit for hit in (worst_model, worst_own) if hit is not None]
    worst = max(candidates, key=lambda hit: _SEVERITY[hit[1]], default=None)
    if worst is None:
        return "pass", 100, [model, keyword]
    return worst[1], worst[2], [model, keyword]


def _common_problem(
    state: SandboxState, appid: str, body: dict[str, Any]
) -> tuple[int, str] | None:
    if body.get("version") not in (2, "2"):
        return DATA_FORMAT_ERROR
    openid = body.get("openid")
    if not isinstance(openid, str) or person_of(state, "wechat", appid, openid) is None:
        return INVALID_OPENID
    scene = body.get("scene")
    if isinstance(scene, bool) or scene not in (1, 2, 3, 4):
        return INVALID_SCENE
    return None


async def msg_sec_check(request: Request, state: SandboxState) -> Response:
    called = await token_call(request, state, DAILY_QUOTA)
    if isinstance(called, Response):
        return called
    appid, body = called
    content = body.get("content")
    if content is None or content == "":
        return error(EMPTY_PARAMETER)
    texts = [body.get(name) for name in _TEXT_FIELDS if body.get(name) is not None]
    if not all(isinstance(text, str) for text in texts) or len(content) > MAX_TEXT:
        return error(DATA_FORMAT_ERROR)
    with state.lock:
        problem = _common_problem(state, appid, body)
        if problem is not None:
            return error(problem)
        suggest, label, detail = _verdict(state, appid, "\n".join(map(str, texts)))
        state.content.texts_checked += 1
    return json_response(
        {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
            "detail": detail,
            "trace_id": identities.request_id(),
        }
    )


async def media_check_async(request: Request, state: SandboxState) -> Response:
    called = await token_call(request, state, DAILY_QUOTA)
    if isinstance(called, Response):
        return called
    appid, body = called
    url, media_type = body.get("media_url"), body.get("media_type")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return error(DATA_FORMAT_ERROR)
    if isinstance(media_type, bool) or media_type not in (1, 2):
        return error(DATA_FORMAT_ERROR)
    with state.lock:
        problem = _common_problem(state, appid, body)
        if problem is not None:
            return error(problem)
        suggest, label, _ = _verdict(state, appid, url)
        check = MediaCheck(
            trace_id=identities.request_id(),
            appid=appid,
            openid=str(body["openid"]),
            media_url=url,
            media_type=int(media_type),
            scene=int(body["scene"]),
            created=int(state.now()),
            suggest=suggest,
            label=label,
        )
        state.content.media[check.trace_id] = check
    return json_response({"errcode": 0, "errmsg": "ok", "trace_id": check.trace_id})


# -- control -----------------------------------------------------------------------------


def add_word(state: SandboxState, appid: str, word: str, suggest: str, label: int) -> None:
    """The app's own keyword: text holding it is `suggest` (risky or review) with `label`."""
    if suggest not in ("risky", "review"):
        raise SandboxError("sandbox.invalid_request", 400, "suggest must be risky or review")
    if not word.strip():
        raise SandboxError("sandbox.invalid_request", 400, "word must not be blank")
    with state.lock:
        if state.app("wechat", appid) is None:
            raise SandboxError("sandbox.unknown_app", 404, f"no wechat app {appid!r}")
        state.content.words.setdefault(appid, {})[word.lower()] = (suggest, label)


def media_checks(state: SandboxState) -> list[dict[str, Any]]:
    with state.lock:
        return [check.to_json() for check in state.content.media.values()]


def finish_media_check(
    state: SandboxState, trace_id: str, suggest: str | None = None, label: int | None = None
) -> dict[str, Any]:
    """Finish a pending check (with the verdict the URL earns, unless told another); the
    wxa_media_check push event, as WeChat delivers it (in JSON mode)."""
    if suggest is not None and suggest not in _SEVERITY:
        raise SandboxError("sandbox.invalid_request", 400, "suggest must be pass, review or risky")
    with state.lock:
        check = state.content.media.get(trace_id)
        if check is None:
            raise SandboxError("sandbox.not_found", 404, f"no media check {trace_id!r}")
        if check.event is None:
            final = suggest or check.suggest
            default = check.label if suggest is None else (100 if suggest == "pass" else 21000)
            found = default if label is None else label
            check.event = {
                "ToUserName": original_id(check.appid),
                "FromUserName": check.openid,
                "CreateTime": int(state.now()),
                "MsgType": "event",
                "Event": "wxa_media_check",
                "appid": check.appid,
                "trace_id": check.trace_id,
                "version": 2,
                "result": {"suggest": final, "label": found},
                "detail": [
                    {
                        "strategy": "content_model",
                        "errcode": 0,
                        "suggest": final,
                        "label": found,
                        "prob": 90,
                    }
                ],
            }
        return dict(check.event)


async def deliver_media_check(
    state: SandboxState, trace_id: str, suggest: str | None = None, label: int | None = None
) -> dict[str, Any]:
    """Finish the check and push its event to the app's message server, as WeChat does (when
    the app set one): {"event", "deliveries"}."""
    event = finish_media_check(state, trace_id, suggest, label)
    deliveries = await push_event(state, str(event["appid"]), event)
    return {"event": event, "deliveries": deliveries}


ROUTES = (
    Route("POST", "/wechat/wxa/msg_sec_check", msg_sec_check),
    Route("POST", "/wechat/wxa/media_check_async", media_check_async),
)
