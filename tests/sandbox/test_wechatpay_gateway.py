"""WeChat Pay API v3 in the sandbox: requests signed by the merchant, every answer signed by
the platform key, orders paid and refunds settled through the control API, and notifications
delivered over loopback to a merchant's notify_url, intact or broken on purpose."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from starlette.types import ASGIApp, Receive, Scope, Send

from minibase.clock import Clock, FrozenClock, SystemClock
from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import crypto
from minibase.sandbox import Sandbox, SandboxError
from minibase.testing.sandbox import SandboxClient, SandboxProcess, free_port
from tests.sandbox.notify_receiver import Received, Receiver

MCHID = "1900000001"
APPID = "wx8888888888888888"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
API_V3_KEY = "0123456789abcdef0123456789abcdef"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
JSAPI = "/wechatpay/v3/pay/transactions/jsapi"
REFUNDS = "/wechatpay/v3/refund/domestic/refunds"


def _keypair() -> tuple[RSAPrivateKey, str]:
    """(private key, public PEM): the private key loaded once, as loading a PEM is slow."""
    private_pem, public_pem = rsa.generate_keypair()
    return rsa.load_private_key(private_pem, platform="wechatpay"), public_pem


@pytest.fixture(scope="module")
def merchant_keys() -> tuple[RSAPrivateKey, str]:
    return _keypair()


# -- the merchant's side: signed calls, checked answers ----------------------------------------


@dataclass
class Merchant:
    http: httpx.AsyncClient
    clock: Clock
    private_key: RSAPrivateKey
    platform: dict[str, str]  # the registration's answer
    prefix: str = ""  # where the sandbox is mounted, as the URL has it

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def check_signed(self, headers: Any, body: bytes) -> None:
        """Raises PlatformError unless the platform key signed exactly this body."""
        assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
        keys = {self.platform["platform_serial"]: self.platform["platform_public_key"]}
        crypto.verify_signed(crypto.Signed.from_headers(headers, body), keys, now=self.now())

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timestamp: int | None = None,
        sent: bytes | None = None,
        mchid: str = MCHID,
    ) -> httpx.Response:
        text = "" if body is None else json.dumps(body, ensure_ascii=False)
        header = crypto.authorization(
            method,
            path.removeprefix("/wechatpay"),  # what a client of api.mch.weixin.qq.com signs
            text,
            mchid=mchid,
            serial_no=MERCHANT_SERIAL,
            private_key=self.private_key,
            timestamp=self.now() if timestamp is None else timestamp,
        )
        response = await self.http.request(
            method,
            self.prefix + path,
            content=text.encode() if sent is None else sent,
            headers={"Authorization": header, "Content-Type": "application/json"},
        )
        self.check_signed(response.headers, response.content)
        return response

    async def prepay(self, out_trade_no: str, notify_url: str, **extra: Any) -> str:
        response = await self.call("POST", JSAPI, order_body(out_trade_no, notify_url, **extra))
        assert response.status_code == 200, response.text
        return str(response.json()["prepay_id"])

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        path = f"/wechatpay/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={MCHID}"
        response = await self.call("GET", path)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def close(self, out_trade_no: str) -> httpx.Response:
        path = f"/wechatpay/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
        return await self.call("POST", path, {"mchid": MCHID})

    async def refund(
        self, out_trade_no: str, out_refund_no: str, refund: int, total: int = 100, **extra: Any
    ) -> httpx.Response:
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": refund, "total": total, "currency": "CNY"},
            **extra,
        }
        return await self.call("POST", REFUNDS, body)

    def open(self, received: Received) -> tuple[dict[str, Any], dict[str, Any]]:
        """A notification, checked and decrypted: (its envelope, its resource's plaintext)."""
        self.check_signed(received.headers, received.body)
        notification = json.loads(received.body)
        plaintext = json.loads(crypto.decrypt_resource(notification["resource"], API_V3_KEY))
        return notification, plaintext


def order_body(out_trade_no: str, notify_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "appid": APPID,
        "mchid": MCHID,
        "description": "小程序-会员月卡",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": OPENID},
        **extra,
    }


@pytest.fixture
async def merchant(
    client: httpx.AsyncClient, clock: FrozenClock, merchant_keys: tuple[RSAPrivateKey, str]
) -> Merchant:
    registered = await client.post(
        "/control/wechatpay/merchants",
        json={
            "mchid": MCHID,
            "merchant_public_key": merchant_keys[1],
            "merchant_serial": MERCHANT_SERIAL,
            "api_v3_key": API_V3_KEY,
        },
    )
    assert registered.status_code == 201, registered.text
    return Merchant(client, clock, merchant_keys[0], registered.json())


def payment(merchant: Merchant, prepay_id: str) -> dict[str, str]:
    """What the mini program passes to wx.requestPayment, signed by the merchant."""
    params = crypto.request_payment_params(
        APPID, prepay_id, merchant.private_key, timestamp=merchant.now()
    )
    return {**params, "appid": APPID}


async def pay(
    client: httpx.AsyncClient, out_trade_no: str, **extra: Any
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/control/wechatpay/pay", json={"mchid": MCHID, "out_trade_no": out_trade_no, **extra}
    )
    answer: dict[str, Any] = response.json()
    return response.status_code, answer


# -- prepay and query ------------------------------------------------------------------------


async def test_a_jsapi_prepay_answers_a_signed_prepay_id_and_the_order_reads_notpay(
    merchant: Merchant, receiver: Receiver, sandbox: Sandbox
) -> None:
    prepay_id = await merchant.prepay("order-0001", receiver.url, attach="cart=7")

    order = await merchant.order("order-0001")

    assert prepay_id.startswith("wx20260101080000")
    assert order["trade_state"] == "NOTPAY"
    assert order["trade_type"] == "JSAPI"
    assert (order["appid"], order["mchid"], order["attach"]) == (APPID, MCHID, "cart=7")
    assert order["payer"] == {"openid": OPENID}
    assert order["amount"]["total"] == 100
    assert "transaction_id" not in order
    assert "success_time" not in order
    assert sandbox.calls()["wechatpay"] == {
        "/v3/pay/transactions/jsapi": 1,
        "/v3/pay/transactions/out-trade-no/{out_trade_no}": 1,
    }


async def test_answers_also_verify_with_the_platform_certificate(
    merchant: Merchant, receiver: Receiver
) -> None:
    certificate = x509.load_pem_x509_certificate(merchant.platform["platform_certificate"].encode())
    public_pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_pem.decode() == merchant.platform["platform_public_key"]
    assert merchant.platform["platform_serial"].startswith("PUB_KEY_ID_")

    response = await merchant.call("POST", JSAPI, order_body("order-0001", receiver.url))

    signed = crypto.Signed.from_headers(response.headers, response.content)
    keys = {merchant.platform["platform_serial"]: merchant.platform["platform_certificate"]}
    crypto.verify_signed(signed, keys, now=merchant.now())


async def test_the_same_out_trade_no_again_gives_the_same_prepay_id_unless_it_changed(
    merchant: Merchant, receiver: Receiver
) -> None:
    first = await merchant.prepay("order-0001", receiver.url)
    again = await merchant.prepay("order-0001", receiver.url)

    changed = await merchant.call(
        "POST", JSAPI, order_body("order-0001", receiver.url, amount={"total": 99})
    )

    assert again == first
    assert changed.status_code == 400
    assert changed.json()["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "change",
    [
        {"description": None},
        {"out_trade_no": "abc"},
        {"notify_url": "ftp://example.com/n"},
        {"amount": {"total": 0}},
        {"amount": {"total": "100"}},
        {"amount": {"total": 100, "currency": "USD"}},
        {"payer": {}},
        {"time_expire": "2026-01-01 10:00"},
        {"mchid": "1900000002"},
    ],
)
async def test_a_prepay_with_a_missing_or_bad_field_is_a_param_error(
    merchant: Merchant, receiver: Receiver, change: dict[str, Any]
) -> None:
    body = {
        key: value
        for key, value in {**order_body("order-0001", receiver.url), **change}.items()
        if value is not None
    }
    response = await merchant.call("POST", JSAPI, body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"
    assert response.json()["message"]


async def test_a_body_that_is_not_json_is_a_param_error(merchant: Merchant) -> None:
    response = await merchant.call("POST", JSAPI, sent=b"", body=None)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_an_unknown_order_is_order_not_exist(merchant: Merchant) -> None:
    path = f"/wechatpay/v3/pay/transactions/out-trade-no/order-none?mchid={MCHID}"
    response = await merchant.call("GET", path)
    assert response.status_code == 404
    assert response.json()["code"] == "ORDER_NOT_EXIST"


# -- signatures on requests --------------------------------------------------------------------


async def test_a_request_whose_body_changed_after_signing_is_a_sign_error(
    merchant: Merchant, receiver: Receiver
) -> None:
    body = order_body("order-0001", receiver.url)
    tampered = json.dumps({**body, "amount": {"total": 1}}).encode()

    response = await merchant.call("POST", JSAPI, body, sent=tampered)

    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"
    assert (await merchant.call("POST", JSAPI, body)).status_code == 200


async def test_a_request_signed_six_minutes_ago_is_a_sign_error(
    merchant: Merchant, receiver: Receiver
) -> None:
    body = order_body("order-0001", receiver.url)
    stale = await merchant.call("POST", JSAPI, body, timestamp=merchant.now() - 360)
    fresh = await merchant.call("POST", JSAPI, body, timestamp=merchant.now() - 240)
    assert stale.status_code == 401
    assert stale.json()["code"] == "SIGN_ERROR"
    assert fresh.status_code == 200


async def test_an_unsigned_request_or_one_signed_by_another_key_is_a_sign_error(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    body = json.dumps(order_body("order-0001", receiver.url))
    unsigned = await client.post(JSAPI, content=body)
    stranger = Merchant(client, merchant.clock, _keypair()[0], merchant.platform)
    forged = await stranger.call("POST", JSAPI, order_body("order-0001", receiver.url))

    merchant.check_signed(unsigned.headers, unsigned.content)
    for response in (unsigned, forged):
        assert response.status_code == 401
        assert response.json()["code"] == "SIGN_ERROR"


async def test_a_request_naming_another_merchant_serial_is_a_sign_error(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    text = json.dumps(order_body("order-0001", receiver.url))
    header = crypto.authorization(
        "POST",
        JSAPI,
        text,
        mchid=MCHID,
        serial_no="0000000000000000000000000000000000000000",
        private_key=merchant.private_key,
        timestamp=merchant.now(),
    )
    response = await client.post(JSAPI, content=text, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"


async def test_the_signed_path_is_the_url_as_sent_with_its_percent_escapes(
    merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order|0001", receiver.url)
    path = f"/wechatpay/v3/pay/transactions/out-trade-no/order%7C0001?mchid={MCHID}"

    response = await merchant.call("GET", path)

    assert response.status_code == 200, response.text
    assert response.json()["out_trade_no"] == "order|0001"


async def test_an_unknown_mchid_is_mch_not_exists(merchant: Merchant, receiver: Receiver) -> None:
    body = order_body("order-0001", receiver.url, mchid="1900000009")
    response = await merchant.call("POST", JSAPI, body, mchid="1900000009")
    assert response.status_code == 400
    assert response.json()["code"] == "MCH_NOT_EXISTS"


def _under_the_servers_router(sandbox: Sandbox) -> ASGIApp:
    """Mounted as `minibase serve --dev` mounts it: the prefix moves from path to root_path."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        inner = {**scope, "path": path.removeprefix("/sandbox"), "root_path": "/sandbox"}
        await sandbox(inner, receive, send)

    return app


@pytest.mark.parametrize("mount", ["httpx root_path", "server router"])
async def test_the_signed_path_is_the_path_below_wechatpay_wherever_the_sandbox_is_mounted(
    sandbox: Sandbox,
    clock: FrozenClock,
    merchant_keys: tuple[RSAPrivateKey, str],
    receiver: Receiver,
    mount: str,
) -> None:
    registered = sandbox.wechatpay.register_merchant(
        MCHID, merchant_keys[1], MERCHANT_SERIAL, API_V3_KEY
    )
    if mount == "server router":
        transport = httpx.ASGITransport(app=_under_the_servers_router(sandbox))
    else:
        transport = httpx.ASGITransport(app=sandbox, root_path="/sandbox")
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as http:
        mounted = Merchant(http, clock, merchant_keys[0], registered, prefix="/sandbox")
        assert await mounted.prepay("order-0001", receiver.url)

        text = json.dumps(order_body("order-0001", receiver.url))
        header = crypto.authorization(
            "POST",
            "/sandbox" + JSAPI,  # the whole URL path, which WeChat Pay never sees
            text,
            mchid=MCHID,
            serial_no=MERCHANT_SERIAL,
            private_key=merchant_keys[0],
            timestamp=mounted.now(),
        )
        response = await http.post(
            "/sandbox" + JSAPI, content=text, headers={"Authorization": header}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "SIGN_ERROR"


async def test_registering_a_merchant_again_replaces_its_key_and_the_platform_key_stays(
    client: httpx.AsyncClient, sandbox: Sandbox, merchant: Merchant, receiver: Receiver
) -> None:
    new_private, new_public = _keypair()
    again = sandbox.wechatpay.register_merchant(MCHID, new_public, MERCHANT_SERIAL, API_V3_KEY)
    other = sandbox.wechatpay.register_merchant("1900000002", new_public, "S2", API_V3_KEY)

    old_key = await merchant.call("POST", JSAPI, order_body("order-0001", receiver.url))
    renewed = Merchant(client, merchant.clock, new_private, again)
    new_key = await renewed.call("POST", JSAPI, order_body("order-0001", receiver.url))

    assert old_key.status_code == 401
    assert new_key.status_code == 200
    assert again["platform_public_key"] == other["platform_public_key"]
    assert again["platform_serial"] == merchant.platform["platform_serial"]


async def test_reset_forgets_merchants_and_orders_but_keeps_the_platform_key(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    merchant: Merchant,
    receiver: Receiver,
    merchant_keys: tuple[RSAPrivateKey, str],
) -> None:
    await merchant.prepay("order-0001", receiver.url)
    path = f"/wechatpay/v3/pay/transactions/out-trade-no/order-0001?mchid={MCHID}"

    assert (await client.post("/control/reset")).json() == {"reset": True}
    forgotten = await merchant.call("GET", path)
    again = sandbox.wechatpay.register_merchant(
        MCHID, merchant_keys[1], MERCHANT_SERIAL, API_V3_KEY
    )

    assert forgotten.json()["code"] == "MCH_NOT_EXISTS"
    assert again["platform_serial"] == merchant.platform["platform_serial"]
    assert (await merchant.call("GET", path)).json()["code"] == "ORDER_NOT_EXIST"


# -- paying, and the TRANSACTION.SUCCESS notification ---------------------------------------


async def test_paying_with_a_real_pay_sign_marks_the_order_paid_and_notifies_the_merchant(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    prepay_id = await merchant.prepay("order-0001", receiver.url)

    status, answer = await pay(client, "order-0001", payment=payment(merchant, prepay_id))
    order = await merchant.order("order-0001")

    assert status == 200, answer
    assert answer["deliveries"] == [{"status": 204, "body": ""}]
    assert order["trade_state"] == "SUCCESS"
    assert order["transaction_id"] == answer["transaction_id"]
    assert len(order["transaction_id"]) == 28
    assert order["success_time"] == "2026-01-01T08:00:00+08:00"
    assert order["bank_type"] == "OTHERS"
    assert order["amount"]["payer_total"] == 100
    [received] = receiver.received
    assert received.headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert received.headers["Content-Type"] == "application/json"
    notification, plaintext = merchant.open(received)
    assert notification["id"] == answer["notification_id"]
    assert notification["id"].startswith("EV-")
    assert notification["event_type"] == "TRANSACTION.SUCCESS"
    assert notification["resource_type"] == "encrypt-resource"
    assert notification["summary"] == "支付成功"
    assert notification["resource"]["original_type"] == "transaction"
    assert notification["resource"]["associated_data"] == "transaction"
    assert plaintext == order


async def test_a_pay_sign_by_another_key_or_for_another_order_is_refused(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    first = await merchant.prepay("order-0001", receiver.url)
    second = await merchant.prepay("order-0002", receiver.url)
    stranger = Merchant(client, merchant.clock, _keypair()[0], merchant.platform)

    forged = await pay(client, "order-0001", payment=payment(stranger, first))
    other_order = await pay(client, "order-0001", payment=payment(merchant, second))

    for status, answer in (forged, other_order):
        assert status == 400
        assert answer["code"] == "sandbox.invalid_payment"
    assert (await merchant.order("order-0001"))["trade_state"] == "NOTPAY"
    assert receiver.received == []


async def test_a_paid_closed_or_expired_order_cannot_be_paid(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver, clock: FrozenClock
) -> None:
    await merchant.prepay("order-paid", receiver.url)
    await pay(client, "order-paid", notify={"times": 0})
    await merchant.prepay("order-closed", receiver.url)
    await merchant.close("order-closed")
    await merchant.prepay("order-late", receiver.url, time_expire="2026-01-01T08:15:00+08:00")
    clock.advance(minutes=15)

    refusals = [await pay(client, no) for no in ("order-paid", "order-closed", "order-late")]

    assert [status for status, _ in refusals] == [409, 409, 409]
    assert {answer["code"] for _, answer in refusals} == {"sandbox.not_payable"}
    assert (await merchant.order("order-late"))["trade_state"] == "NOTPAY"
    assert receiver.received == []


async def test_the_pay_control_refuses_unknown_merchants_and_orders(
    client: httpx.AsyncClient, merchant: Merchant
) -> None:
    unknown_order = await pay(client, "order-none")
    unknown_merchant = await client.post(
        "/control/wechatpay/pay", json={"mchid": "1", "out_trade_no": "order-none"}
    )
    assert unknown_order[0] == 404
    assert unknown_order[1]["code"] == "sandbox.unknown_order"
    assert unknown_merchant.status_code == 404
    assert unknown_merchant.json()["code"] == "sandbox.unknown_merchant"


# -- closing ---------------------------------------------------------------------------------


async def test_closing_answers_a_signed_204_twice_and_a_closed_order_cannot_prepay_again(
    merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0001", receiver.url)

    closed = await merchant.close("order-0001")
    again = await merchant.close("order-0001")
    reopened = await merchant.call("POST", JSAPI, order_body("order-0001", receiver.url))

    assert (closed.status_code, closed.content) == (204, b"")
    assert "Wechatpay-Signature" in closed.headers  # and merchant.call checked it
    assert again.status_code == 204
    assert (await merchant.order("order-0001"))["trade_state"] == "CLOSED"
    assert reopened.status_code == 400
    assert reopened.json()["code"] == "ORDER_CLOSED"


async def test_a_paid_order_cannot_be_closed_nor_prepaid_again(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0002", receiver.url)
    await pay(client, "order-0002")

    closing = await merchant.close("order-0002")
    reordered = await merchant.call("POST", JSAPI, order_body("order-0002", receiver.url))
    unknown = await merchant.close("order-none")

    assert closing.status_code == 400
    assert closing.json()["code"] == "ORDERPAID"
    assert reordered.json()["code"] == "ORDERPAID"
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "ORDER_NOT_EXIST"
    assert (await merchant.order("order-0002"))["trade_state"] == "SUCCESS"


# -- refunds ---------------------------------------------------------------------------------


@pytest.fixture
async def paid(client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver) -> str:
    """order-0001, 100 fen, paid; its transaction_id."""
    await merchant.prepay("order-0001", receiver.url)
    status, answer = await pay(client, "order-0001", notify={"times": 0})
    assert status == 200
    return str(answer["transaction_id"])


async def test_partial_refunds_add_up_to_the_total_and_no_further(
    merchant: Merchant, paid: str
) -> None:
    first = await merchant.refund("order-0001", "refund-1", 30, reason="缺货")
    after_first = await merchant.order("order-0001")
    second = await merchant.refund("order-0001", "refund-2", 70)
    over = await merchant.refund("order-0001", "refund-3", 1)
    after_all = await merchant.order("order-0001")

    assert first.status_code == 200, first.text
    refund = first.json()
    assert refund["status"] == "PROCESSING"
    assert (refund["out_trade_no"], refund["transaction_id"]) == ("order-0001", paid)
    assert refund["channel"] == "ORIGINAL"
    assert refund["user_received_account"] == "支付用户零钱"
    assert refund["create_time"] == "2026-01-01T08:00:00+08:00"
    assert refund["amount"] == {
        "total": 100,
        "refund": 30,
        "payer_total": 100,
        "payer_refund": 30,
        "currency": "CNY",
    }
    assert after_first["trade_state"] == "SUCCESS"
    assert second.status_code == 200
    assert over.status_code == 400
    assert over.json() == {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"}
    assert after_all["trade_state"] == "REFUND"


async def test_a_closed_refund_frees_its_amount_again(
    client: httpx.AsyncClient, merchant: Merchant, paid: str
) -> None:
    await merchant.refund("order-0001", "refund-1", 100)
    result = await client.post(
        "/control/wechatpay/refund-result",
        json={"mchid": MCHID, "out_refund_no": "refund-1", "status": "CLOSED"},
    )
    assert result.json()["deliveries"] == []  # the refund had no notify_url
    assert (await merchant.order("order-0001"))["trade_state"] == "SUCCESS"
    assert (await merchant.refund("order-0001", "refund-2", 100)).status_code == 200


async def test_the_same_out_refund_no_again_is_the_same_refund_unless_the_amount_differs(
    merchant: Merchant, paid: str
) -> None:
    first = await merchant.refund("order-0001", "refund-1", 60)
    again = await merchant.refund("order-0001", "refund-1", 60)
    changed = await merchant.refund("order-0001", "refund-1", 50)
    rest = await merchant.refund("order-0001", "refund-2", 40)

    assert again.json() == first.json()
    assert changed.status_code == 400
    assert changed.json()["code"] == "INVALID_REQUEST"
    assert rest.status_code == 200  # the repeat did not count twice


async def test_refunds_of_unpaid_orders_or_with_the_wrong_total_are_refused(
    merchant: Merchant, receiver: Receiver, paid: str
) -> None:
    await merchant.prepay("order-0002", receiver.url)

    unpaid = await merchant.refund("order-0002", "refund-1", 10)
    wrong_total = await merchant.refund("order-0001", "refund-2", 10, total=99)
    by_transaction = await merchant.call(
        "POST",
        REFUNDS,
        {
            "transaction_id": paid,
            "out_refund_no": "refund-3",
            "amount": {"refund": 10, "total": 100, "currency": "CNY"},
        },
    )

    assert unpaid.status_code == 400
    assert unpaid.json()["code"] == "INVALID_REQUEST"
    assert wrong_total.status_code == 400
    assert wrong_total.json()["code"] == "PARAM_ERROR"
    assert by_transaction.status_code == 200
    assert by_transaction.json()["out_trade_no"] == "order-0001"


async def test_a_refund_result_success_delivers_refund_success_and_the_query_shows_it(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver, paid: str
) -> None:
    created = (await merchant.refund("order-0001", "refund-1", 100, notify_url=receiver.url)).json()

    result = await client.post(
        "/control/wechatpay/refund-result",
        json={"mchid": MCHID, "out_refund_no": "refund-1", "status": "SUCCESS"},
    )
    queried = await merchant.call("GET", "/wechatpay/v3/refund/domestic/refunds/refund-1")
    unknown = await merchant.call("GET", "/wechatpay/v3/refund/domestic/refunds/refund-9")

    assert result.status_code == 200, result.text
    assert [d["status"] for d in result.json()["deliveries"]] == [204]
    [received] = receiver.received
    notification, plaintext = merchant.open(received)
    assert notification["event_type"] == "REFUND.SUCCESS"
    assert notification["summary"] == "退款成功"
    assert notification["resource"]["original_type"] == "refund"
    assert plaintext == {
        "mchid": MCHID,
        "out_trade_no": "order-0001",
        "transaction_id": paid,
        "out_refund_no": "refund-1",
        "refund_id": created["refund_id"],
        "refund_status": "SUCCESS",
        "success_time": "2026-01-01T08:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100},
    }
    assert queried.json()["status"] == "SUCCESS"
    assert queried.json()["success_time"] == "2026-01-01T08:00:00+08:00"
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "RESOURCE_NOT_EXISTS"
    assert (await merchant.order("order-0001"))["trade_state"] == "REFUND"


async def test_a_settled_refund_takes_no_second_result(
    sandbox: Sandbox, merchant: Merchant, paid: str
) -> None:
    await merchant.refund("order-0001", "refund-1", 10)
    await sandbox.wechatpay.refund_result(MCHID, "refund-1", "ABNORMAL")
    await sandbox.wechatpay.refund_result(MCHID, "refund-1", "SUCCESS")  # retried, then paid
    with pytest.raises(SandboxError) as refused:
        await sandbox.wechatpay.refund_result(MCHID, "refund-1", "CLOSED")
    assert (refused.value.code, refused.value.status) == ("sandbox.refund_settled", 409)


# -- deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("tamper", "invalid_signature"),
        ("forge", "invalid_signature"),
        ("stale", "expired_data"),
        ("unknown_serial", "invalid_signature"),
    ],
)
async def test_a_broken_delivery_is_refused_by_the_receivers_check(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver, option: str, kind: str
) -> None:
    await merchant.prepay("order-0001", receiver.url)

    await pay(client, "order-0001", notify={option: True})
    await client.post(
        "/control/wechatpay/notify", json={"mchid": MCHID, "out_trade_no": "order-0001"}
    )

    broken, intact = receiver.received
    with pytest.raises(PlatformError) as refused:
        merchant.open(broken)
    assert refused.value.kind == kind
    assert merchant.open(intact)[0]["event_type"] == "TRANSACTION.SUCCESS"


async def test_times_three_delivers_three_copies_of_one_notification(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0001", receiver.url)

    status, answer = await pay(client, "order-0001", notify={"times": 3})

    assert status == 200
    assert len(answer["deliveries"]) == 3
    opened = [merchant.open(received)[0] for received in receiver.received]
    assert [n["id"] for n in opened] == [answer["notification_id"]] * 3
    assert len({r.headers["Wechatpay-Nonce"] for r in receiver.received}) == 3  # signed afresh


async def test_concurrent_copies_arrive_together_round_after_round(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0001", receiver.url)
    await pay(client, "order-0001", notify={"times": 0})

    answer = await client.post(
        "/control/wechatpay/notify",
        json={"mchid": MCHID, "out_trade_no": "order-0001", "times": 2, "concurrent": 3},
    )

    assert [d["status"] for d in answer.json()["deliveries"]] == [204] * 6
    assert len(receiver.received) == 6


async def test_a_late_notification_is_the_same_event_and_changes_nothing(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0001", receiver.url)
    _, paid = await pay(client, "order-0001", notify={"times": 0})
    await merchant.refund("order-0001", "refund-1", 100)
    before = await merchant.order("order-0001")

    late = await client.post(
        "/control/wechatpay/notify", json={"mchid": MCHID, "out_trade_no": "order-0001"}
    )

    assert late.json()["notification_id"] == paid["notification_id"]
    notification, plaintext = merchant.open(receiver.received[0])
    assert notification["id"] == paid["notification_id"]
    assert plaintext["trade_state"] == "SUCCESS"  # as it was when paid
    assert await merchant.order("order-0001") == before
    assert before["trade_state"] == "REFUND"


async def test_notifying_an_unpaid_order_or_an_unsettled_refund_is_a_409(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver, paid: str
) -> None:
    await merchant.prepay("order-0002", receiver.url)
    await merchant.refund("order-0001", "refund-1", 10, notify_url=receiver.url)

    unpaid = await client.post(
        "/control/wechatpay/notify", json={"mchid": MCHID, "out_trade_no": "order-0002"}
    )
    unsettled = await client.post(
        "/control/wechatpay/notify",
        json={"mchid": MCHID, "out_trade_no": "order-0001", "out_refund_no": "refund-1"},
    )

    assert (unpaid.status_code, unsettled.status_code) == (409, 409)
    assert unpaid.json()["code"] == "sandbox.nothing_to_notify"
    assert receiver.received == []


async def test_a_merchant_that_does_not_answer_is_recorded_as_unreachable_or_failing(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver
) -> None:
    await merchant.prepay("order-0001", f"http://127.0.0.1:{free_port()}/pay/notify")
    await merchant.prepay("order-0002", receiver.url)
    receiver.status = 500

    _, unreachable = await pay(client, "order-0001")
    _, failing = await pay(client, "order-0002")

    [nobody] = unreachable["deliveries"]
    assert nobody["status"] is None
    assert nobody["body"]
    assert failing["deliveries"] == [{"status": 500, "body": ""}]


@pytest.mark.parametrize(
    "options",
    [{"times": -1}, {"times": "3"}, {"concurrent": 0}, {"tamper": 1}, {"times": 1000}],
)
async def test_bad_delivery_options_are_a_400(
    client: httpx.AsyncClient, merchant: Merchant, receiver: Receiver, options: dict[str, Any]
) -> None:
    await merchant.prepay("order-0001", receiver.url)
    status, answer = await pay(client, "order-0001", notify=options)
    assert status == 400
    assert answer["code"] == "sandbox.invalid_request"
    assert (await merchant.order("order-0001"))["trade_state"] == "NOTPAY"


async def test_registering_a_merchant_checks_its_keys(client: httpx.AsyncClient) -> None:
    good = {"mchid": MCHID, "merchant_public_key": rsa.generate_keypair()[1]}
    good |= {"merchant_serial": "S", "api_v3_key": API_V3_KEY}
    for change in ({"merchant_public_key": "nope"}, {"api_v3_key": "short"}, {"mchid": ""}):
        response = await client.post("/control/wechatpay/merchants", json={**good, **change})
        assert response.status_code == 400
        assert response.json()["code"] == "sandbox.invalid_request"


# -- over a real socket: the standalone sandbox and the SandboxClient ----------------------------


@pytest.fixture(scope="module")
def standalone() -> Iterator[SandboxProcess]:
    process = SandboxProcess()
    yield process
    process.stop()


async def test_a_payment_works_against_the_standalone_sandbox_over_a_socket(
    standalone: SandboxProcess, merchant_keys: tuple[RSAPrivateKey, str], receiver: Receiver
) -> None:
    control = SandboxClient(standalone.url)
    await control.reset()
    platform = await control.wechatpay_merchant(
        MCHID, merchant_keys[1], MERCHANT_SERIAL, API_V3_KEY
    )
    async with httpx.AsyncClient(base_url=standalone.url, timeout=5) as http:
        live = Merchant(http, SystemClock(), merchant_keys[0], platform)
        prepay_id = await live.prepay("order-0001", receiver.url)

        paid = await control.wechatpay_pay(MCHID, "order-0001", payment(live, prepay_id))
        repeated = await control.wechatpay_notify(MCHID, "order-0001", times=2)
        await live.refund("order-0001", "refund-1", 100, notify_url=receiver.url)
        settled = await control.wechatpay_refund_result(MCHID, "refund-1", "SUCCESS")
        order = await live.order("order-0001")
    await control.aclose()

    assert order["trade_state"] == "REFUND"
    assert [d["status"] for d in paid["deliveries"] + repeated["deliveries"]] == [204] * 3
    assert [d["status"] for d in settled["deliveries"]] == [204]
    events = [live.open(received)[0]["event_type"] for received in receiver.received]
    assert events == ["TRANSACTION.SUCCESS"] * 3 + ["REFUND.SUCCESS"]


async def test_a_wrong_method_on_a_templated_path_is_a_405(client: httpx.AsyncClient) -> None:
    wrong = await client.get("/wechatpay/v3/pay/transactions/out-trade-no/order-0001/close")
    unknown = await client.get("/wechatpay/v3/pay/transactions/out-trade-no/order-0001/x")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "sandbox.method_not_allowed"
    assert unknown.status_code == 404
