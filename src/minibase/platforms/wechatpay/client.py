"""WeChat Pay clients for one merchant: the same calls, run synchronously or on an event loop."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from minibase.platforms.transport import AsyncPlatformClient, SyncPlatformClient
from minibase.platforms.wechatpay import calls, crypto
from minibase.platforms.wechatpay.models import Merchant, Notification, Refund, Transaction


class _Merchant:
    def __init__(self, merchant: Merchant, base_url: str | None) -> None:
        self.merchant = merchant
        self.base_url = base_url or calls.BASE_URL

    def request_payment(self, appid: str, prepay_id: str) -> dict[str, str]:
        """wx.requestPayment's parameters, paySign made with the merchant key."""
        return crypto.request_payment_params(appid, prepay_id, self.merchant.private_key)

    def read_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Notification:
        return calls.read_notification(self.merchant, headers, body, now=now)


class WeChatPayClient(_Merchant, SyncPlatformClient):
    def __init__(
        self, merchant: Merchant, *, base_url: str | None = None, http: httpx.Client | None = None
    ) -> None:
        _Merchant.__init__(self, merchant, base_url)
        SyncPlatformClient.__init__(self, http)

    def jsapi_prepay(
        self,
        *,
        appid: str,
        description: str,
        out_trade_no: str,
        total: int,
        openid: str,
        notify_url: str,
        time_expire: str | None = None,
        attach: str | None = None,
    ) -> str:
        return self._run(
            calls.jsapi_prepay(
                self.base_url,
                self.merchant,
                appid=appid,
                description=description,
                out_trade_no=out_trade_no,
                total=total,
                openid=openid,
                notify_url=notify_url,
                time_expire=time_expire,
                attach=attach,
            )
        )

    def query_order(self, out_trade_no: str) -> Transaction:
        return self._run(calls.query_order(self.base_url, self.merchant, out_trade_no))

    def close_order(self, out_trade_no: str) -> None:
        self._run(calls.close_order(self.base_url, self.merchant, out_trade_no))

    def create_refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund: int,
        total: int,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> Refund:
        return self._run(
            calls.create_refund(
                self.base_url,
                self.merchant,
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                refund=refund,
                total=total,
                reason=reason,
                notify_url=notify_url,
            )
        )

    def query_refund(self, out_refund_no: str) -> Refund:
        return self._run(calls.query_refund(self.base_url, self.merchant, out_refund_no))


class AsyncWeChatPayClient(_Merchant, AsyncPlatformClient):
    def __init__(
        self,
        merchant: Merchant,
        *,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        _Merchant.__init__(self, merchant, base_url)
        AsyncPlatformClient.__init__(self, http)

    async def jsapi_prepay(
        self,
        *,
        appid: str,
        description: str,
        out_trade_no: str,
        total: int,
        openid: str,
        notify_url: str,
        time_expire: str | None = None,
        attach: str | None = None,
    ) -> str:
        return await self._run(
            calls.jsapi_prepay(
                self.base_url,
                self.merchant,
                appid=appid,
                description=description,
                out_trade_no=out_trade_no,
                total=total,
                openid=openid,
                notify_url=notify_url,
                time_expire=time_expire,
                attach=attach,
            )
        )

    async def query_order(self, out_trade_no: str) -> Transaction:
        return await self._run(calls.query_order(self.base_url, self.merchant, out_trade_no))

    async def close_order(self, out_trade_no: str) -> None:
        await self._run(calls.close_order(self.base_url, self.merchant, out_trade_no))

    async def create_refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund: int,
        total: int,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> Refund:
        return await self._run(
            calls.create_refund(
                self.base_url,
                self.merchant,
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                refund=refund,
                total=total,
                reason=reason,
                notify_url=notify_url,
            )
        )

    async def query_refund(self, out_refund_no: str) -> Refund:
        return await self._run(calls.query_refund(self.base_url, self.merchant, out_refund_no))
