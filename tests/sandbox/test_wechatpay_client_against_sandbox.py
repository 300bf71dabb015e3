"""minibase's WeChat Pay client against the sandbox process over real HTTP, pointed at it by
base URL only: a whole purchase (prepay, wx.requestPayment's paySign, the notification, the
query), a refund settled by the bank, and broken notifications refused by the client."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import AsyncWeChatPayClient, Merchant
from minibase.testing.sandbox import SandboxClient, SandboxProcess
from tests.sandbox.notify_receiver import Receiver

APPID = "wx8888888888888888"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@dataclass
class Shop:
    pay: AsyncWeChatPayClient
    control: SandboxClient
    mchid: str


@pytest.fixture
async def shop(_sandbox_process: SandboxProcess) -> AsyncIterator[Shop]:
    """A merchant registered with the sandbox process; the client trusts its certificate."""
    control = SandboxClient(_sandbox_process.url)
    mchid = f"19{secrets.randbelow(10**8):08d}"
    private_key, public_key = rsa.generate_keypair()
    serial = secrets.token_hex(20).upper()
    api_v3_key = secrets.token_hex(16)
    platform = await control.wechatpay_merchant(mchid, public_key, serial, api_v3_key)
    merchant = Merchant(
        mchid,
        serial_no=serial,
        private_key=private_key,
        api_v3_key=api_v3_key,
        platform_keys={platform["platform_serial"]: platform["platform_certificate"]},
    )
    client = AsyncWeChatPayClient(merchant, base_url=f"{_sandbox_process.url}/wechatpay")
    try:
        yield Shop(client, control, mchid)
    finally:
        await client.aclose()
        await control.aclose()


async def _prepaid(shop: Shop, receiver: Receiver, out_trade_no: str) -> str:
    return await shop.pay.jsapi_prepay(
        appid=APPID,
        description="两杯咖啡",
        out_trade_no=out_trade_no,
        total=1200,
        openid=OPENID,
        notify_url=receiver.url,
    )


async def test_a_whole_purchase_and_a_refund(shop: Shop, receiver: Receiver) -> None:
    prepay_id = await _prepaid(shop, receiver, "order-0001")
    assert (await shop.pay.query_order("order-0001")).trade_state == "NOTPAY"

    params = shop.pay.request_payment(APPID, prepay_id)
    paid = await shop.control.wechatpay_pay(
        shop.mchid, "order-0001", payment={**params, "appid": APPID}
    )
    assert [delivery["status"] for delivery in paid["deliveries"]] == [204]
    note = shop.pay.read_notification(receiver.received[0].headers, receiver.received[0].body)
    assert note.event_type == "TRANSACTION.SUCCESS"
    reported = note.transaction()
    assert (reported.out_trade_no, reported.total, reported.openid, reported.paid) == (
        "order-0001",
        1200,
        OPENID,
        True,
    )
    assert reported.transaction_id == paid["transaction_id"]
    queried = await shop.pay.query_order("order-0001")
    assert (queried.trade_state, queried.transaction_id) == ("SUCCESS", paid["transaction_id"])

    with pytest.raises(PlatformError) as paid_already:
        await shop.pay.close_order("order-0001")
    assert paid_already.value.errcode == "ORDERPAID"

    refund = await shop.pay.create_refund(
        out_trade_no="order-0001",
        out_refund_no="refund-1",
        refund=200,
        total=1200,
        notify_url=receiver.url,
    )
    assert (refund.status, refund.refund) == ("PROCESSING", 200)
    with pytest.raises(PlatformError) as too_much:
        await shop.pay.create_refund(
            out_trade_no="order-0001", out_refund_no="refund-2", refund=1001, total=1200
        )
    assert too_much.value.errcode == "INVALID_REQUEST"
    await shop.control.wechatpay_refund_result(shop.mchid, "refund-1", "SUCCESS")
    settled = shop.pay.read_notification(receiver.received[1].headers, receiver.received[1].body)
    assert (settled.event_type, settled.refund().status) == ("REFUND.SUCCESS", "SUCCESS")
    assert (await shop.pay.query_refund("refund-1")).status == "SUCCESS"


async def test_an_unpaid_order_closes_and_an_unknown_one_is_not_found(
    shop: Shop, receiver: Receiver
) -> None:
    await _prepaid(shop, receiver, "order-0002")
    await shop.pay.close_order("order-0002")
    assert (await shop.pay.query_order("order-0002")).trade_state == "CLOSED"
    with pytest.raises(PlatformError) as missing:
        await shop.pay.query_order("order-9999")
    assert (missing.value.errcode, missing.value.http_status) == ("ORDER_NOT_EXIST", 404)


@pytest.mark.parametrize("broken", ["tamper", "forge", "stale", "unknown_serial"])
async def test_the_client_refuses_a_broken_notification(
    shop: Shop, receiver: Receiver, broken: str
) -> None:
    await _prepaid(shop, receiver, "order-0003")
    await shop.control.wechatpay_pay(shop.mchid, "order-0003", times=0)
    await shop.control.wechatpay_notify(shop.mchid, "order-0003", **{broken: True})
    received = receiver.received[-1]
    with pytest.raises(PlatformError) as refused:
        shop.pay.read_notification(received.headers, received.body)
    expected = "expired_data" if broken == "stale" else "invalid_signature"
    assert refused.value.kind == expected


async def test_a_merchant_key_the_sandbox_does_not_know_is_a_sign_error(
    shop: Shop, receiver: Receiver
) -> None:
    impostor = Merchant(
        shop.mchid,
        serial_no=shop.pay.merchant.serial_no,
        private_key=rsa.generate_keypair()[0],
        api_v3_key=shop.pay.merchant.api_v3_key,
        platform_keys=shop.pay.merchant.platform_keys,
    )
    client = AsyncWeChatPayClient(impostor, base_url=shop.pay.base_url)
    try:
        with pytest.raises(PlatformError) as refused:
            await client.query_order("order-0001")
    finally:
        await client.aclose()
    assert (refused.value.kind, refused.value.errcode) == ("invalid_credentials", "SIGN_ERROR")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("system_busy", "unavailable"),
        ("http_500", "unavailable"),
        ("bad_json", "invalid_signature"),  # an unsigned 200 is never believed
    ],
)
async def test_a_wechat_pay_outage_fails_the_call_and_the_next_one_passes(
    shop: Shop, receiver: Receiver, mode: str, kind: str
) -> None:
    await _prepaid(shop, receiver, "order-0004")
    await shop.control.outage("wechatpay", mode)
    with pytest.raises(PlatformError) as down:
        await shop.pay.query_order("order-0004")
    assert down.value.kind == kind
    assert (await shop.pay.query_order("order-0004")).trade_state == "NOTPAY"
