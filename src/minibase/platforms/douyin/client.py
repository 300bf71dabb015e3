"""Douyin (ByteDance) mini program clients, sync and async."""

from __future__ import annotations

from typing import Any

from minibase.platforms.douyin import calls
from minibase.platforms.models import AccessToken, LoginSession
from minibase.platforms.transport import AsyncSecretClient, SyncSecretClient

BASE_URL = "https://developer.toutiao.com"


class DouyinClient(SyncSecretClient):
    BASE_URL = BASE_URL

    platform = "douyin"

    def code2session(
        self, code: str | None = None, *, anonymous_code: str | None = None
    ) -> LoginSession:
        """`code` and/or `anonymous_code` from tt.login; a guest has only the latter."""
        call = calls.code2session(self.base_url, self.appid, self._secret, code, anonymous_code)
        return self._run(call)

    def get_access_token(self) -> AccessToken:
        return self._run(calls.get_access_token(self.base_url, self.appid, self._secret))

    def send_subscribe_notification(self, access_token: str, **message: Any) -> None:
        """open_id, tpl_id, data ({keyword: value}), page."""
        call = calls.send_subscribe_notification(self.base_url, self.appid, access_token, **message)
        self._run(call)


class AsyncDouyinClient(AsyncSecretClient):
    BASE_URL = BASE_URL

    platform = "douyin"

    async def code2session(
        self, code: str | None = None, *, anonymous_code: str | None = None
    ) -> LoginSession:
        """`code` and/or `anonymous_code` from tt.login; a guest has only the latter."""
        call = calls.code2session(self.base_url, self.appid, self._secret, code, anonymous_code)
        return await self._run(call)

    async def get_access_token(self) -> AccessToken:
        return await self._run(calls.get_access_token(self.base_url, self.appid, self._secret))

    async def send_subscribe_notification(self, access_token: str, **message: Any) -> None:
        """open_id, tpl_id, data ({keyword: value}), page."""
        call = calls.send_subscribe_notification(self.base_url, self.appid, access_token, **message)
        await self._run(call)
