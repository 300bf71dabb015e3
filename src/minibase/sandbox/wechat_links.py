"""WeChat's codes and links as the platform answers them: `wxa/getwxacodeunlimit` (a PNG, or
JSON with an errcode), `wxa/generatescheme` and `wxa/generate_urllink`.

A code's scene must be 1-32 allowed characters (40169 empty, too long or a body that is not
JSON; 40129 other characters); its page has no leading "/" nor query and, while check_path is
true (the default), is one of the app's published pages (41030; the control API sets them,
else the app has only `pages/index/index`); env_version, width (280-1280), line_color (r, g, b
0-255) and the flags out of shape are 40097. A link's path must be a published page (40165),
its query 1024 allowed characters at most (40212); it expires at a Unix time 1 minute to 30
days ahead (expire_type 0, else 85401) or after 1-30 days (expire_type 1, else 85402), and
after 30 days when no expiry is given. Past the app's quota every call is 45009.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minibase.platforms.wechat.links import (
    ENV_VERSIONS,
    MAX_EXPIRE_DAYS,
    MAX_WIDTH,
    MIN_WIDTH,
    QUERY,
    SCENE,
)
from minibase.sandbox import identities
from minibase.sandbox.code_image import auto_color, draw_code
from minibase.sandbox.routing import Route, json_response
from minibase.sandbox.state import SandboxState
from minibase.sandbox.wechat import DATA_FORMAT_ERROR, error, token_call
from minibase.sandbox.wechat_messages import DAILY_QUOTA

INVALID_ARGS = (40097, "invalid args")
INVALID_SCENE_LENGTH = (40169, "invalid length for scene, or the data is not json string")
INVALID_SCENE = (40129, "invalid scene")
INVALID_PAGE = (41030, "invalid page")
INVALID_PAGEPATH = (40165, "invalid weapp pagepath")
INVALID_QUERY = (40212, "invalid query")
INVALID_EXPIRE_TIME = (85401, "time limit between 1min and 30days")
INVALID_EXPIRE_INTERVAL = (85402, "invalid expire_interval, between 1 and 30 days")
DAY = 86_400
Problem = tuple[int, str]


def _flag(body: dict[str, Any], name: str, default: bool) -> bool | None:
    value = body.get(name, default)
    return value if isinstance(value, bool) else None


def _colour(value: Any) -> tuple[int, int, int] | None:
    """{"r", "g", "b"} as numbers or decimal strings, each 0-255."""
    if not isinstance(value, dict):
        return None
    channels = []
    for name in ("r", "g", "b"):
        channel = value.get(name, 0)
        if isinstance(channel, str) and channel.isdigit():
            channel = int(channel)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 255:
            return None
        channels.append(channel)
    return (channels[0], channels[1], channels[2])


def _code_problem(body: dict[str, Any], pages: list[str]) -> Problem | dict[str, Any]:
    scene = body.get("scene")
    if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
        return INVALID_SCENE_LENGTH
    if not SCENE.fullmatch(scene):
        return INVALID_SCENE
    check_path = _flag(body, "check_path", True)
    page = body.get("page") or pages[0]
    if not isinstance(page, str) or page.startswith("/") or "?" in page:
        return INVALID_PAGE
    if check_path and page not in pages:
        return INVALID_PAGE
    width = body.get("width", 430)
    hyaline, auto = _flag(body, "is_hyaline", False), _flag(body, "auto_color", False)
    colour = _colour(body.get("line_color", {}))
    if (
        body.get("env_version", "release") not in ENV_VERSIONS
        or isinstance(width, bool)
        or not isinstance(width, int)
        or not MIN_WIDTH <= width <= MAX_WIDTH
        or None in (check_path, hyaline, auto, colour)
    ):
        return INVALID_ARGS
    return {
        "scene": scene,
        "page": page,
        "check_path": check_path,
        "env_version": body.get("env_version", "release"),
        "width": width,
        "auto_color": auto,
        "line_color": colour,
        "is_hyaline": hyaline,
    }


async def get_unlimited_qrcode(request: Request, state: SandboxState) -> Response:
    called = await token_call(request, state, DAILY_QUOTA, malformed=INVALID_SCENE_LENGTH)
    if isinstance(called, Response):
        return called
    appid, body = called
    with state.lock:
        asked = _code_problem(body, state.links.published(appid))
    if isinstance(asked, tuple):
        return error(asked)
    colour = auto_color(appid) if asked["auto_color"] else asked["line_color"]
    text = {
        "appid": appid,
        "scene": asked["scene"],
        "page": asked["page"],
        "env_version": asked["env_version"],
        "line_color": ",".join(str(channel) for channel in colour),
        "auto_color": str(asked["auto_color"]).lower(),
        "is_hyaline": str(asked["is_hyaline"]).lower(),
    }
    image = draw_code(
        appid,
        asked["scene"],
        asked["page"],
        asked["width"],
        colour,
        hyaline=asked["is_hyaline"],
        text=text,
    )
    with state.lock:
        state.links.codes.append({**text, "width": asked["width"], "bytes": len(image)})
    return Response(image, media_type="image/png")


def _expiry(body: dict[str, Any], now: float) -> Problem | int:
    """The Unix time the scheme or link stops working."""
    expire_type = body.get("expire_type", 0)
    if "expire_time" not in body and "expire_interval" not in body:
        return int(now) + MAX_EXPIRE_DAYS * DAY
    if expire_type == 1:
        days = body.get("expire_interval")
        if isinstance(days, bool) or not isinstance(days, int):
            return INVALID_EXPIRE_INTERVAL
        if not 1 <= days <= MAX_EXPIRE_DAYS:
            return INVALID_EXPIRE_INTERVAL
        return int(now) + days * DAY
    if expire_type != 0:
        return INVALID_ARGS
    when = body.get("expire_time")
    if isinstance(when, bool) or not isinstance(when, int):
        return INVALID_EXPIRE_TIME
    if not now + 60 < when <= now + MAX_EXPIRE_DAYS * DAY:
        return INVALID_EXPIRE_TIME
    return when


def _target(target: dict[str, Any], pages: list[str]) -> Problem | dict[str, str]:
    path, query = target.get("path") or "", target.get("query") or ""
    if not isinstance(path, str) or "?" in path:
        return INVALID_PAGEPATH
    path = path.removeprefix("/")
    if path and path not in pages:
        return INVALID_PAGEPATH
    if not isinstance(query, str) or not QUERY.fullmatch(query):
        return INVALID_QUERY
    env_version = target.get("env_version", "release")
    if env_version not in ENV_VERSIONS:
        return INVALID_ARGS
    return {"path": path, "query": query, "env_version": env_version}


def _issue(state: SandboxState, appid: str, kind: str, body: dict[str, Any]) -> Problem | str:
    target = body if kind == "url_link" else body.get("jump_wxa", {})
    if not isinstance(target, dict):
        return DATA_FORMAT_ERROR
    with state.lock:
        now = state.now()
        found = _target(target, state.links.published(appid))
        if isinstance(found, tuple):
            return found
        expires = _expiry(body, now)
        if isinstance(expires, tuple):
            return expires
        ticket = identities.link_ticket()
        link = (
            f"https://wxaurl.cn/{ticket}"
            if kind == "url_link"
            else f"weixin://dl/business/?t={ticket}"
        )
        state.links.links.append(
            {"kind": kind, "appid": appid, "link": link, **found, "expire_time": expires}
        )
    return link


def _link_route(path: str, kind: str, answer_key: str) -> Route:
    async def generate(request: Request, state: SandboxState) -> Response:
        called = await token_call(request, state, DAILY_QUOTA)
        if isinstance(called, Response):
            return called
        appid, body = called
        link = _issue(state, appid, kind, body)
        if isinstance(link, tuple):
            return error(link)
        return json_response({"errcode": 0, "errmsg": "ok", answer_key: link})

    return Route("POST", path, generate)


def set_pages(state: SandboxState, appid: str, pages: list[str]) -> list[str]:
    """The app's published pages (the first is its home page)."""
    with state.lock:
        state.links.pages[appid] = list(pages)
        return state.links.published(appid)


ROUTES = (
    Route("POST", "/wechat/wxa/getwxacodeunlimit", get_unlimited_qrcode),
    _link_route("/wechat/wxa/generatescheme", "scheme", "openlink"),
    _link_route("/wechat/wxa/generate_urllink", "url_link", "url_link"),
)
