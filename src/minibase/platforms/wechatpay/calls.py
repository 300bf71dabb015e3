"""WeChat Pay API v3 calls for mini programs, sans-IO: JSAPI prepay, query, close, refunds,
and reading a notification. Every request is signed; every answer's signature is checked
against the platform keys before anything in it is believed.

Paths and fields from pay.weixin.qq.com (JSAPI/小程序下单, 查询订单, 关闭订单, 申请退款,
查询单笔退款, 支付通知, 退款结果通知). Errors are {"code", "message"} with a 4xx status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from minibase.platforms.errors import ErrorKind, PlatformError
from minibase.platforms.transport import Call, json_object
from minibase.platforms.wechatpay import crypto
from minibase.platforms.wechatpay.models import (
    PLATFORM,
    Merchant,
    Notification,
    Refund,
    Transaction,
)

T = TypeVar("T")
BASE_URL = "https://api.mch.weixin.qq.com"

CODE_KINDS: Mapping[str, ErrorKind] = {
    "SIGN_ERROR": "invalid_credentials",
    "NO_AUTH": "invalid_credentials",
    "MCH_NOT_EXISTS": "invalid_appid",
    "APPID_MCHID_NOT_MATCH": "invalid_appid",
    "FREQUENCY_LIMITED": "rate_limited",
    "SYSTEM_ERROR": "unavailable",
    "BANK_ERROR": "unavailable",
}


def _body_bytes(body: Mapping[str, Any] | None) -> bytes:
    if body is None:
        return b""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _signed(
    base_url: str,
    merchant: Merchant,
    method: str,
    path: str,
    parse: Callable[[httpx.Response], T],
    *,
    body: Mapping[str, Any] | None = None,
    query: str = "",
) -> Call[T]:
    # the signature covers the API's path below the base URL (as WeChat Pay's own SDKs sign
    # it), so a base URL with a path of its own (a gateway, the sandbox) changes nothing
    signed_path = path + (f"?{query}" if query else "")
    url = base_url.rstrip("/") + signed_path
    content = _body_bytes(body)
    headers = {
        "Authorization": crypto.authorization(
            method,
            signed_path,
            content,
            mchid=merchant.mchid,
            serial_no=merchant.serial_no,
            private_key=merchant.private_key,
        ),
        "Accept": "application/json",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    return Call(
        platform=PLATFORM,
        method=method,
        url=url,
        parse=parse,
        headers=headers,
        content=content if body is not None else None,
    )


def verified(response: httpx.Response, merchant: Merchant) -> Mapping[str, Any] | None:
    """The answer's JSON (None for 204) once its signature checks out; a 4xx becomes a
    PlatformError with WeChat Pay's code in `errcode`. An unsigned success is a forgery."""
    status = response.status_code
    signed = "wechatpay-signature" in response.headers
    if signed or status < 300:
        crypto.verify_signed(
            crypto.Signed.from_headers(dict(response.headers), response.content),
            merchant.platform_keys,
        )
    if status >= 300:
        raise _error(response)
    if status == 204 or not response.content:
        return None
    return json_object(response, PLATFORM)


def _error(response: httpx.Response) -> PlatformError:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    kind = CODE_KINDS.get(code, "other") if isinstance(code, str) else "bad_response"
    return PlatformError(
        PLATFORM,
        kind,
        str(message or f"HTTP {response.status_code}"),
        errcode=code if isinstance(code, str) else None,
        http_status=response.status_code,
    )


def _answer(response: httpx.Response, merchant: Merchant) -> Mapping[str, Any]:
    body = verified(response, merchant)
    if body is None:
        raise PlatformError(PLATFORM, "bad_response", "the answer has no body")
    return body


def jsapi_prepay(
    base_url: str,
    merchant: Merchant,
    *,
    appid: str,
    description: str,
    out_trade_no: str,
    total: int,
    openid: str,
    notify_url: str,
    time_expire: str | None = None,
    attach: str | None = None,
) -> Call[str]:
    """A JSAPI (mini program) order; its answer is the prepay_id for wx.requestPayment."""
    body: dict[str, Any] = {
        "appid": appid,
        "mchid": merchant.mchid,
        "description": description,
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "amount": {"total": total, "currency": "CNY"},
        "payer": {"openid": openid},
    }
    if time_expire is not None:
        body["time_expire"] = time_expire
    if attach is not None:
        body["attach"] = attach

    def parse(response: httpx.Response) -> str:
        prepay_id = _answer(response, merchant).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PlatformError(PLATFORM, "bad_response", "the answer has no prepay_id")
        return prepay_id

    return _signed(base_url, merchant, "POST", "/v3/pay/transactions/jsapi", parse, body=body)


def query_order(base_url: str, merchant: Merchant, out_trade_no: str) -> Call[Transaction]:
    path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
    return _signed(
        base_url,
        merchant,
        "GET",
        path,
        lambda response: Transaction.from_json(_answer(response, merchant)),
        query=f"mchid={quote(merchant.mchid, safe='')}",
    )


def close_order(base_url: str, merchant: Merchant, out_trade_no: str) -> Call[None]:
    """Close an unpaid order (204); a paid one answers ORDERPAID."""
    path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"

    def parse(response: httpx.Response) -> None:
        verified(response, merchant)

    return _signed(base_url, merchant, "POST", path, parse, body={"mchid": merchant.mchid})


def create_refund(
    base_url: str,
    merchant: Merchant,
    *,
    out_trade_no: str,
    out_refund_no: str,
    refund: int,
    total: int,
    reason: str | None = None,
    notify_url: str | None = None,
) -> Call[Refund]:
    body: dict[str, Any] = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "amount": {"refund": refund, "total": total, "currency": "CNY"},
    }
    if reason is not None:
        body["reason"] = reason
    if notify_url is not None:
        body["notify_url"] = notify_url
    return _signed(
        base_url,
        merchant,
        "POST",
        "/v3/refund/domestic/refunds",
        lambda response: Refund.from_json(_answer(response, merchant)),
        body=body,
    )


def query_refund(base_url: str, merchant: Merchant, out_refund_no: str) -> Call[Refund]:
    path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
    return _signed(
        base_url,
        merchant,
        "GET",
        path,
        lambda response: Refund.from_json(_answer(response, merchant)),
    )


def read_notification(
    merchant: Merchant,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> Notification:
    """Verify a notification's signature (and freshness), then decrypt its resource.
    Raises PlatformError: invalid_signature, expired_data, decrypt_failed, bad_response."""
    crypto.verify_signed(crypto.Signed.from_headers(headers, body), merchant.platform_keys, now=now)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PlatformError(PLATFORM, "bad_response", "the notification is not JSON") from None
    resource = document.get("resource") if isinstance(document, dict) else None
    if not isinstance(resource, dict):
        raise PlatformError(PLATFORM, "bad_response", "the notification has no resource")
    plaintext = crypto.decrypt_resource(resource, merchant.api_v3_key)
    try:
        opened = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        raise PlatformError(PLATFORM, "decrypt_failed", "the resource is not JSON") from None
    if not isinstance(opened, dict):
        raise PlatformError(PLATFORM, "decrypt_failed", "the resource is not an object")
    return Notification(
        id=str(document.get("id") or ""),
        event_type=str(document.get("event_type") or ""),
        original_type=str(resource.get("original_type") or ""),
        create_time=document.get("create_time"),
        summary=document.get("summary"),
        resource=opened,
    )
