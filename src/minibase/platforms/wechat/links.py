"""What opens a WeChat mini program from outside it, sans-IO like `calls.py`: unlimited mini
program codes (`wxa/getwxacodeunlimit`), URL schemes (`wxa/generatescheme`) and URL links
(`wxa/generate_urllink`).

Facts from developers.weixin.qq.com (getUnlimitedQRCode, generateScheme, generateUrlLink) and
the errcodes developers report: a code's `scene` is at most 32 visible characters of
`[0-9A-Za-z!#$&'()*+,/:;=?@\\-._~]` (40169 empty or too long, 40129 other characters), its
`page` has no leading "/" and no query and must exist in the published app while
`check_path` is true (41030), `env_version` is release, trial or develop (40097), `width`
280-1280 px. A code comes back as image bytes; a refusal as JSON with an errcode — told
apart by the content type. Schemes and links expire after at most 30 days (85401 expiry
time out of range, 85402 interval out of range); their `path` must be a published page
(40165), their `query` at most 1024 characters (40212).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from minibase.platforms.errors import PlatformError
from minibase.platforms.transport import Call, json_object
from minibase.platforms.wechat.calls import raise_for_errcode, text_field, token_post

SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
QUERY = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]{0,1024}$")
ENV_VERSIONS = ("release", "trial", "develop")
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 280, 1280, 430
MAX_EXPIRE_DAYS = 30


@dataclass(frozen=True, slots=True)
class CodeImage:
    """A mini program code as the platform sent it."""

    content_type: str
    data: bytes = field(repr=False)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _parse_image(response: httpx.Response) -> CodeImage:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        if not response.content:
            raise PlatformError("wechat", "bad_response", "an empty image")
        return CodeImage(content_type, response.content)
    body = json_object(response, "wechat")
    raise_for_errcode(body, "wechat", response.status_code)
    raise PlatformError("wechat", "bad_response", "neither an image nor an errcode")


def get_unlimited_qrcode(
    base_url: str,
    access_token: str,
    *,
    scene: str,
    page: str | None = None,
    check_path: bool | None = None,
    env_version: str | None = None,
    width: int | None = None,
    auto_color: bool | None = None,
    line_color: Mapping[str, int] | None = None,
    is_hyaline: bool | None = None,
) -> Call[CodeImage]:
    """wxa/getwxacodeunlimit: a permanent code for `page` carrying `scene`; None leaves a
    field to the platform's default (home page, check_path true, release, 430 px, black)."""
    payload = _drop_none(
        {
            "scene": scene,
            "page": page,
            "check_path": check_path,
            "env_version": env_version,
            "width": width,
            "auto_color": auto_color,
            "line_color": dict(line_color) if line_color is not None else None,
            "is_hyaline": is_hyaline,
        }
    )
    return Call(
        platform="wechat",
        method="POST",
        url=f"{base_url.rstrip('/')}/wxa/getwxacodeunlimit",
        params={"access_token": access_token},
        json=payload,
        parse=_parse_image,
    )


def _expiry(
    expire_type: int | None, expire_time: int | None, expire_interval: int | None
) -> dict[str, Any]:
    return _drop_none(
        {
            "expire_type": expire_type,
            "expire_time": expire_time,
            "expire_interval": expire_interval,
        }
    )


def generate_scheme(
    base_url: str,
    access_token: str,
    *,
    path: str | None = None,
    query: str | None = None,
    env_version: str | None = None,
    expire_type: int | None = None,
    expire_time: int | None = None,
    expire_interval: int | None = None,
) -> Call[str]:
    """wxa/generatescheme: an encrypted URL scheme (`weixin://dl/business/?t=...`). Expiry by
    a Unix time (expire_type 0) or a number of days (expire_type 1), 30 days at most."""
    jump_wxa = _drop_none({"path": path, "query": query, "env_version": env_version})
    payload: dict[str, Any] = {"jump_wxa": jump_wxa, "is_expire": True}
    payload.update(_expiry(expire_type, expire_time, expire_interval))

    return token_post(
        base_url, "/wxa/generatescheme", access_token, payload, text_field("openlink")
    )


def generate_url_link(
    base_url: str,
    access_token: str,
    *,
    path: str | None = None,
    query: str | None = None,
    env_version: str | None = None,
    expire_type: int | None = None,
    expire_time: int | None = None,
    expire_interval: int | None = None,
) -> Call[str]:
    """wxa/generate_urllink: an encrypted URL link (`https://wxaurl.cn/...`), same expiry
    rules as a scheme."""
    payload = _drop_none({"path": path, "query": query, "env_version": env_version})
    payload["is_expire"] = True
    payload.update(_expiry(expire_type, expire_time, expire_interval))

    return token_post(
        base_url, "/wxa/generate_urllink", access_token, payload, text_field("url_link")
    )
