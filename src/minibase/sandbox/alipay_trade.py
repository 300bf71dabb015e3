"""Alipay's payment methods for mini programs on the sandbox's `gateway.do`: alipay.trade.create
(product JSAPI_PAY; its trade_no is what my.tradePay takes), .query, .close, .refund and
.fastpay.refund.query.

`alipay.gateway` checks the common parameters and the request's RSA2 sign first, then hands the
call here: each method reads its biz_content JSON and answers its `<method>_response` node,
which the gateway signs with the platform key. Refusals are Alipay's, signed as well: 40002
isv.invalid-parameter for a missing or malformed field, else 40004 "Business Failed" with an
ACQ.* sub_code. People pay through `alipay_trade_control`; refunds settle at once, as
Alipay's do.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from minibase.platforms.alipay.trade import yuan
from minibase.sandbox.state import (
    AlipayRefund,
    AlipayTrade,
    AlipayTradeState,
    App,
    SandboxState,
)

CREATE = "alipay.trade.create"
QUERY = "alipay.trade.query"
CLOSE = "alipay.trade.close"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"

CHINA = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Alipay's times: China time to the second
MAX_TOTAL = 100_000_000_00  # fen: 100 million yuan, Alipay's ceiling for one trade
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_]{1,64}")  # letters, digits and underscores only
_AMOUNT = re.compile(r"(\d{1,10})(?:\.(\d{1,2}))?")
_SUCCESS = {"code": "10000", "msg": "Success"}


class TradeError(Exception):
    """A refusal, answered in the method's own response node."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{sub_code}: {sub_msg}")
        self.node = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def _invalid(sub_msg: str) -> TradeError:
    return TradeError("40002", "Invalid Arguments", "isv.invalid-parameter", sub_msg)


def _failed(sub_code: str, sub_msg: str) -> TradeError:
    return TradeError("40004", "Business Failed", sub_code, sub_msg)


def china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime(TIME_FORMAT)


class BizContent:
    """biz_content's fields, each checked; a bad one is isv.invalid-parameter naming it."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    @classmethod
    def parse(cls, text: str | None) -> BizContent:
        if not text:
            raise _invalid("缺少必选参数biz_content")
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise _invalid("biz_content不是合法的JSON") from None
        if not isinstance(value, dict):
            raise _invalid("biz_content应为JSON对象")
        return cls(value)

    def optional_text(self, name: str, max_length: int) -> str | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _invalid(f"参数无效: {name}应为字符串")
        if len(value) > max_length:
            raise _invalid(f"参数无效: {name}长度不能超过{max_length}")
        return value

    def given_text(self, name: str, max_length: int) -> str | None:
        """A text kept as sent, empty included (None only when left out)."""
        if self._values.get(name) == "":
            return ""
        return self.optional_text(name, max_length)

    def text(self, name: str, max_length: int) -> str:
        value = self.optional_text(name, max_length)
        if value is None:
            raise _invalid(f"缺少必选参数{name}")
        return value

    def amount(self, name: str) -> int:
        """A yuan amount ("12.30", "12.3" or "12"), in fen."""
        value = self._values.get(name)
        if value is None:
            raise _invalid(f"缺少必选参数{name}")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        match = _AMOUNT.fullmatch(str(value)) if isinstance(value, str) or is_number else None
        if match is None:
            raise _invalid(f"参数无效: {name}应为以元为单位、最多两位小数的金额")
        return int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))

    def time(self, name: str) -> datetime | None:
        value = self.optional_text(name, 32)
        if value is None:
            return None
        try:
            return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=CHINA)
        except ValueError:
            raise _invalid(f"参数无效: {name}格式应为yyyy-MM-dd HH:mm:ss") from None


Operation = Callable[[SandboxState, App, BizContent, Mapping[str, str]], dict[str, Any]]


def answer(state: SandboxState, app: App, method: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The `<method>_response` node for a trade method call whose sign checked out."""
    try:
        biz = BizContent.parse(params.get("biz_content"))
        with state.lock:
            return {**_SUCCESS, **_OPERATIONS[method](state, app, biz, params)}
    except TradeError as error:
        return error.node


def trade_status(book: AlipayTradeState, trade: AlipayTrade, now: datetime) -> str:
    """What Alipay reports: an unpaid trade past its time_expire, and a fully refunded one,
    read TRADE_CLOSED."""
    if trade.status == "TRADE_SUCCESS" and book.refunded(trade) >= trade.total:
        return "TRADE_CLOSED"
    expired = trade.time_expire is not None and now >= trade.time_expire
    if trade.status == "WAIT_BUYER_PAY" and expired:
        return "TRADE_CLOSED"
    return trade.status


def _buyer(trade: AlipayTrade) -> dict[str, str]:
    if trade.buyer_open_id is not None:
        return {"buyer_open_id": trade.buyer_open_id}
    return {"buyer_user_id": trade.buyer_id} if trade.buyer_id is not None else {}


def _find(book: AlipayTradeState, app: App, biz: BizContent) -> AlipayTrade:
    """The trade named by trade_no (which wins, as at Alipay) or out_trade_no."""
    trade_no = biz.optional_text("trade_no", 64)
    out_trade_no = biz.optional_text("out_trade_no", 64)
    if trade_no is not None:
        trade = book.trade_by_trade_no(app.appid, trade_no)
    elif out_trade_no is not None:
        trade = book.trades.get((app.appid, out_trade_no))
    else:
        raise _invalid("out_trade_no与trade_no不能同时为空")
    if trade is None:
        raise _failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return trade


def _create(
    state: SandboxState, app: App, biz: BizContent, params: Mapping[str, str]
) -> dict[str, Any]:
    out_trade_no = biz.text("out_trade_no", 64)
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise _invalid("参数无效: out_trade_no仅支持字母、数字、下划线")
    total = biz.amount("total_amount")
    subject = biz.text("subject", 256)
    if biz.optional_text("product_code", 64) not in (None, "JSAPI_PAY"):
        raise _invalid("参数无效: 小程序支付的product_code应为JSAPI_PAY")
    buyer_open_id = biz.optional_text("buyer_open_id", 128)
    buyer_id = biz.optional_text("buyer_id", 28)
    if buyer_open_id is None and buyer_id is None:
        raise _invalid("buyer_open_id与buyer_id不能同时为空")
    biz.optional_text("op_app_id", 32)
    passback_params = biz.given_text("passback_params", 512)  # echoed in the notification
    time_expire = biz.time("time_expire")
    notify_url = params.get("notify_url") or None
    if notify_url is not None and not notify_url.startswith(("https://", "http://")):
        raise _invalid("参数无效: notify_url应为http(s)地址")
    if not 1 <= total <= MAX_TOTAL:
        raise _failed("ACQ.TOTAL_FEE_EXCEED", "订单总金额超过限额")

    book, now = state.alipay_trades, state.clock.now()
    trade = book.trades.get((app.appid, out_trade_no))
    if trade is None:
        trade = AlipayTrade(
            app_id=app.appid,
            out_trade_no=out_trade_no,
            trade_no=_trade_no(now),
            total=total,
            subject=subject,
            buyer_open_id=buyer_open_id,
            buyer_id=buyer_id,
            notify_url=notify_url,
            time_expire=time_expire,
            gmt_create=now,
            passback_params=passback_params,
        )
        book.trades[(app.appid, out_trade_no)] = trade
    else:
        status = trade_status(book, trade, now)
        if status == "TRADE_CLOSED":
            raise _failed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
        if status != "WAIT_BUYER_PAY":
            raise _failed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        asked = (total, subject, buyer_open_id, buyer_id)
        if asked != (trade.total, trade.subject, trade.buyer_open_id, trade.buyer_id):
            raise _failed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
    return {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}


def _trade_no(now: datetime) -> str:
    """28 digits that start with the China date, like 2026010122001412345678901234."""
    day = now.astimezone(CHINA).strftime("%Y%m%d")
    return f"{day}22001{secrets.randbelow(10**15):015d}"


def _query(
    state: SandboxState, app: App, biz: BizContent, params: Mapping[str, str]
) -> dict[str, Any]:
    book = state.alipay_trades
    trade = _find(book, app, biz)
    node: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade_status(book, trade, state.clock.now()),
        "total_amount": yuan(trade.total),
        **_buyer(trade),
    }
    if trade.gmt_payment is not None:
        node["buyer_pay_amount"] = yuan(trade.total)
        node["receipt_amount"] = yuan(trade.total)
        node["send_pay_date"] = china_time(trade.gmt_payment)
    return node


def _close(
    state: SandboxState, app: App, biz: BizContent, params: Mapping[str, str]
) -> dict[str, Any]:
    trade = _find(state.alipay_trades, app, biz)
    if trade.gmt_payment is not None:
        raise _failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    trade.status = "TRADE_CLOSED"
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


def _refund(
    state: SandboxState, app: App, biz: BizContent, params: Mapping[str, str]
) -> dict[str, Any]:
    book = state.alipay_trades
    trade = _find(book, app, biz)
    amount = biz.amount("refund_amount")
    if amount == 0:
        raise _invalid("参数无效: refund_amount应大于0")
    # Without a request number the refund is the trade's one full refund (Alipay's default).
    out_request_no = biz.optional_text("out_request_no", 64) or trade.out_trade_no
    reason = biz.optional_text("refund_reason", 256)
    key = (app.appid, trade.out_trade_no, out_request_no)
    existing = book.refunds.get(key)
    if existing is not None:
        if existing.amount != amount:
            raise _failed("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
        return _refund_node(book, trade, existing, fund_change="N")
    if trade.gmt_payment is None:
        raise _failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    if book.refunded(trade) + amount > trade.total:
        raise _failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    refund = AlipayRefund(
        app_id=app.appid,
        out_trade_no=trade.out_trade_no,
        out_request_no=out_request_no,
        amount=amount,
        reason=reason,
        gmt_refund_pay=state.clock.now(),
    )
    book.refunds[key] = refund
    return _refund_node(book, trade, refund, fund_change="Y")


def _refund_node(
    book: AlipayTradeState, trade: AlipayTrade, refund: AlipayRefund, *, fund_change: str
) -> dict[str, Any]:
    """fund_change "Y" when this call moved money, "N" for a repeat; refund_fee is the
    trade's refunds so far."""
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "fund_change": fund_change,
        "refund_fee": yuan(book.refunded(trade)),
        "gmt_refund_pay": china_time(refund.gmt_refund_pay),
        **_buyer(trade),
    }


def _refund_query(
    state: SandboxState, app: App, biz: BizContent, params: Mapping[str, str]
) -> dict[str, Any]:
    book = state.alipay_trades
    trade = _find(book, app, biz)
    out_request_no = biz.text("out_request_no", 64)
    refund = book.refunds.get((app.appid, trade.out_trade_no, out_request_no))
    if refund is None:
        return {}  # Alipay's "no such refund": a bare success, without refund_status
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "out_request_no": refund.out_request_no,
        "total_amount": yuan(trade.total),
        "refund_amount": yuan(refund.amount),
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": china_time(refund.gmt_refund_pay),
    }


_OPERATIONS: Mapping[str, Operation] = {
    CREATE: _create,
    QUERY: _query,
    CLOSE: _close,
    REFUND: _refund,
    REFUND_QUERY: _refund_query,
}
METHODS = frozenset(_OPERATIONS)
