"""wechatpayv3, the WeChat Pay v3 SDK teams use in Python, against the sandbox over real HTTP,
by its base URL alone: prepay, wx.requestPayment's paySign, the notification through its own
`callback()`, query, close and refunds."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from minibase.platforms import rsa
from minibase.testing.sandbox import SandboxClient
from tests.sandbox.notify_receiver import Receiver

APPID = "wx8888888888888888"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@dataclass
class Shop:
    wxpay: WeChatPay
    mchid: str
    serial: str
    api_v3_key: str
    platform: dict[str, str]


@pytest.fixture
async def shop(sandbox: SandboxClient, receiver: Receiver) -> Shop:
    """A merchant registered with the sandbox; wechatpayv3 trusts the sandbox's WeChat Pay
    public key (the public-key mode WeChat Pay gives new merchants)."""
    mchid = f"19{secrets.randbelow(10**8):08d}"
    private_key, public_key = rsa.generate_keypair()
    serial = secrets.token_hex(20).upper()
    api_v3_key = secrets.token_hex(16)
    platform = await sandbox.wechatpay_merchant(mchid, public_key, serial, api_v3_key)
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=mchid,
        private_key=private_key,
        cert_serial_no=serial,
        appid=APPID,
        apiv3_key=api_v3_key,
        notify_url=receiver.url,
        public_key=platform["platform_public_key"],
        public_key_id=platform["platform_serial"],
    )
    wxpay._core._gate_way = f"{sandbox.url}/wechatpay"  # its base URL; production's by default
    return Shop(wxpay, mchid, serial, api_v3_key, platform)


def prepay(shop: Shop, out_trade_no: str, total: int = 1200) -> str:
    code, message = shop.wxpay.pay(
        description="两杯咖啡",
        out_trade_no=out_trade_no,
        amount={"total": total, "currency": "CNY"},
        payer={"openid": OPENID},
    )
    assert code == 200, message
    return str(json.loads(message)["prepay_id"])


def request_payment(shop: Shop, prepay_id: str) -> dict[str, str]:
    """What the back end hands the mini program for wx.requestPayment, signed by wechatpayv3."""
    timestamp, nonce, package = (
        str(int(time.time())),
        secrets.token_hex(16),
        f"prepay_id={prepay_id}",
    )
    pay_sign = shop.wxpay.sign([APPID, timestamp, nonce, package])
    return {
        "appid": APPID,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }


async def paid(shop: Shop, sandbox: SandboxClient, out_trade_no: str) -> dict[str, Any]:
    """A prepaid order the person pays with wx.requestPayment: the sandbox's answer."""
    prepay_id = prepay(shop, out_trade_no)
    return await sandbox.wechatpay_pay(
        shop.mchid, out_trade_no, payment=request_payment(shop, prepay_id)
    )


def answer(result: tuple[int, str]) -> tuple[int, dict[str, object]]:
    code, message = result
    return code, json.loads(message) if message else {}


async def test_a_purchase_paid_and_notified_through_wechatpayv3(
    shop: Shop, sandbox: SandboxClient, receiver: Receiver
) -> None:
    prepay_id = prepay(shop, "order-0001")
    assert prepay_id.startswith("wx")
    code, order = answer(shop.wxpay.query(out_trade_no="order-0001"))
    assert (code, order["trade_state"]) == (200, "NOTPAY")

    paid = await sandbox.wechatpay_pay(
        shop.mchid, "order-0001", payment=request_payment(shop, prepay_id)
    )
    assert [delivery["status"] for delivery in paid["deliveries"]] == [204]

    [delivered] = receiver.received
    note = shop.wxpay.callback(delivered.headers, delivered.body)
    assert note["event_type"] == "TRANSACTION.SUCCESS"
    resource = note["resource"]
    assert (resource["out_trade_no"], resource["trade_state"]) == ("order-0001", "SUCCESS")
    assert resource["amount"]["total"] == 1200
    assert resource["payer"]["openid"] == OPENID
    code, order = answer(shop.wxpay.query(out_trade_no="order-0001"))
    assert (code, order["trade_state"], order["transaction_id"]) == (
        200,
        "SUCCESS",
        paid["transaction_id"],
    )
    code, by_id = answer(shop.wxpay.query(transaction_id=paid["transaction_id"]))
    assert (code, by_id["out_trade_no"]) == (200, "order-0001")


async def test_wechatpayv3_refuses_a_notification_that_was_not_signed_by_the_platform(
    shop: Shop, sandbox: SandboxClient, receiver: Receiver
) -> None:
    await paid(shop, sandbox, "order-0002")
    await sandbox.wechatpay_notify(shop.mchid, "order-0002", forge=True)
    genuine, forged = receiver.received
    assert shop.wxpay.callback(genuine.headers, genuine.body)
    assert not shop.wxpay.callback(forged.headers, forged.body)


async def test_an_unpaid_order_closes_and_a_paid_one_does_not(
    shop: Shop, sandbox: SandboxClient
) -> None:
    prepay(shop, "order-0003")
    code, message = shop.wxpay.close(out_trade_no="order-0003")
    assert (code, message) == (204, b"")
    assert answer(shop.wxpay.query(out_trade_no="order-0003"))[1]["trade_state"] == "CLOSED"

    await paid(shop, sandbox, "order-0004")
    code, error = answer(shop.wxpay.close(out_trade_no="order-0004"))
    assert (code, error["code"]) == (400, "ORDERPAID")


async def test_a_refund_is_processing_then_settled_and_notified(
    shop: Shop, sandbox: SandboxClient, receiver: Receiver
) -> None:
    await paid(shop, sandbox, "order-0005")

    code, refund = answer(
        shop.wxpay.refund(
            out_refund_no="refund-0005",
            amount={"refund": 200, "total": 1200, "currency": "CNY"},
            out_trade_no="order-0005",
            reason="少了一杯",
        )
    )
    assert (code, refund["status"], refund["amount"]["refund"]) == (200, "PROCESSING", 200)
    code, too_much = answer(
        shop.wxpay.refund(
            out_refund_no="refund-0006",
            amount={"refund": 1001, "total": 1200, "currency": "CNY"},
            out_trade_no="order-0005",
        )
    )
    assert (code, too_much["code"]) == (400, "INVALID_REQUEST")

    await sandbox.wechatpay_refund_result(shop.mchid, "refund-0005", "SUCCESS")
    settled = shop.wxpay.callback(receiver.received[-1].headers, receiver.received[-1].body)
    assert settled["event_type"] == "REFUND.SUCCESS"
    assert settled["resource"]["refund_status"] == "SUCCESS"
    code, queried = answer(shop.wxpay.query_refund("refund-0005"))
    assert (code, queried["status"]) == (200, "SUCCESS")


async def test_a_request_signed_by_another_key_is_wechat_pays_sign_error(
    shop: Shop,
) -> None:
    other_key, _ = rsa.generate_keypair()
    impostor = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=shop.mchid,
        private_key=other_key,
        cert_serial_no=shop.serial,
        appid=APPID,
        apiv3_key=shop.api_v3_key,
        notify_url="https://shop.example.com/notify",
        public_key=shop.platform["platform_public_key"],
        public_key_id=shop.platform["platform_serial"],
    )
    impostor._core._gate_way = shop.wxpay._core._gate_way
    code, error = answer(impostor.query(out_trade_no="order-0001"))
    assert (code, error["code"]) == (401, "SIGN_ERROR")
