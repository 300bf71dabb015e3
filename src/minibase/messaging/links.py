"""URL schemes (`weixin://dl/business/?t=...`) and URL links (`https://wxaurl.cn/...`) that open
a WeChat mini program from a text message, an email or a web page.

Each request makes a new one (the platform does not return the same link twice); they expire
after 30 days at most: at `expire_time` (a Unix time, a minute to 30 days ahead), after
`expire_interval` days (1-30), or after 30 days when neither is given. Bad input is refused
before any call (`links.invalid`); a path the published app does not have is
`links.invalid_path` (40165); quota, outages and refused credentials are the platform's
errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.platforms import PlatformError
from minibase.platforms.wechat.links import ENV_VERSIONS, MAX_EXPIRE_DAYS, QUERY

if TYPE_CHECKING:
    from minibase.services import Services

_FIELDS = frozenset({"appid", "path", "query", "env_version", "expire_time", "expire_interval"})
_REFUSED_INPUT = {
    40165: ("links.invalid_path", "the path is not a page of the published app"),
    40212: ("links.invalid", "the platform refused the query"),
    85401: ("links.invalid", "expire_time must be a minute to 30 days ahead"),
    85402: ("links.invalid", "expire_interval must be 1 to 30 days"),
    40097: ("links.invalid", "the platform refused the parameters"),
}


def _invalid(message: str) -> ApiError:
    return ApiError("links.invalid", 400, message)


def _text(body: Mapping[str, Any], name: str) -> Any:
    """A text field; missing or null is empty (false, 0 or {} stay, to be refused)."""
    value = body.get(name)
    return "" if value is None else value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_link(body: Mapping[str, Any], now: float) -> tuple[str, dict[str, Any], int]:
    """The app, what to send, and the Unix time the link will stop working."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"unknown fields {unknown}; a link has {sorted(_FIELDS)}")
    appid = body.get("appid")
    if not isinstance(appid, str) or not appid:
        raise _invalid("appid is required: the WeChat app the link opens")
    path, query = _text(body, "path"), _text(body, "query")
    if not isinstance(path, str) or "?" in path or len(path) > 1024:
        raise _invalid('path is a page like "pages/index/index", its query apart')
    if not isinstance(query, str) or not QUERY.fullmatch(query):
        raise _invalid("query is at most 1024 characters of 0-9 A-Z a-z and !#$&'()*+,/:;=?@-._~%")
    env_version = body.get("env_version", "release")
    if env_version not in ENV_VERSIONS:
        raise _invalid(f"env_version is one of {', '.join(ENV_VERSIONS)}")
    target: dict[str, Any] = {"path": path.removeprefix("/") or None, "query": query or None}
    target["env_version"] = env_version
    when, days = body.get("expire_time"), body.get("expire_interval")
    if when is not None and days is not None:
        raise _invalid("give expire_time or expire_interval, not both")
    if when is not None:
        if not _whole(when) or not now + 60 < when <= now + MAX_EXPIRE_DAYS * 86_400:
            raise _invalid("expire_time is a Unix time a minute to 30 days ahead")
        return appid, {**target, "expire_type": 0, "expire_time": when}, when
    if days is not None:
        if not _whole(days) or not 1 <= days <= MAX_EXPIRE_DAYS:
            raise _invalid("expire_interval is a whole number of days from 1 to 30")
        return (
            appid,
            {**target, "expire_type": 1, "expire_interval": days},
            int(now) + days * 86_400,
        )
    return appid, target, int(now) + MAX_EXPIRE_DAYS * 86_400


def link_failure(exc: PlatformError) -> ApiError:
    known = _REFUSED_INPUT.get(exc.errcode) if isinstance(exc.errcode, int) else None
    if known is None:
        return platform_failure(exc, client_input=False)
    code, message = known
    return ApiError(code, 400, f"wechat: {message}", {"errcode": exc.errcode})


class Links:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def url_scheme(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new URL scheme: `{"openlink": "weixin://dl/business/?t=...", ...}`."""
        return await self._generate(body, "openlink")

    async def url_link(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new URL link: `{"url_link": "https://wxaurl.cn/...", ...}`."""
        return await self._generate(body, "url_link")

    async def _generate(self, body: Mapping[str, Any], kind: str) -> dict[str, Any]:
        services = self._services
        now = services.clock.now()
        appid, target, expires = check_link(body, now.timestamp())
        app = await services.apps.get("wechat", appid)
        client = services.platforms.client(app)
        sent = {name: value for name, value in target.items() if value is not None}
        generate = client.generate_scheme if kind == "openlink" else client.generate_url_link
        try:
            link: str = await services.access_tokens.calling(
                app, lambda token: generate(token, **sent)
            )
        except PlatformError as exc:
            raise link_failure(exc) from None
        return {
            kind: link,
            "appid": app.appid,
            "path": target["path"] or "",
            "query": target["query"] or "",
            "env_version": target["env_version"],
            "expire_time": expires,
            "expires_at": isoformat(datetime.fromtimestamp(expires, UTC)),
        }
