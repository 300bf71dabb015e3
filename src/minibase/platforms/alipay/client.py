"""Alipay mini program clients: signed gateway calls, sync and async."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from minibase.platforms.alipay import calls
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
