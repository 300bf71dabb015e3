"""WeChat Pay API v3 as api.mch.weixin.qq.com speaks it to a mini program's merchant: JSAPI
prepay, the order query, closing an order, refunds and the refund query.

Every request carries the merchant's `WECHATPAY2-SHA256-RSA2048` Authorization, checked with
the public key the merchant registered, over the path below the sandbox's `/wechatpay` (the path
a client of api.mch.weixin.qq.com puts in its URL: `/v3/pay/transactions/jsapi`) and the exact
body, so an SDK whose base URL is `http://<sandbox>/wechatpay` signs what it would in
production. Every answer, errors and 204s included, is signed with the sandbox's one platform
key (Wechatpay-* headers). Errors are `{"code", "message"}` with the real HTTP status. People
pay, and banks settle refunds, through `wechatpay_control`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import Response

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import crypto
from minibase.sandbox.routing import Route
from minibase.sandbox.state import (
    Merchant,
    PayOrder,
    PayRefund,
    PlatformKey,
    SandboxState,
    WeChatPayState,
)
from minibase.sandbox.wechatpay_fields import Fields, Reply, WeChatPayError, param_error

PLATFORM_PREFIX = "wechatpay"  # the sandbox serves api.mch.weixin.qq.com below /wechatpay
CHINA = timezone(timedelta(hours=8))
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}


# -- the platform key ----------------------------------------------------------------------


def platform_key(state: SandboxState) -> PlatformKey:
    """The sandbox's "WeChat Pay platform" key, made on first use (one per SandboxState)."""
    with state.lock:
        if state.wechatpay.platform_key is None:
            state.wechatpay.platform_key = _new_platform_key(state.clock.now())
        return state.wechatpay.platform_key


def _new_platform_key(now: datetime) -> PlatformKey:
    private_pem, public_pem = rsa.generate_keypair()
    key = rsa.load_private_key(private_pem, platform=crypto.PLATFORM)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com sign (minibase sandbox)"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )
    return PlatformKey(
        private_key=key,
        public_key=public_pem,
        serial=public_key_id(),
        certificate=certificate.public_bytes(Encoding.PEM).decode("ascii"),
    )


def public_key_id() -> str:
    """A WeChat Pay public key id, the serial its signatures name: PUB_KEY_ID_ and 28 digits."""
    return f"PUB_KEY_ID_{secrets.randbelow(10**28):028d}"


# -- what the platform returns -----------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """WeChat Pay's times: China time with its offset, `2026-01-01T08:00:00+08:00`."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def trade_state(book: WeChatPayState, order: PayOrder) -> str:
    if order.status == "SUCCESS" and book.refunded(order) >= order.total:
        return "REFUND"
    return order.status


def transaction_json(book: WeChatPayState, order: PayOrder) -> dict[str, Any]:
    """The order as the query answers it (and as TRANSACTION.SUCCESS carries it)."""
    state = trade_state(book, order)
    amount: dict[str, Any] = {"total": order.total, "currency": "CNY", "payer_currency": "CNY"}
    body: dict[str, Any] = {
        "appid": order.appid,
        "mchid": order.mchid,
        "out_trade_no": order.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": state,
        "trade_state_desc": _TRADE_STATE_DESC[state],
        "attach": order.attach,
        "payer": {"openid": order.openid},
        "amount": amount,
    }
    if order.transaction_id is not None and order.success_time is not None:
        body["transaction_id"] = order.transaction_id
        body["bank_type"] = "OTHERS"
        body["success_time"] = rfc3339(order.success_time)
        amount["payer_total"] = order.total
    return body


def refund_json(refund: PayRefund) -> dict[str, Any]:
    """A refund as its creation and its query answer it."""
    body: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.create_time),
        "status": refund.status,
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "payer_total": refund.total,
            "payer_refund": refund.refund,
            "currency": "CNY",
        },
    }
    if refund.success_time is not None:
        body["success_time"] = rfc3339(refund.success_time)
    return body


# -- one signed exchange --------------------------------------------------------------------


def _order_not_found() -> WeChatPayError:
    return WeChatPayError(404, "ORDER_NOT_EXIST", "订单不存在")


@dataclass(frozen=True)
class Call:
    """A request whose signature checked out."""

    merchant: Merchant
    body: bytes
    path_params: Mapping[str, str]
    query: Mapping[str, str]

    def fields(self) -> Fields:
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise param_error("/body", "不是合法的JSON") from None
        if not isinstance(value, dict):
            raise param_error("/body", "应为JSON对象")
        return Fields(value, "/body")

    def check_mchid(self, mchid: str) -> None:
        if mchid != self.merchant.mchid:
            raise WeChatPayError(400, "PARAM_ERROR", "mchid与请求签名的商户号不一致")


Operation = Callable[[Call, SandboxState], Reply]


def signed_target(scope: Mapping[str, Any]) -> str:
    """What the client signed: the path below the sandbox's `/wechatpay` as the client sent it
    (percent-escapes kept), and the query."""
    raw = scope.get("raw_path") or b""
    path: str = raw.split(b"?")[0].decode("latin-1") if raw else scope["path"]
    root: str = scope.get("root_path", "")
    path = path.removeprefix(root).removeprefix(f"/{PLATFORM_PREFIX}")
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _authenticate(request: Request, body: bytes, state: SandboxState) -> Call:
    header = request.headers.get("authorization", "")
    try:
        auth = crypto.parse_authorization(header)
    except PlatformError:
        raise WeChatPayError(401, "SIGN_ERROR", "Authorization缺失或格式错误") from None
    merchant = state.wechatpay.merchants.get(auth.mchid)
    if merchant is None:
        raise WeChatPayError(400, "MCH_NOT_EXISTS", "商户号不存在")
    if auth.serial_no != merchant.serial:
        raise WeChatPayError(401, "SIGN_ERROR", "商户证书序列号有误")
    try:
        target = signed_target(request.scope)
        crypto.verify_request(
            request.method, target, body, header, merchant.public_key, now=state.now()
        )
    except PlatformError as error:
        if error.kind == "expired_data":
            raise WeChatPayError(401, "SIGN_ERROR", "请求的时间戳已过期") from None
        raise WeChatPayError(401, "SIGN_ERROR", "签名错误,验签失败") from None
    return Call(merchant, body, request.path_params, request.query_params)


def signed_response(state: SandboxState, reply: Reply) -> Response:
    text = "" if reply.payload is None else orjson.dumps(reply.payload).decode()
    key = platform_key(state)
    headers = crypto.sign_response(text, key.private_key, key.serial, timestamp=int(state.now()))
    headers["Request-ID"] = crypto.nonce_str()
    media_type = None if reply.payload is None else "application/json"
    return Response(text.encode(), status_code=reply.status, headers=headers, media_type=media_type)


def _endpoint(method: str, path: str, operation: Operation) -> Route:
    async def handler(request: Request, state: SandboxState) -> Response:
        body = await request.body()
        with state.lock:
            try:
                reply = operation(_authenticate(request, body, state), state)
            except WeChatPayError as error:
                reply = error.reply
        return signed_response(state, reply)

    return Route(method, f"/{PLATFORM_PREFIX}{path}", handler)


# -- the endpoints --------------------------------------------------------------------------


def _prepay(call: Call, state: SandboxState) -> Reply:
    fields = call.fields()
    appid = fields.text("appid", 32)
    call.check_mchid(fields.text("mchid", 32))
    description = fields.text("description", 127)
    out_trade_no = fields.matching("out_trade_no", _OUT_TRADE_NO)
    time_expire = fields.time("time_expire")
    attach = fields.optional_text("attach", 128) or ""
    notify_url = fields.url("notify_url")
    amount = fields.object("amount")
    total = amount.positive_integer("total")
    amount.currency(required=False)
    openid = fields.object("payer").text("openid", 128)

    book, key = state.wechatpay, (call.merchant.mchid, out_trade_no)
    order = book.orders.get(key)
    if order is None:
        order = PayOrder(
            mchid=call.merchant.mchid,
            out_trade_no=out_trade_no,
            appid=appid,
            description=description,
            openid=openid,
            total=total,
            notify_url=notify_url,
            attach=attach,
            time_expire=time_expire,
            prepay_id=_prepay_id(state.clock.now()),
        )
        book.orders[key] = order
    elif order.status == "CLOSED":
        raise WeChatPayError(400, "ORDER_CLOSED", "订单已关闭")
    elif order.status == "SUCCESS":
        raise WeChatPayError(400, "ORDERPAID", "该订单已支付")
    elif (order.appid, order.total, order.openid) != (appid, total, openid):
        raise WeChatPayError(400, "INVALID_REQUEST", "201 商户订单号重复")
    return Reply(200, {"prepay_id": order.prepay_id})


def _prepay_id(now: datetime) -> str:
    """`wx`, the China time to the second, and 20 hex digits, as the real ones look."""
    return "wx" + now.astimezone(CHINA).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def _query_order(call: Call, state: SandboxState) -> Reply:
    mchid = _query_mchid(call)
    order = state.wechatpay.orders.get((mchid, call.path_params["out_trade_no"]))
    if order is None:
        raise _order_not_found()
    return Reply(200, transaction_json(state.wechatpay, order))


def _query_transaction(call: Call, state: SandboxState) -> Reply:
    """The query by WeChat Pay's own transaction_id (paid orders only have one)."""
    mchid = _query_mchid(call)
    order = state.wechatpay.order_by_transaction(mchid, call.path_params["transaction_id"])
    if order is None:
        raise _order_not_found()
    return Reply(200, transaction_json(state.wechatpay, order))


def _query_mchid(call: Call) -> str:
    mchid = call.query.get("mchid")
    if not mchid:
        raise param_error("/query/mchid", "此字段为必填项")
    call.check_mchid(mchid)
    return mchid


def _close_order(call: Call, state: SandboxState) -> Reply:
    call.check_mchid(call.fields().text("mchid", 32))
    order = state.wechatpay.orders.get((call.merchant.mchid, call.path_params["out_trade_no"]))
    if order is None:
        raise _order_not_found()
    if order.status == "SUCCESS":
        raise WeChatPayError(400, "ORDERPAID", "订单已支付")
    order.status = "CLOSED"
    return Reply(204)


def _refund(call: Call, state: SandboxState) -> Reply:
    fields = call.fields()
    out_trade_no = fields.optional_text("out_trade_no", 32)
    transaction_id = fields.optional_text("transaction_id", 32)
    out_refund_no = fields.matching("out_refund_no", _OUT_REFUND_NO)
    reason = fields.optional_text("reason", 80)
    notify_url = fields.optional_url("notify_url")
    amount = fields.object("amount")
    refund, total = amount.positive_integer("refund"), amount.positive_integer("total")
    amount.currency(required=True)

    book, mchid = state.wechatpay, call.merchant.mchid
    if transaction_id is not None:
        order = book.order_by_transaction(mchid, transaction_id)
    elif out_trade_no is not None:
        order = book.orders.get((mchid, out_trade_no))
    else:
        raise param_error("/body/out_trade_no", "out_trade_no与transaction_id必填其一")
    if order is None:
        raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    existing = book.refunds.get((mchid, out_refund_no))
    if existing is not None:
        if (existing.out_trade_no, existing.refund) != (order.out_trade_no, refund):
            raise WeChatPayError(400, "INVALID_REQUEST", "商户退款单号重复, 且退款信息不一致")
        return Reply(200, refund_json(existing))
    if order.status != "SUCCESS" or order.transaction_id is None:
        raise WeChatPayError(400, "INVALID_REQUEST", "订单未支付, 不能退款")
    if total != order.total:
        raise param_error("/body/amount/total", "与原订单金额不一致")
    if book.refunded(order) + refund > order.total:
        raise WeChatPayError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    created = PayRefund(
        mchid=mchid,
        out_refund_no=out_refund_no,
        refund_id=_refund_id(),
        out_trade_no=order.out_trade_no,
        transaction_id=order.transaction_id,
        refund=refund,
        total=order.total,
        reason=reason,
        notify_url=notify_url,
        create_time=state.clock.now(),
    )
    book.refunds[(mchid, out_refund_no)] = created
    return Reply(200, refund_json(created))


def _refund_id() -> str:
    return f"50{secrets.randbelow(10**27):027d}"


def _query_refund(call: Call, state: SandboxState) -> Reply:
    refund = state.wechatpay.refunds.get((call.merchant.mchid, call.path_params["out_refund_no"]))
    if refund is None:
        raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return Reply(200, refund_json(refund))


ROUTES = (
    _endpoint("POST", "/v3/pay/transactions/jsapi", _prepay),
    _endpoint("GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", _query_order),
    _endpoint("GET", "/v3/pay/transactions/id/{transaction_id}", _query_transaction),
    _endpoint("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", _close_order),
    _endpoint("POST", "/v3/refund/domestic/refunds", _refund),
    _endpoint("GET", "/v3/refund/domestic/refunds/{out_refund_no}", _query_refund),
)


def system_busy() -> Response:
    """What WeChat Pay answers while it is in trouble (the client retries later)."""
    body = orjson.dumps({"code": "SYSTEM_ERROR", "message": "系统错误"})
    return Response(body, status_code=500, media_type="application/json")
