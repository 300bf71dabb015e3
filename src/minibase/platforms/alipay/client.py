"""Alipay mini program clients: signed gateway calls, sync and async."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from minibase.platforms.alipay import calls, trade
from minibase.platforms.alipay.crypto import decrypt_phone_number, load_private_key, load_public_key
from minibase.platforms.errors import PlatformError
from minibase.platforms.models import LoginSession, PhoneNumber
from minibase.platforms.transport import AsyncPlatformClient, Call, SyncPlatformClient

GATEWAY = calls.GATEWAY


class _AlipayApp:
    """The keys of one Alipay app, loaded once."""

    platform = "alipay"

    def __init__(
        self,
        app_id: str,
        private_key: str,
        alipay_public_key: str,
        aes_key: str | None,
        gateway: str,
        clock: Callable[[], float],
    ) -> None:
        self.appid = app_id
        self.gateway = gateway
        self._keys = (load_private_key(private_key), load_public_key(alipay_public_key))
        self._aes_key = aes_key
        self._clock = clock

    def _code2session_call(self, code: str) -> Call[LoginSession]:
        return calls.code2session(self.gateway, self.appid, code, self._keys, self._clock())

    def read_notification(self, params: Mapping[str, str]) -> trade.Trade:
        """A payment notification's trade, once its sign and app check out."""
        return trade.read_notification(params, self.appid, self._keys[1])

    def _create_trade_call(self, **order: Any) -> Call[str]:
        return trade.create_trade(self.gateway, self.appid, self._keys, self._clock(), **order)

    def _query_trade_call(self, out_trade_no: str) -> Call[trade.Trade]:
        return trade.query_trade(self.gateway, self.appid, self._keys, self._clock(), out_trade_no)

    def _close_trade_call(self, out_trade_no: str) -> Call[None]:
        return trade.close_trade(self.gateway, self.appid, self._keys, self._clock(), out_trade_no)

    def _refund_call(self, **refund: Any) -> Call[trade.TradeRefund]:
        return trade.refund_trade(self.gateway, self.appid, self._keys, self._clock(), **refund)

    def _query_refund_call(self, **which: str) -> Call[trade.TradeRefund]:
        return trade.query_refund(self.gateway, self.appid, self._keys, self._clock(), **which)

    def _template_message_call(self, **message: Any) -> Call[None]:
        return calls.send_template_message(
            self.gateway, self.appid, self._keys, self._clock(), **message
        )

    def decrypt_phone_number(self, response: str, sign: str) -> PhoneNumber:
        """Open what my.getPhoneNumber gave the mini program; needs the app's AES key."""
        if self._aes_key is None:
            raise PlatformError("alipay", "invalid_credentials", "no AES key for this app")
        return decrypt_phone_number(response, sign, self._aes_key, self._keys[1])


class AlipayClient(_AlipayApp, SyncPlatformClient):
    def __init__(
        self,
        app_id: str,
        private_key: str,
        alipay_public_key: str,
        *,
        aes_key: str | None = None,
        gateway: str = GATEWAY,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Keys first: a bad key must not leave an HTTP client behind.
        _AlipayApp.__init__(self, app_id, private_key, alipay_public_key, aes_key, gateway, clock)
        SyncPlatformClient.__init__(self, http)

    def code2session(self, code: str) -> LoginSession:
        return self._run(self._code2session_call(code))

    def create_trade(
        self,
        *,
        out_trade_no: str,
        total: int,
        subject: str,
        buyer_open_id: str,
        notify_url: str,
        time_expire: str | None = None,
    ) -> str:
        """alipay.trade.create; the trade_no is what my.tradePay takes."""
        return self._run(
            self._create_trade_call(
                out_trade_no=out_trade_no,
                total=total,
                subject=subject,
                buyer_open_id=buyer_open_id,
                notify_url=notify_url,
                time_expire=time_expire,
            )
        )

    def query_trade(self, out_trade_no: str) -> trade.Trade:
        return self._run(self._query_trade_call(out_trade_no))

    def close_trade(self, out_trade_no: str) -> None:
        self._run(self._close_trade_call(out_trade_no))

    def refund_trade(
        self, *, out_trade_no: str, out_request_no: str, refund: int, reason: str | None = None
    ) -> trade.TradeRefund:
        return self._run(
            self._refund_call(
                out_trade_no=out_trade_no,
                out_request_no=out_request_no,
                refund=refund,
                reason=reason,
            )
        )

    def query_refund(self, *, out_trade_no: str, out_request_no: str) -> trade.TradeRefund:
        return self._run(
            self._query_refund_call(out_trade_no=out_trade_no, out_request_no=out_request_no)
        )

    def send_template_message(self, **message: Any) -> None:
        """to (open_id or user_id), user_template_id, data ({keyword: value}), page."""
        self._run(self._template_message_call(**message))


class AsyncAlipayClient(_AlipayApp, AsyncPlatformClient):
    def __init__(
        self,
        app_id: str,
        private_key: str,
        alipay_public_key: str,
        *,
        aes_key: str | None = None,
        gateway: str = GATEWAY,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _AlipayApp.__init__(self, app_id, private_key, alipay_public_key, aes_key, gateway, clock)
        AsyncPlatformClient.__init__(self, http)

    async def code2session(self, code: str) -> LoginSession:
        return await self._run(self._code2session_call(code))

    async def create_trade(
        self,
        *,
        out_trade_no: str,
        total: int,
        subject: str,
        buyer_open_id: str,
        notify_url: str,
        time_expire: str | None = None,
    ) -> str:
        return await self._run(
            self._create_trade_call(
                out_trade_no=out_trade_no,
                total=total,
                subject=subject,
                buyer_open_id=buyer_open_id,
                notify_url=notify_url,
                time_expire=time_expire,
            )
        )

    async def query_trade(self, out_trade_no: str) -> trade.Trade:
        return await self._run(self._query_trade_call(out_trade_no))

    async def close_trade(self, out_trade_no: str) -> None:
        await self._run(self._close_trade_call(out_trade_no))

    async def refund_trade(
        self, *, out_trade_no: str, out_request_no: str, refund: int, reason: str | None = None
    ) -> trade.TradeRefund:
        return await self._run(
            self._refund_call(
                out_trade_no=out_trade_no,
                out_request_no=out_request_no,
                refund=refund,
                reason=reason,
            )
        )

    async def query_refund(self, *, out_trade_no: str, out_request_no: str) -> trade.TradeRefund:
        return await self._run(
            self._query_refund_call(out_trade_no=out_trade_no, out_request_no=out_request_no)
        )

    async def send_template_message(self, **message: Any) -> None:
        """to (open_id or user_id), user_template_id, data ({keyword: value}), page."""
        await self._run(self._template_message_call(**message))
