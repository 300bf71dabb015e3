"""Payments when things break, with the real server: `minibase serve` killed (SIGKILL) while a
WeChat Pay notification waits to be written, and the database unavailable while one arrives.
Either way the notification is not acknowledged, so WeChat Pay delivers it again; the retry
pays the order, and it is paid and fulfilled once however often it comes.

Nothing in the server is hooked: the test holds what another process could hold (SQLite's
write lock, the order's row lock on PostgreSQL) or takes PostgreSQL away from the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from minibase.config import Settings
from minibase.testing.sandbox import SandboxClient
from tests.e2e.shop_server import (
    MCHID,
    OrderBook,
    ShopServer,
    order_row_lock,
    postgres_refusing,
    sqlite_write_lock,
    wait_for_lock_waiter,
    wait_for_request,
)

# What the server logs when it answers a request 503 because of the database.
UNAVAILABLE = "database unavailable (request"


@pytest.fixture
async def shop(
    settings: Settings, sandbox: SandboxClient, tmp_path: Path
) -> AsyncIterator[ShopServer]:
    server = ShopServer(settings, tmp_path)
    await server.set_up(sandbox)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _paid_without_notification(shop: ShopServer, sandbox: SandboxClient) -> dict[str, Any]:
    """Alice orders a coffee and pays; WeChat Pay's notification has not been delivered yet."""
    headers = await shop.sign_in(sandbox, "alice")
    order = await shop.order(headers)
    paid = await sandbox.wechatpay_pay(MCHID, order["out_trade_no"], times=0)
    assert paid["deliveries"] == []
    return order


def _statuses(sent: dict[str, Any]) -> list[int | None]:
    return [delivery["status"] for delivery in sent["deliveries"]]


async def _paid_once(book: OrderBook, order_id: str) -> None:
    assert await book.state(order_id) == "paid"
    assert await book.fulfilments() == 1
    assert await book.events(order_id, "paid") == 1
    assert await book.paid_by(order_id) == "notification"


@asynccontextmanager
async def _writes_held(
    shop: ShopServer, order_id: str
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Hold what the notification's write needs; yields how to wait until the server waits."""
    url = shop.settings.database_url
    if url is None:
        with sqlite_write_lock(shop.settings.sqlite_path):

            async def waiting() -> None:
                await wait_for_request(shop.port)
                # Verifying and decrypting take milliseconds; then BEGIN IMMEDIATE waits on
                # busy_timeout (5 s) for the lock held here.
                await asyncio.sleep(1.0)

            yield waiting
    else:
        async with order_row_lock(url, order_id):
            yield lambda: wait_for_lock_waiter(url)


@asynccontextmanager
async def _database_down(shop: ShopServer) -> AsyncIterator[None]:
    """SQLite: its write lock held past busy_timeout by another process; it is let go only
    once the server has given up. PostgreSQL: the server's connections cut, new ones refused."""
    url = shop.settings.database_url
    if url is None:
        before = shop.logged(UNAVAILABLE)
        with sqlite_write_lock(shop.settings.sqlite_path):
            yield
            deadline = time.monotonic() + 20
            while shop.logged(UNAVAILABLE) == before:
                assert time.monotonic() < deadline, "the server never gave up on the lock"
                await asyncio.sleep(0.05)
    else:
        async with postgres_refusing(url.rsplit("/", 1)[1]):
            yield


async def test_a_server_killed_before_committing_a_notification_pays_once_on_the_retry(
    shop: ShopServer, sandbox: SandboxClient, settings: Settings
) -> None:
    order = await _paid_without_notification(shop, sandbox)
    order_id, out_trade_no = order["id"], order["out_trade_no"]
    book = OrderBook(settings)

    async with _writes_held(shop, order_id) as server_waiting:
        delivery = asyncio.create_task(sandbox.wechatpay_notify(MCHID, out_trade_no))
        await server_waiting()
        shop.kill()  # SIGKILL: no cleanup, no answer
    sent = await delivery
    assert _statuses(sent) == [None], "killed mid-request: WeChat Pay got no answer"
    assert await book.state(order_id) == "created"
    assert await book.fulfilments() == 0
    assert await book.events(order_id, "paid") == 0

    shop.start()  # same port, same data
    retried = await sandbox.wechatpay_notify(MCHID, out_trade_no)
    assert _statuses(retried) == [204]
    await _paid_once(book, order_id)

    again = await sandbox.wechatpay_notify(MCHID, out_trade_no, times=2, concurrent=3)
    assert _statuses(again) == [204] * 6
    await _paid_once(book, order_id)


async def test_a_notification_while_the_database_is_down_is_refused_and_its_retry_pays_once(
    shop: ShopServer, sandbox: SandboxClient, settings: Settings
) -> None:
    order = await _paid_without_notification(shop, sandbox)
    order_id, out_trade_no = order["id"], order["out_trade_no"]
    book = OrderBook(settings)

    async with _database_down(shop):
        sent = await sandbox.wechatpay_notify(MCHID, out_trade_no)
    (status,) = _statuses(sent)
    if settings.database_url is None:
        # busy_timeout (5 s) is as long as WeChat Pay waits for an answer (5 s): it gives up
        # about when the server answers 503 (which _database_down saw in the server's log).
        assert status in (None, 503), sent
    else:
        assert status == 503, sent  # the database refusing connections: retry later
    assert await book.state(order_id) == "created"
    assert await book.fulfilments() == 0

    retried = await sandbox.wechatpay_notify(MCHID, out_trade_no)
    assert _statuses(retried) == [204]
    await _paid_once(book, order_id)
    again = await sandbox.wechatpay_notify(MCHID, out_trade_no, times=2, concurrent=3)
    assert _statuses(again) == [204] * 6
    await _paid_once(book, order_id)
