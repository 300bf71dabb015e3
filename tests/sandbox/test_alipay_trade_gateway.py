"""Alipay payments in the sandbox, driven through minibase's own AlipayClient pointed at it by
gateway URL only: trades created, queried, closed and refunded over the signed gateway, paid
through the control API, and trade_status_sync notifications delivered over loopback to a
notify_url, intact or broken on purpose."""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest

from minibase.clock import FrozenClock
from minibase.platforms.alipay import AlipayClient, AsyncAlipayClient, crypto
from minibase.platforms.errors import PlatformError
from minibase.sandbox import Sandbox
from minibase.testing.sandbox import SandboxClient, SandboxProcess
from tests.sandbox.notify_receiver import Received, Receiver

APP_ID = "2021000000000001"
BUYER = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"
GATEWAY = "http://sandbox/alipay/gateway.do"


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return crypto.generate_rsa_keypair()


@dataclass
class Shop:
    pay: AsyncAlipayClient
    control: httpx.AsyncClient  # the sandbox, in process
    private_key: str
    alipay_public_key: str

    async def create(self, receiver: Receiver, out_trade_no: str, total: int = 1230) -> str:
        return await self.pay.create_trade(
            out_trade_no=out_trade_no,
            total=total,
            subject="两杯咖啡",
            buyer_open_id=BUYER,
            notify_url=receiver.url,
        )

    async def control_pay(self, out_trade_no: str, **notify: Any) -> httpx.Response:
        body = {"appid": APP_ID, "out_trade_no": out_trade_no, "notify": notify or None}
        return await self.control.post("/control/alipay/pay", json=body)

    async def control_notify(self, out_trade_no: str, **delivery: Any) -> httpx.Response:
        body = {"appid": APP_ID, "out_trade_no": out_trade_no, **delivery}
        return await self.control.post("/control/alipay/notify", json=body)

    async def call(
        self, method: str, biz_content: str, private_key: str | None = None
    ) -> httpx.Response:
        """A gateway call made by hand, signed (with the app's key unless another is given)
        and sent as the client sends it."""
        params = {
            "app_id": APP_ID,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": "2026-01-01 08:00:00",
            "version": "1.0",
        }
        signer = private_key or self.private_key
        params["sign"] = crypto.sign_params({**params, "biz_content": biz_content}, signer)
        return await self.control.post(GATEWAY, params=params, data={"biz_content": biz_content})

    def node(self, response: httpx.Response, method: str) -> tuple[str, dict[str, Any]]:
        """The answer's node name and content, once its sign checks with the platform key."""
        name, text = crypto.find_response_node(response.text, method)
        assert crypto.verify_content(
            text, orjson.loads(response.text)["sign"], self.alipay_public_key
        )
        node: dict[str, Any] = orjson.loads(text)
        return name, node


@pytest.fixture
async def shop(
    sandbox: Sandbox, client: httpx.AsyncClient, clock: FrozenClock, app_keys: tuple[str, str]
) -> AsyncIterator[Shop]:
    registered = sandbox.register_app("alipay", APP_ID, app_public_key=app_keys[1])
    pay = AsyncAlipayClient(
        APP_ID,
        app_keys[0],
        registered["alipay_public_key"],
        gateway=GATEWAY,
        http=client,
        clock=lambda: clock.now().timestamp(),
    )
    yield Shop(pay, client, app_keys[0], registered["alipay_public_key"])
    await pay.aclose()


def form(received: Received) -> dict[str, str]:
    return dict(parse_qsl(received.body.decode(), keep_blank_values=True))


async def errcode(call: Awaitable[object]) -> str | None:
    with pytest.raises(PlatformError) as refused:
        await call
    return refused.value.errcode


# -- create and query ----------------------------------------------------------------------


async def test_a_created_trade_waits_for_the_buyer(
    shop: Shop, receiver: Receiver, sandbox: Sandbox
) -> None:
    trade_no = await shop.create(receiver, "order_0001")

    trade = await shop.pay.query_trade("order_0001")

    assert len(trade_no) == 28
    assert trade_no.startswith("20260101")
    assert (trade.out_trade_no, trade.trade_no) == ("order_0001", trade_no)
    assert (trade.trade_status, trade.paid) == ("WAIT_BUYER_PAY", False)
    assert (trade.total, trade.buyer_open_id) == (1230, BUYER)
    assert "send_pay_date" not in trade.raw
    assert "buyer_pay_amount" not in trade.raw
    assert sandbox.calls()["alipay"] == {"/gateway.do": 2}


async def test_a_trade_is_found_by_its_trade_no_too(shop: Shop, receiver: Receiver) -> None:
    trade_no = await shop.create(receiver, "order_0001")

    found = await shop.call("alipay.trade.query", orjson.dumps({"trade_no": trade_no}).decode())
    other = await shop.call("alipay.trade.query", '{"trade_no":"2026010122001000000000000000"}')

    node = shop.node(found, "alipay.trade.query")[1]
    assert (node["code"], node["out_trade_no"], node["trade_no"]) == (
        "10000",
        "order_0001",
        trade_no,
    )
    assert shop.node(other, "alipay.trade.query")[1]["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_the_same_out_trade_no_again_is_the_same_trade_unless_it_changed(
    shop: Shop, receiver: Receiver
) -> None:
    first = await shop.create(receiver, "order_0001")
    again = await shop.create(receiver, "order_0001")

    changed = await errcode(shop.create(receiver, "order_0001", total=1231))

    assert again == first
    assert changed == "ACQ.CONTEXT_INCONSISTENT"


async def test_a_paid_or_closed_trade_cannot_be_created_again(
    shop: Shop, receiver: Receiver
) -> None:
    await shop.create(receiver, "order_paid")
    await shop.control_pay("order_paid", times=0)
    await shop.create(receiver, "order_closed")
    await shop.pay.close_trade("order_closed")

    assert await errcode(shop.create(receiver, "order_paid")) == "ACQ.TRADE_HAS_SUCCESS"
    assert await errcode(shop.create(receiver, "order_closed")) == "ACQ.TRADE_HAS_CLOSE"


async def test_an_unknown_trade_is_trade_not_exist(shop: Shop) -> None:
    assert await errcode(shop.pay.query_trade("order_none")) == "ACQ.TRADE_NOT_EXIST"
    assert await errcode(shop.pay.close_trade("order_none")) == "ACQ.TRADE_NOT_EXIST"


INVALID = ("40002", "Invalid Arguments", "isv.invalid-parameter")


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"out_trade_no": None}, INVALID),
        ({"out_trade_no": "order-0001"}, INVALID),  # letters, digits and _ only
        ({"total_amount": "12.345"}, INVALID),
        ({"total_amount": None}, INVALID),
        ({"subject": None}, INVALID),
        ({"buyer_open_id": None}, INVALID),
        ({"product_code": "FAST_INSTANT_TRADE_PAY"}, INVALID),
        ({"time_expire": "2026-01-01T08:15:00"}, INVALID),
        ({"total_amount": "0.00"}, ("40004", "Business Failed", "ACQ.TOTAL_FEE_EXCEED")),
    ],
)
async def test_a_create_with_a_missing_or_bad_field_is_refused_in_a_signed_answer(
    shop: Shop, change: dict[str, str | None], refusal: tuple[str, str, str]
) -> None:
    biz = {
        "out_trade_no": "order_0001",
        "total_amount": "12.30",
        "subject": "两杯咖啡",
        "product_code": "JSAPI_PAY",
        "buyer_open_id": BUYER,
    }
    content = {k: v for k, v in {**biz, **change}.items() if v is not None}
    method = "alipay.trade.create"

    response = await shop.call(method, orjson.dumps(content).decode())

    name, node = shop.node(response, method)
    assert name == "alipay_trade_create_response"
    assert (node["code"], node["msg"], node["sub_code"]) == refusal
    assert node["sub_msg"]


async def test_a_biz_content_that_is_not_a_json_object_is_an_invalid_parameter(shop: Shop) -> None:
    for text in ("{not json", '["out_trade_no"]', ""):
        response = await shop.call("alipay.trade.query", text)
        node = shop.node(response, "alipay.trade.query")[1]
        assert (node["code"], node["sub_code"]) == ("40002", "isv.invalid-parameter")
        assert "biz_content" in node["sub_msg"]


# -- the request's signature and app ---------------------------------------------------------


async def test_a_request_signed_with_another_key_is_refused_unsigned(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    stranger_key = crypto.generate_rsa_keypair()[0]
    impostor = AsyncAlipayClient(
        APP_ID, stranger_key, shop.alipay_public_key, gateway=GATEWAY, http=client
    )
    with pytest.raises(PlatformError) as refused:
        await impostor.query_trade("order_0001")
    raw = await shop.call(
        "alipay.trade.query", '{"out_trade_no":"order_0001"}', private_key=stranger_key
    )

    assert (refused.value.kind, refused.value.errcode) == (
        "invalid_credentials",
        "isv.invalid-signature",
    )
    body = orjson.loads(raw.text)
    assert (body["error_response"]["code"], body["error_response"]["sub_code"]) == (
        "40002",
        "isv.invalid-signature",
    )
    assert "sign" not in body


async def test_a_biz_content_changed_after_signing_breaks_the_signature(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    params = {
        "app_id": APP_ID,
        "method": "alipay.trade.query",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-01-01 08:00:00",
        "version": "1.0",
    }
    signed = crypto.sign_params({**params, "biz_content": '{"out_trade_no":"a"}'}, shop.private_key)

    response = await client.post(
        GATEWAY, params={**params, "sign": signed}, data={"biz_content": '{"out_trade_no":"b"}'}
    )

    body = orjson.loads(response.text)
    assert (body["error_response"]["code"], body["error_response"]["sub_code"]) == (
        "40002",
        "isv.invalid-signature",
    )
    assert "sign" not in body


async def test_an_app_the_sandbox_does_not_know_is_refused(
    shop: Shop, client: httpx.AsyncClient, app_keys: tuple[str, str]
) -> None:
    stranger = AsyncAlipayClient(
        "2021999999999999", app_keys[0], shop.alipay_public_key, gateway=GATEWAY, http=client
    )
    with pytest.raises(PlatformError) as refused:
        await stranger.query_trade("order_0001")
    assert (refused.value.kind, refused.value.errcode) == ("invalid_appid", "isv.invalid-app-id")


# -- paying and the notification -------------------------------------------------------------


async def test_paying_notifies_the_merchant_and_the_trade_reads_success(
    shop: Shop, receiver: Receiver, clock: FrozenClock
) -> None:
    trade_no = await shop.create(receiver, "order_0001")
    clock.advance(seconds=30)

    paid = await shop.control_pay("order_0001")

    assert paid.status_code == 200, paid.text
    answer = paid.json()
    assert answer["trade_no"] == trade_no
    assert answer["deliveries"] == [{"status": 204, "body": "", "acknowledged": False}]
    [received] = receiver.received
    content_type = {k.lower(): v for k, v in received.headers.items()}["content-type"]
    assert content_type.startswith("application/x-www-form-urlencoded")
    params = form(received)
    reported = shop.pay.read_notification(params)
    assert (reported.out_trade_no, reported.trade_no, reported.total) == (
        "order_0001",
        trade_no,
        1230,
    )
    assert (reported.paid, reported.buyer_open_id) == (True, BUYER)
    assert params["notify_id"] == answer["notify_id"]
    assert {k: params[k] for k in ("notify_type", "app_id", "charset", "version", "sign_type")} == {
        "notify_type": "trade_status_sync",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
    }
    assert (params["receipt_amount"], params["buyer_pay_amount"]) == ("12.30", "12.30")
    assert (params["gmt_create"], params["gmt_payment"]) == (
        "2026-01-01 08:00:00",
        "2026-01-01 08:00:30",
    )
    assert (params["notify_time"], params["subject"]) == ("2026-01-01 08:00:30", "两杯咖啡")
    queried = await shop.pay.query_trade("order_0001")
    assert (queried.trade_status, queried.paid) == ("TRADE_SUCCESS", True)
    assert (queried.raw["buyer_pay_amount"], queried.raw["send_pay_date"]) == (
        "12.30",
        "2026-01-01 08:00:30",
    )


@pytest.fixture
def success_url() -> Iterator[str]:
    """A notify_url that answers "success", as a merchant that recorded the payment does."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_only_a_merchant_answering_success_is_recorded_as_acknowledged(
    shop: Shop, receiver: Receiver, success_url: str
) -> None:
    await shop.pay.create_trade(
        out_trade_no="order_0001", total=1, subject="s", buyer_open_id=BUYER, notify_url=success_url
    )
    await shop.create(receiver, "order_0002")
    receiver.status = 200  # but an empty body: Alipay would keep retrying

    recorded = (await shop.control_pay("order_0001")).json()
    empty = (await shop.control_pay("order_0002")).json()

    assert recorded["deliveries"] == [{"status": 200, "body": "success", "acknowledged": True}]
    assert empty["deliveries"] == [{"status": 200, "body": "", "acknowledged": False}]


async def test_a_closed_paid_or_expired_trade_cannot_be_paid(
    shop: Shop, receiver: Receiver, clock: FrozenClock
) -> None:
    await shop.create(receiver, "order_paid")
    await shop.control_pay("order_paid", times=0)
    await shop.create(receiver, "order_closed")
    await shop.pay.close_trade("order_closed")
    await shop.pay.create_trade(
        out_trade_no="order_late",
        total=1230,
        subject="两杯咖啡",
        buyer_open_id=BUYER,
        notify_url=receiver.url,
        time_expire="2026-01-01 08:15:00",
    )
    clock.advance(minutes=15)

    refusals = [await shop.control_pay(no) for no in ("order_paid", "order_closed", "order_late")]

    assert [r.status_code for r in refusals] == [409, 409, 409]
    assert {r.json()["code"] for r in refusals} == {"sandbox.not_payable"}
    assert "expired" in refusals[2].json()["message"]
    assert (await shop.pay.query_trade("order_late")).trade_status == "TRADE_CLOSED"
    assert receiver.received == []


async def test_the_pay_control_refuses_unknown_apps_and_trades_and_unpaid_notifies(
    shop: Shop, receiver: Receiver
) -> None:
    await shop.create(receiver, "order_0001")
    unknown_app = await shop.control.post(
        "/control/alipay/pay", json={"appid": "2021999999999999", "out_trade_no": "order_0001"}
    )
    unknown_trade = await shop.control_pay("order_none")
    unpaid = await shop.control_notify("order_0001")
    bad_option = await shop.control_pay("order_0001", times="3")

    assert (unknown_app.status_code, unknown_app.json()["code"]) == (404, "sandbox.unknown_app")
    assert (unknown_trade.status_code, unknown_trade.json()["code"]) == (
        404,
        "sandbox.unknown_trade",
    )
    assert (unpaid.status_code, unpaid.json()["code"]) == (409, "sandbox.nothing_to_notify")
    assert (bad_option.status_code, bad_option.json()["code"]) == (400, "sandbox.invalid_request")
    assert (await shop.pay.query_trade("order_0001")).trade_status == "WAIT_BUYER_PAY"


@pytest.mark.parametrize(
    ("broken", "kind"),
    [
        ("tamper", "invalid_signature"),
        ("forge", "invalid_signature"),
        ("unknown_app", "invalid_appid"),
    ],
)
async def test_a_broken_notification_is_refused_by_the_client(
    shop: Shop, receiver: Receiver, broken: str, kind: str
) -> None:
    await shop.create(receiver, "order_0001")
    await shop.control_pay("order_0001", times=0)

    answer = await shop.control_notify("order_0001", **{broken: True})
    await shop.control_notify("order_0001")

    assert answer.status_code == 200, answer.text
    broken_copy, intact = receiver.received
    with pytest.raises(PlatformError) as refused:
        shop.pay.read_notification(form(broken_copy))
    assert refused.value.kind == kind
    assert shop.pay.read_notification(form(intact)).paid


async def test_times_three_delivers_three_copies_of_one_notification(
    shop: Shop, receiver: Receiver
) -> None:
    await shop.create(receiver, "order_0001")
    paid = (await shop.control_pay("order_0001", times=3)).json()
    burst = (await shop.control_notify("order_0001", times=2, concurrent=2)).json()

    assert len(paid["deliveries"]) == 3
    assert len(burst["deliveries"]) == 4
    assert len(receiver.received) == 7
    copies = [form(received) for received in receiver.received]
    assert {copy["notify_id"] for copy in copies} == {paid["notify_id"]}
    assert all(shop.pay.read_notification(copy).paid for copy in copies)


# -- closing and refunds -------------------------------------------------------------------


async def test_an_unpaid_trade_closes_and_a_paid_one_does_not(
    shop: Shop, receiver: Receiver
) -> None:
    await shop.create(receiver, "order_open")
    await shop.create(receiver, "order_paid")
    await shop.control_pay("order_paid", times=0)

    await shop.pay.close_trade("order_open")

    assert (await shop.pay.query_trade("order_open")).trade_status == "TRADE_CLOSED"
    assert await errcode(shop.pay.close_trade("order_paid")) == "ACQ.TRADE_STATUS_ERROR"
    assert (await shop.pay.query_trade("order_paid")).trade_status == "TRADE_SUCCESS"


@pytest.fixture
async def paid(shop: Shop, receiver: Receiver) -> str:
    """order_0001, 12.30 yuan, paid; its trade_no."""
    trade_no = await shop.create(receiver, "order_0001")
    assert (await shop.control_pay("order_0001", times=0)).status_code == 200
    return trade_no


async def test_partial_refunds_settle_at_once_and_a_full_refund_closes_the_trade(
    shop: Shop, paid: str
) -> None:
    first = await shop.pay.refund_trade(
        out_trade_no="order_0001", out_request_no="refund_1", refund=200, reason="缺货"
    )
    after_first = await shop.pay.query_trade("order_0001")
    over = await errcode(
        shop.pay.refund_trade(out_trade_no="order_0001", out_request_no="refund_2", refund=1031)
    )
    rest = await shop.pay.refund_trade(
        out_trade_no="order_0001", out_request_no="refund_2", refund=1030
    )
    after_all = await shop.pay.query_trade("order_0001")
    beyond = await errcode(
        shop.pay.refund_trade(out_trade_no="order_0001", out_request_no="refund_3", refund=1)
    )

    assert (first.trade_refunded, first.done) == (200, True)
    assert (first.raw["trade_no"], first.raw["buyer_open_id"]) == (paid, BUYER)
    assert after_first.trade_status == "TRADE_SUCCESS"
    assert over == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (rest.trade_refunded, rest.done) == (1230, True)
    assert after_all.trade_status == "TRADE_CLOSED"
    assert beyond == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


async def test_the_same_out_request_no_again_is_the_same_refund_unless_the_amount_differs(
    shop: Shop, paid: str
) -> None:
    first = await shop.pay.refund_trade(
        out_trade_no="order_0001", out_request_no="refund_1", refund=600
    )
    again = await shop.pay.refund_trade(
        out_trade_no="order_0001", out_request_no="refund_1", refund=600
    )
    changed = await errcode(
        shop.pay.refund_trade(out_trade_no="order_0001", out_request_no="refund_1", refund=500)
    )
    rest = await shop.pay.refund_trade(
        out_trade_no="order_0001", out_request_no="refund_2", refund=630
    )

    assert (first.trade_refunded, first.done) == (600, True)
    assert (again.trade_refunded, again.done) == (600, None)  # "N": ask query_refund
    assert changed == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert rest.trade_refunded == 1230  # the repeat did not count twice


async def test_an_unpaid_or_unknown_trade_cannot_be_refunded(
    shop: Shop, receiver: Receiver
) -> None:
    await shop.create(receiver, "order_0001")
    unpaid = shop.pay.refund_trade(out_trade_no="order_0001", out_request_no="r1", refund=1)
    unknown = shop.pay.refund_trade(out_trade_no="order_none", out_request_no="r1", refund=1)
    assert await errcode(unpaid) == "ACQ.TRADE_STATUS_ERROR"
    assert await errcode(unknown) == "ACQ.TRADE_NOT_EXIST"


async def test_a_refund_query_finds_a_settled_refund_and_answers_an_unknown_one_bare(
    shop: Shop, paid: str
) -> None:
    await shop.pay.refund_trade(out_trade_no="order_0001", out_request_no="refund_1", refund=230)

    found = await shop.pay.query_refund(out_trade_no="order_0001", out_request_no="refund_1")
    unknown = await shop.pay.query_refund(out_trade_no="order_0001", out_request_no="refund_9")

    assert (found.out_request_no, found.amount, found.done) == ("refund_1", 230, True)
    assert found.raw["refund_status"] == "REFUND_SUCCESS"
    assert (found.raw["total_amount"], found.raw["trade_no"]) == ("12.30", paid)
    assert (unknown.amount, unknown.done) == (None, False)
    assert unknown.raw == {"code": "10000", "msg": "Success"}


async def test_reset_forgets_trades(
    shop: Shop, receiver: Receiver, sandbox: Sandbox, app_keys: tuple[str, str]
) -> None:
    await shop.create(receiver, "order_0001")
    sandbox.reset()
    sandbox.register_app("alipay", APP_ID, app_public_key=app_keys[1])
    assert await errcode(shop.pay.query_trade("order_0001")) == "ACQ.TRADE_NOT_EXIST"


# -- the sandbox process, over a socket ------------------------------------------------------


@pytest.fixture
def sandbox_url(_sandbox_process: SandboxProcess) -> str:
    """The sandbox process the session shares (python -m minibase.sandbox on a free port)."""
    return _sandbox_process.url


def _socket_app(sandbox_url: str, keys: tuple[str, str]) -> tuple[str, str]:
    """An app registered with the sandbox process: (its app id, the Alipay public key)."""
    app_id = f"2021{secrets.randbelow(10**12):012d}"
    answer = httpx.post(
        f"{sandbox_url}/control/apps",
        json={"platform": "alipay", "appid": app_id, "app_public_key": keys[1]},
    )
    answer.raise_for_status()
    return app_id, answer.json()["alipay_public_key"]


async def test_a_purchase_over_a_socket_with_the_async_client(
    sandbox_url: str, receiver: Receiver, app_keys: tuple[str, str]
) -> None:
    app_id, alipay_public_key = _socket_app(sandbox_url, app_keys)
    gateway = f"{sandbox_url}/alipay/gateway.do"
    control = SandboxClient(sandbox_url)
    async with AsyncAlipayClient(app_id, app_keys[0], alipay_public_key, gateway=gateway) as pay:
        trade_no = await pay.create_trade(
            out_trade_no="order_0001",
            total=990,
            subject="一杯咖啡",
            buyer_open_id=BUYER,
            notify_url=receiver.url,
        )
        paid = await control.alipay_pay(app_id, "order_0001")
        again = await control.alipay_notify(app_id, "order_0001", tamper=True)
        queried = await pay.query_trade("order_0001")
    await control.aclose()

    assert paid["trade_no"] == trade_no
    assert [d["status"] for d in paid["deliveries"] + again["deliveries"]] == [204, 204]
    reported = pay.read_notification(form(receiver.received[0]))
    assert (reported.trade_no, reported.total, reported.paid) == (trade_no, 990, True)
    with pytest.raises(PlatformError):
        pay.read_notification(form(receiver.received[1]))
    assert queried.trade_status == "TRADE_SUCCESS"


def test_refunds_over_a_socket_with_the_sync_client(
    sandbox_url: str, receiver: Receiver, app_keys: tuple[str, str]
) -> None:
    app_id, alipay_public_key = _socket_app(sandbox_url, app_keys)
    gateway = f"{sandbox_url}/alipay/gateway.do"
    with AlipayClient(app_id, app_keys[0], alipay_public_key, gateway=gateway) as pay:
        pay.create_trade(
            out_trade_no="order_0001",
            total=990,
            subject="一杯咖啡",
            buyer_open_id=BUYER,
            notify_url=receiver.url,
        )
        httpx.post(
            f"{sandbox_url}/control/alipay/pay",
            json={"appid": app_id, "out_trade_no": "order_0001", "notify": {"times": 0}},
        ).raise_for_status()
        with pytest.raises(PlatformError) as refused:
            pay.close_trade("order_0001")
        refund = pay.refund_trade(out_trade_no="order_0001", out_request_no="r1", refund=990)
        queried = pay.query_refund(out_trade_no="order_0001", out_request_no="r1")
        closed = pay.query_trade("order_0001")

    assert refused.value.errcode == "ACQ.TRADE_STATUS_ERROR"
    assert (refund.trade_refunded, refund.done) == (990, True)
    assert (queried.amount, queried.done) == (990, True)
    assert closed.trade_status == "TRADE_CLOSED"
    assert receiver.received == []
