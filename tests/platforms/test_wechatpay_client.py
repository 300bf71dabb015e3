"""The WeChat Pay client against a fake WeChat Pay (httpx MockTransport) that checks every
request's signature and signs every answer: what is sent, what is believed, what is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import (
    AsyncWeChatPayClient,
    Merchant,
    WeChatPayClient,
    crypto,
)

MERCHANT_KEYS = rsa.generate_keypair()
PLATFORM_KEYS = rsa.generate_keypair()
OTHER_KEYS = rsa.generate_keypair()
SERIAL = "PUB_KEY_ID_0000000001"
API_V3_KEY = "abcdefghijklmnopqrstuvwxyz012345"
MERCHANT = Merchant(
    mchid="1900000001",
    serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    private_key=MERCHANT_KEYS[0],
    api_v3_key=API_V3_KEY,
    platform_keys={SERIAL: PLATFORM_KEYS[1]},
)
TRANSACTION = {
    "mchid": "1900000001",
    "appid": "wx1",
    "out_trade_no": "o1",
    "transaction_id": "4200000001",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "success_time": "2026-12-01T20:00:00+08:00",
    "payer": {"openid": "oA1"},
    "amount": {"total": 1200, "payer_total": 1200, "currency": "CNY"},
}

Answer = Callable[[httpx.Request], tuple[int, Any]]


class FakeWeChatPay:
    """Checks the merchant's signature over exactly what was sent, then answers, signed."""

    def __init__(
        self,
        answer: Answer,
        *,
        sign_with: str = PLATFORM_KEYS[0],
        signed: bool = True,
        mounted_at: str = "",
    ):
        self.answer = answer
        self.mounted_at = mounted_at  # a path the base URL adds, which is not WeChat Pay's
        self.sign_with = sign_with
        self.signed = signed
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.decode().removeprefix(self.mounted_at)
        crypto.verify_request(
            request.method,
            path,
            request.content,
            request.headers["authorization"],
            MERCHANT_KEYS[1],
        )
        status, body = self.answer(request)
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.signed:
            headers.update(crypto.sign_response(content, self.sign_with, SERIAL))
        return httpx.Response(status, content=content, headers=headers)


def _client(
    fake: FakeWeChatPay, base_url: str = "https://api.mch.weixin.qq.com"
) -> WeChatPayClient:
    return WeChatPayClient(
        MERCHANT, base_url=base_url, http=httpx.Client(transport=httpx.MockTransport(fake))
    )


def test_a_jsapi_order_is_signed_over_its_exact_body_and_gives_the_prepay_id() -> None:
    fake = FakeWeChatPay(lambda request: (200, {"prepay_id": "wx2012345"}))
    prepay_id = _client(fake).jsapi_prepay(
        appid="wx1",
        description="两杯咖啡",
        out_trade_no="o1",
        total=1200,
        openid="oA1",
        notify_url="https://shop.example.com/api/pay/wechat/notify",
    )
    assert prepay_id == "wx2012345"
    sent = fake.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v3/pay/transactions/jsapi")
    assert json.loads(sent.content) == {
        "appid": "wx1",
        "mchid": "1900000001",
        "description": "两杯咖啡",
        "out_trade_no": "o1",
        "notify_url": "https://shop.example.com/api/pay/wechat/notify",
        "amount": {"total": 1200, "currency": "CNY"},
        "payer": {"openid": "oA1"},
    }


def test_the_signed_path_is_the_api_path_below_the_base_url_with_the_query() -> None:
    fake = FakeWeChatPay(lambda request: (200, TRANSACTION), mounted_at="/wechatpay")
    client = _client(fake, base_url="http://127.0.0.1:9000/wechatpay")
    found = client.query_order("o1")
    assert (
        fake.requests[0].url.raw_path
        == b"/wechatpay/v3/pay/transactions/out-trade-no/o1?mchid=1900000001"
    )
    assert (found.trade_state, found.total, found.openid, found.paid) == (
        "SUCCESS",
        1200,
        "oA1",
        True,
    )


@pytest.mark.parametrize(
    ("fake", "kind"),
    [
        (FakeWeChatPay(lambda r: (200, TRANSACTION), signed=False), "invalid_signature"),
        (FakeWeChatPay(lambda r: (200, TRANSACTION), sign_with=OTHER_KEYS[0]), "invalid_signature"),
    ],
    ids=["unsigned", "signed by another key"],
)
def test_an_answer_that_is_not_signed_by_wechat_pay_is_not_believed(
    fake: FakeWeChatPay, kind: str
) -> None:
    with pytest.raises(PlatformError) as refused:
        _client(fake).query_order("o1")
    assert refused.value.kind == kind


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "ORDER_NOT_EXIST", "other"),
        (400, "ORDERPAID", "other"),
        (401, "SIGN_ERROR", "invalid_credentials"),
        (400, "MCH_NOT_EXISTS", "invalid_appid"),
    ],
)
def test_an_error_keeps_wechat_pays_code(status: int, code: str, kind: str) -> None:
    fake = FakeWeChatPay(lambda request: (status, {"code": code, "message": "不行"}))
    with pytest.raises(PlatformError) as refused:
        _client(fake).close_order("o1")
    assert (refused.value.kind, refused.value.errcode, refused.value.http_status) == (
        kind,
        code,
        status,
    )


def test_a_server_error_is_unavailable_and_a_close_is_a_signed_204() -> None:
    failing = FakeWeChatPay(lambda request: (500, {"code": "SYSTEM_ERROR", "message": "busy"}))
    with pytest.raises(PlatformError) as busy:
        _client(failing).close_order("o1")
    assert busy.value.kind == "unavailable"
    closing = FakeWeChatPay(lambda request: (204, None))
    assert _client(closing).close_order("o1") is None
    assert json.loads(closing.requests[0].content) == {"mchid": "1900000001"}
    assert closing.requests[0].url.path == "/v3/pay/transactions/out-trade-no/o1/close"


async def test_the_async_client_creates_and_reads_refunds() -> None:
    refund = {
        "refund_id": "5030000001",
        "out_refund_no": "r1",
        "transaction_id": "4200000001",
        "out_trade_no": "o1",
        "status": "PROCESSING",
        "amount": {"total": 1200, "refund": 200, "payer_total": 1200, "payer_refund": 200},
    }
    fake = FakeWeChatPay(lambda request: (200, refund))
    async with AsyncWeChatPayClient(
        MERCHANT, http=httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ) as client:
        created = await client.create_refund(
            out_trade_no="o1", out_refund_no="r1", refund=200, total=1200, reason="缺货"
        )
        read = await client.query_refund("r1")
    assert (created.status, created.refund, created.total) == ("PROCESSING", 200, 1200)
    assert read.out_refund_no == "r1"
    assert json.loads(fake.requests[0].content)["amount"] == {
        "refund": 200,
        "total": 1200,
        "currency": "CNY",
    }
    assert fake.requests[1].url.path == "/v3/refund/domestic/refunds/r1"


def _notification(
    event: str = "TRANSACTION.SUCCESS", **signing: Any
) -> tuple[dict[str, str], bytes]:
    resource = crypto.encrypt_resource(
        json.dumps(TRANSACTION).encode(), API_V3_KEY, associated_data="transaction"
    )
    body = json.dumps(
        {
            "id": "EV-1",
            "event_type": event,
            "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": resource,
        }
    ).encode()
    return crypto.sign_response(body, PLATFORM_KEYS[0], SERIAL, **signing), body


def test_a_notification_is_verified_then_decrypted() -> None:
    headers, body = _notification()
    note = _client(FakeWeChatPay(lambda r: (200, {}))).read_notification(headers, body)
    assert (note.id, note.event_type, note.original_type) == (
        "EV-1",
        "TRANSACTION.SUCCESS",
        "transaction",
    )
    paid = note.transaction()
    assert (paid.out_trade_no, paid.transaction_id, paid.total) == ("o1", "4200000001", 1200)
    with pytest.raises(PlatformError):
        note.refund()


def test_a_tampered_or_stale_notification_is_refused_before_decryption() -> None:
    client = _client(FakeWeChatPay(lambda r: (200, {})))
    headers, body = _notification()
    with pytest.raises(PlatformError) as tampered:
        client.read_notification(headers, body.replace(b"EV-1", b"EV-2"))
    assert tampered.value.kind == "invalid_signature"
    headers, body = _notification(timestamp=int(time.time()) - 600)
    with pytest.raises(PlatformError) as stale:
        client.read_notification(headers, body)
    assert stale.value.kind == "expired_data"


def test_the_merchants_keys_stay_out_of_its_repr() -> None:
    text = repr(MERCHANT)
    assert "1900000001" in text
    assert API_V3_KEY not in text
    assert "PRIVATE KEY" not in text
