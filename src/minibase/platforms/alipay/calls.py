"""Alipay open-platform gateway calls, sans-IO.

Every call is signed: common parameters (app_id, method, format=JSON, charset=utf-8,
sign_type=RSA2, timestamp "yyyy-MM-dd HH:mm:ss" in UTC+8, version=1.0) travel in the query
string with the sign, business parameters in the form body, and the sign covers them all, as
alipay-sdk-python-all's DefaultAlipayClient does. Each answer's sign is checked with the
Alipay public key before anything in it is believed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx

from minibase.platforms.alipay.codes import raise_for_code
from minibase.platforms.alipay.crypto import (
    PrivateKey,
    PublicKey,
    find_response_node,
    sign_params,
    verify_content,
)
from minibase.platforms.errors import PlatformError
from minibase.platforms.models import LoginSession
from minibase.platforms.transport import Call, json_object, optional_str

T = TypeVar("T")

GATEWAY = "https://openapi.alipay.com/gateway.do"
CHINA_TIME = timezone(timedelta(hours=8))
_TOKENS = frozenset({"access_token", "refresh_token"})
TEMPLATE_MESSAGE = "alipay.open.app.mini.templatemessage.send"
_USER_ID = re.compile(r"2088\d{12}")  # an Alipay user_id; newer apps know users by open_id


def gateway_call(
    gateway: str,
    app_id: str,
    method: str,
    business: Mapping[str, str],
    keys: tuple[PrivateKey, PublicKey],
    now: float,
    read: Callable[[dict[str, Any]], T],
    *,
    notify_url: str | None = None,
) -> Call[T]:
    private_key, alipay_public_key = keys
    common = {
        "app_id": app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": datetime.fromtimestamp(now, CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
    }
    if notify_url is not None:
        common["notify_url"] = notify_url
    sign = sign_params({**common, **business}, private_key)

    def parse(response: httpx.Response) -> T:
        body = json_object(response, "alipay")
        # The sign covers the node's exact text, so read the text as Alipay wrote it (UTF-8).
        name, node_text = find_response_node(_text(response), method)
        _check_sign(name, node_text, body.get("sign"), alipay_public_key, response.status_code)
        node = json.loads(node_text)
        if not isinstance(node, dict):
            raise PlatformError("alipay", "bad_response", f"the {name} is not an object")
        raise_for_code(node, response.status_code)
        if name == "error_response":
            raise PlatformError("alipay", "bad_response", "an error_response without a code")
        return read(node)

    return Call(
        platform="alipay",
        method="POST",
        url=gateway,
        params={**common, "sign": sign},
        data=dict(business),
        parse=parse,
    )


def _text(response: httpx.Response) -> str:
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlatformError("alipay", "bad_response", "the answer is not UTF-8") from error


def _check_sign(
    name: str, node_text: str, sign: object, alipay_public_key: PublicKey, http_status: int
) -> None:
    if not isinstance(sign, str):
        # Gateway errors for an unknown app come unsigned: reported as errors, never trusted.
        if name == "error_response":
            return
        raise PlatformError(
            "alipay", "invalid_signature", f"the {name} is unsigned", http_status=http_status
        )
    if not verify_content(node_text, sign, alipay_public_key):
        raise PlatformError(
            "alipay",
            "invalid_signature",
            f"the {name} is not signed by Alipay",
            http_status=http_status,
        )


def code2session(
    gateway: str, app_id: str, code: str, keys: tuple[PrivateKey, PublicKey], now: float
) -> Call[LoginSession]:
    """alipay.system.oauth.token with the code from my.getAuthCode."""

    def read(node: dict[str, Any]) -> LoginSession:
        # Since Alipay's OpenID upgrade newer apps get open_id, older ones user_id.
        openid = optional_str(node, "open_id") or optional_str(node, "user_id")
        if openid is None:
            raise PlatformError("alipay", "bad_response", "the answer has no open_id or user_id")
        return LoginSession(
            platform="alipay",
            appid=app_id,
            openid=openid,
            unionid=None,
            session_key=None,
            raw={k: v for k, v in node.items() if k not in _TOKENS},
        )

    business = {"grant_type": "authorization_code", "code": code}
    return gateway_call(gateway, app_id, "alipay.system.oauth.token", business, keys, now, read)


def send_template_message(
    gateway: str,
    app_id: str,
    keys: tuple[PrivateKey, PublicKey],
    now: float,
    *,
    to: str,
    user_template_id: str,
    data: Mapping[str, str | int | float],
    page: str | None = None,
) -> Call[None]:
    """A subscribe message to a user who accepted the template in my.requestSubscribeMessage.
    `to` is the user's open_id (or a 2088 user_id for apps from before the OpenID upgrade);
    `data` maps each keyword to its value. Refusals are 40004 with a sub_code such as
    USER_TEMPLATE_ILLEGAL, USER_TEMPLATE_LACK_KEYWORD or USER_KEYWORD_LENGTH_ERROR."""
    content: dict[str, str] = {
        "to_user_id" if _USER_ID.fullmatch(to) else "to_open_id": to,
        "user_template_id": user_template_id,
        "page": page or "",
        "data": json.dumps(
            {name: {"value": str(value)} for name, value in data.items()},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
    }
    business = {"biz_content": json.dumps(content, ensure_ascii=False, separators=(",", ":"))}
    return gateway_call(gateway, app_id, TEMPLATE_MESSAGE, business, keys, now, lambda _: None)
