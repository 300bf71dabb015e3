"""python-alipay-sdk and Alipay's official Python SDK (alipay-sdk-python) against the sandbox
over real HTTP, by their gateway URL alone: create, query, close and refund a mini program
trade, and verify the payment notification the way each SDK's users do."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from alipay import AliPay
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayTradeCloseRequest import AlipayTradeCloseRequest
from alipay.aop.api.request.AlipayTradeCreateRequest import AlipayTradeCreateRequest
from alipay.aop.api.request.AlipayTradeFastpayRefundQueryRequest import (
    AlipayTradeFastpayRefundQueryRequest,
)
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from cryptography.hazmat.primitives import serialization

from minibase.platforms.alipay import generate_rsa_keypair
from minibase.testing.sandbox import SandboxClient, SandboxProcess
from tests.sandbox.notify_receiver import Receiver

APPID = "2021000000000001"


@dataclass
class AlipayApp:
    appid: str
    private_key: str  # PEM
    alipay_public_key: str  # PEM
    buyer_id: str  # the person who pays (2088...)


async def registered(sandbox: SandboxClient) -> AlipayApp:
    appid = f"2021{secrets.randbelow(10**12):012d}"
    private_key, public_key = generate_rsa_keypair()
    answer = await sandbox.register_app("alipay", appid, app_public_key=public_key)
    buyer = await sandbox.login_code("alipay", appid, "alice")
    return AlipayApp(appid, private_key, answer["alipay_public_key"], buyer["user_id"])


def notification(receiver: Receiver) -> dict[str, str]:
    """The last form the sandbox POSTed to notify_url, as a web framework parses it."""
    return dict(parse_qsl(receiver.received[-1].body.decode(), keep_blank_values=True))


# -- python-alipay-sdk ------------------------------------------------------------------------


@pytest.fixture
async def shop(sandbox: SandboxClient, receiver: Receiver) -> tuple[AliPay, AlipayApp]:
    app = await registered(sandbox)
    alipay = AliPay(
        appid=app.appid,
        app_notify_url=receiver.url,
        app_private_key_string=app.private_key,
        alipay_public_key_string=app.alipay_public_key,
        sign_type="RSA2",
    )
    alipay._gateway = f"{sandbox.url}/alipay/gateway.do"  # its base URL; production's by default
    return alipay, app


@pytest.mark.parametrize("passback_params", [None, "", "order%3D1"])
async def test_python_alipay_sdk_pays_a_trade_and_verifies_its_notification(
    shop: tuple[AliPay, AlipayApp],
    sandbox: SandboxClient,
    receiver: Receiver,
    passback_params: str | None,
) -> None:
    alipay, app = shop
    extra = {} if passback_params is None else {"passback_params": passback_params}
    created = alipay.api_alipay_trade_create(
        "两杯咖啡", "order_0001", "12.00", buyer_id=app.buyer_id, product_code="JSAPI_PAY", **extra
    )
    assert (created["code"], created.get("out_trade_no")) == ("10000", "order_0001"), created
    waiting = alipay.api_alipay_trade_query(out_trade_no="order_0001")
    assert waiting["trade_status"] == "WAIT_BUYER_PAY"

    await sandbox.alipay_pay(app.appid, "order_0001")

    data = notification(receiver)
    assert data.get("passback_params") == passback_params
    signature = data.pop("sign")
    assert alipay.verify(data, signature)
    assert (data["trade_status"], data["total_amount"]) == ("TRADE_SUCCESS", "12.00")
    paid = alipay.api_alipay_trade_query(trade_no=created["trade_no"])
    assert (paid["trade_status"], paid["out_trade_no"]) == ("TRADE_SUCCESS", "order_0001")


async def test_python_alipay_sdk_refuses_a_forged_notification(
    shop: tuple[AliPay, AlipayApp], sandbox: SandboxClient, receiver: Receiver
) -> None:
    alipay, app = shop
    alipay.api_alipay_trade_create(
        "两杯咖啡", "order_0002", "12.00", buyer_id=app.buyer_id, product_code="JSAPI_PAY"
    )
    await sandbox.alipay_pay(app.appid, "order_0002", forge=True)
    data = notification(receiver)
    assert not alipay.verify(data, data.pop("sign"))


async def test_python_alipay_sdk_closes_an_unpaid_trade_and_refunds_a_paid_one(
    shop: tuple[AliPay, AlipayApp], sandbox: SandboxClient
) -> None:
    alipay, app = shop
    for out_trade_no in ("order_0003", "order_0004"):
        alipay.api_alipay_trade_create(
            "两杯咖啡", out_trade_no, "12.00", buyer_id=app.buyer_id, product_code="JSAPI_PAY"
        )
    closed = alipay.api_alipay_trade_close(out_trade_no="order_0003")
    assert closed["code"] == "10000"
    assert alipay.api_alipay_trade_query(out_trade_no="order_0003")["trade_status"] == (
        "TRADE_CLOSED"
    )

    await sandbox.alipay_pay(app.appid, "order_0004")
    refunded = alipay.api_alipay_trade_refund(
        "2.00", out_trade_no="order_0004", out_request_no="refund_1"
    )
    assert (refunded["code"], refunded["refund_fee"]) == ("10000", "2.00")
    too_much = alipay.api_alipay_trade_refund(
        "10.01", out_trade_no="order_0004", out_request_no="refund_2"
    )
    assert too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    found = alipay.api_alipay_trade_fastpay_refund_query("refund_1", out_trade_no="order_0004")
    assert (found["refund_amount"], found["refund_status"]) == ("2.00", "REFUND_SUCCESS")


# -- Alipay's official Python SDK --------------------------------------------------------------


@pytest.fixture(scope="module")
def port_80_sandbox(worker_id: str) -> Iterator[SandboxProcess]:
    """A sandbox on port 80 of its own loopback address: the official SDK connects to port 80
    (443 for https) whatever port its server_url names (WebUtils.get_http_connection)."""
    worker = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    process = SandboxProcess(host=f"127.0.0.{20 + worker}", port=80)
    yield process
    process.stop()


def bare(pem: str, private: bool = False) -> str:
    """A key as the Alipay console hands it out (what AlipayClientConfig takes): base64 alone,
    the private key in PKCS#1."""
    if private:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


@pytest.fixture
async def official(
    port_80_sandbox: SandboxProcess, receiver: Receiver
) -> Iterator[tuple[DefaultAlipayClient, AlipayApp, SandboxClient]]:
    sandbox = SandboxClient(port_80_sandbox.url)
    await sandbox.reset()
    app = await registered(sandbox)
    config = AlipayClientConfig()
    config.server_url = f"{port_80_sandbox.url}/alipay/gateway.do"
    config.app_id = app.appid
    config.app_private_key = bare(app.private_key, private=True)
    config.alipay_public_key = bare(app.alipay_public_key)
    yield DefaultAlipayClient(config), app, sandbox
    await sandbox.aclose()


def call(client: DefaultAlipayClient, request: Any, **biz_content: Any) -> dict[str, Any]:
    """What the SDK returns: the response node's JSON text, its signature already checked."""
    request.biz_content = biz_content
    answer: dict[str, Any] = json.loads(client.execute(request))
    return answer


async def test_the_official_sdk_creates_queries_closes_and_refunds_trades(
    official: tuple[DefaultAlipayClient, AlipayApp, SandboxClient], receiver: Receiver
) -> None:
    client, app, sandbox = official
    create = AlipayTradeCreateRequest()
    create.notify_url = receiver.url
    for out_trade_no in ("order_0001", "order_0002"):
        created = call(
            client,
            create,
            out_trade_no=out_trade_no,
            total_amount="12.00",
            subject="两杯咖啡",
            buyer_id=app.buyer_id,
            product_code="JSAPI_PAY",
        )
        assert (created["code"], created["out_trade_no"]) == ("10000", out_trade_no)

    closed = call(client, AlipayTradeCloseRequest(), out_trade_no="order_0001")
    assert closed["code"] == "10000"
    queried = call(client, AlipayTradeQueryRequest(), out_trade_no="order_0001")
    assert queried["trade_status"] == "TRADE_CLOSED"

    await sandbox.alipay_pay(app.appid, "order_0002")
    refunded = call(
        client,
        AlipayTradeRefundRequest(),
        out_trade_no="order_0002",
        refund_amount="2.00",
        out_request_no="refund_1",
    )
    assert (refunded["code"], refunded["refund_fee"]) == ("10000", "2.00")
    found = call(
        client,
        AlipayTradeFastpayRefundQueryRequest(),
        out_trade_no="order_0002",
        out_request_no="refund_1",
    )
    assert found["refund_status"] == "REFUND_SUCCESS"


@pytest.mark.parametrize("passback_params", [None, ""])
async def test_a_notification_verifies_as_the_official_sdks_users_verify_it(
    official: tuple[DefaultAlipayClient, AlipayApp, SandboxClient],
    receiver: Receiver,
    passback_params: str | None,
) -> None:
    client, app, sandbox = official
    create = AlipayTradeCreateRequest()
    create.notify_url = receiver.url
    extra = {} if passback_params is None else {"passback_params": passback_params}
    call(
        client,
        create,
        out_trade_no="order_0003",
        total_amount="12.00",
        subject="两杯咖啡",
        buyer_id=app.buyer_id,
        product_code="JSAPI_PAY",
        **extra,
    )
    await sandbox.alipay_pay(app.appid, "order_0003")

    data = notification(receiver)
    signature = data.pop("sign")
    data.pop("sign_type")
    content = get_sign_content(data).encode()
    assert verify_with_rsa(bare(app.alipay_public_key), content, signature)
