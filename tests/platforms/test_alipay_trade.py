"""Alipay payments through the client: alipay.trade.create/query/close/refund and refund query
as signed gateway calls with biz_content, amounts in fen both ways, and notifications whose
sign, app and amount are checked."""

from __future__ import annotations

import json

import pytest

from minibase.platforms import PlatformError
from minibase.platforms.alipay import (
    AlipayClient,
    AsyncAlipayClient,
    build_signed_response,
    generate_rsa_keypair,
    sign_params,
    verify_params,
)
from minibase.platforms.alipay.trade import fen, yuan
from tests.platforms.fakes import Driver, FakePlatform

APP_ID = "2021000000000001"
NEW_YEAR_UTC = 1704067200.0


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture(scope="module")
def alipay_keys() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture
def alipay(mode: str, app_keys, alipay_keys) -> Driver:
    def options(http):
        return {
            "gateway": "https://gateway.test/gateway.do",
            "http": http,
            "clock": lambda: NEW_YEAR_UTC,
        }

    return Driver(
        mode,
        lambda http: AlipayClient(APP_ID, app_keys[0], alipay_keys[1], **options(http)),
        lambda http: AsyncAlipayClient(APP_ID, app_keys[0], alipay_keys[1], **options(http)),
    )


def answer(method: str, node: dict, alipay_keys, *, error: bool = False) -> FakePlatform:
    return FakePlatform(text=build_signed_response(method, node, alipay_keys[0], error=error))


@pytest.mark.parametrize(
    ("amount", "text"), [(0, "0.00"), (1, "0.01"), (1230, "12.30"), (100000, "1000.00")]
)
def test_amounts_are_whole_fen_here_and_yuan_strings_there(amount: int, text: str) -> None:
    assert yuan(amount) == text
    assert fen(text) == amount


@pytest.mark.parametrize("bad", ["12.345", "-1.00", "1e3", "", "12.3.4", None])
def test_an_amount_alipay_could_not_have_sent_is_a_bad_response(bad) -> None:
    with pytest.raises(PlatformError) as refused:
        fen(bad)
    assert refused.value.kind == "bad_response"


async def test_a_trade_is_created_with_its_biz_content_and_notify_url_signed(
    alipay, app_keys, alipay_keys
):
    node = {"code": "10000", "msg": "Success", "out_trade_no": "o1", "trade_no": "2024010122001"}
    platform = answer("alipay.trade.create", node, alipay_keys)
    trade_no = await alipay(platform).create_trade(
        out_trade_no="o1",
        total=1230,
        subject="两杯咖啡",
        buyer_open_id="074a1Cc",
        notify_url="https://shop.example.com/api/pay/alipay/notify",
    )
    assert trade_no == "2024010122001"
    query = dict(platform.request.url.params)
    assert query["method"] == "alipay.trade.create"
    assert query["notify_url"] == "https://shop.example.com/api/pay/alipay/notify"
    content = json.loads(platform.sent_form["biz_content"])
    assert content == {
        "out_trade_no": "o1",
        "total_amount": "12.30",
        "subject": "两杯咖啡",
        "product_code": "JSAPI_PAY",
        "op_app_id": APP_ID,
        "buyer_open_id": "074a1Cc",
    }
    assert verify_params({**query, **platform.sent_form}, query["sign"], app_keys[1])


async def test_a_query_reads_the_trade_and_a_missing_one_keeps_alipays_sub_code(
    alipay, alipay_keys
):
    node = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "o1",
        "trade_no": "2024010122001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.30",
        "buyer_open_id": "074a1Cc",
    }
    found = await alipay(answer("alipay.trade.query", node, alipay_keys)).query_trade("o1")
    assert (found.trade_status, found.total, found.paid, found.buyer_open_id) == (
        "TRADE_SUCCESS",
        1230,
        True,
        "074a1Cc",
    )
    missing = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_NOT_EXIST",
        "sub_msg": "交易不存在",
    }
    with pytest.raises(PlatformError) as refused:
        await alipay(answer("alipay.trade.query", missing, alipay_keys)).query_trade("o2")
    assert refused.value.errcode == "ACQ.TRADE_NOT_EXIST"


async def test_close_and_refunds(alipay, alipay_keys):
    closed = {"code": "10000", "msg": "Success", "out_trade_no": "o1", "trade_no": "t1"}
    assert await alipay(answer("alipay.trade.close", closed, alipay_keys)).close_trade("o1") is None
    refunded = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "o1",
        "trade_no": "t1",
        "fund_change": "Y",
        "refund_fee": "3.00",
    }
    platform = answer("alipay.trade.refund", refunded, alipay_keys)
    refund = await alipay(platform).refund_trade(
        out_trade_no="o1", out_request_no="r1", refund=200, reason="缺货"
    )
    assert (refund.trade_refunded, refund.done, refund.out_request_no) == (300, True, "r1")
    assert json.loads(platform.sent_form["biz_content"]) == {
        "out_trade_no": "o1",
        "refund_amount": "2.00",
        "out_request_no": "r1",
        "refund_reason": "缺货",
    }
    queried = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "o1",
        "out_request_no": "r1",
        "refund_amount": "2.00",
        "refund_status": "REFUND_SUCCESS",
    }
    read = await alipay(
        answer("alipay.trade.fastpay.refund.query", queried, alipay_keys)
    ).query_refund(out_trade_no="o1", out_request_no="r1")
    assert (read.amount, read.done) == (200, True)


async def test_a_forged_trade_answer_is_not_believed(alipay, app_keys):
    node = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "o1",
        "trade_no": "t1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.30",
    }
    forged = FakePlatform(text=build_signed_response("alipay.trade.query", node, app_keys[0]))
    with pytest.raises(PlatformError) as refused:
        await alipay(forged).query_trade("o1")
    assert refused.value.kind == "invalid_signature"


def _notification(
    alipay_private_key: str, signed: dict[str, str] | None = None, **changes: str
) -> dict[str, str]:
    params = {
        "notify_type": "trade_status_sync",
        "notify_id": "n1",
        "app_id": APP_ID,
        "out_trade_no": "o1",
        "trade_no": "t1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.30",
        "buyer_open_id": "074a1Cc",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "notify_time": "2024-01-01 08:00:05",
        **(signed or {}),
    }
    params["sign"] = sign_params(params, alipay_private_key, notification=True)
    params.update(changes)
    return params


def test_a_notification_is_read_once_its_sign_and_app_check_out(app_keys, alipay_keys):
    client = AlipayClient(APP_ID, app_keys[0], alipay_keys[1])
    trade = client.read_notification(_notification(alipay_keys[0]))
    assert (trade.out_trade_no, trade.trade_no, trade.total, trade.paid) == ("o1", "t1", 1230, True)
    for params, kind in (
        (_notification(alipay_keys[0], total_amount="0.01"), "invalid_signature"),  # tampered
        (_notification(app_keys[0]), "invalid_signature"),  # signed by someone else
        (
            {k: v for k, v in _notification(alipay_keys[0]).items() if k != "sign"},
            "invalid_signature",
        ),
    ):
        with pytest.raises(PlatformError) as refused:
            client.read_notification(params)
        assert refused.value.kind == kind
    other_app = AlipayClient("2021000000000002", app_keys[0], alipay_keys[1])
    with pytest.raises(PlatformError) as elsewhere:
        other_app.read_notification(_notification(alipay_keys[0]))
    assert elsewhere.value.kind == "invalid_appid"


def test_a_notification_with_an_empty_parameter_is_read_with_it_in_the_signed_text(
    app_keys, alipay_keys
):
    client = AlipayClient(APP_ID, app_keys[0], alipay_keys[1])
    notified = _notification(alipay_keys[0], {"passback_params": ""})
    assert client.read_notification(notified).paid
    dropped = {key: value for key, value in notified.items() if key != "passback_params"}
    with pytest.raises(PlatformError) as refused:
        client.read_notification(dropped)
    assert refused.value.kind == "invalid_signature"


async def test_a_trade_of_a_2088_buyer_reports_the_buyer_user_id(alipay, alipay_keys):
    node = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "o1",
        "trade_no": "t1",
        "trade_status": "WAIT_BUYER_PAY",
        "total_amount": "1.00",
        "buyer_user_id": "2088102150477652",
    }
    found = await alipay(answer("alipay.trade.query", node, alipay_keys)).query_trade("o1")
    assert (found.buyer_open_id, found.paid) == ("2088102150477652", False)
