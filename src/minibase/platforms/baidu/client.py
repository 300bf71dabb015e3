"""Baidu smart program clients, sync and async."""

from __future__ import annotations

from minibase.platforms.baidu import calls
from minibase.platforms.models import LoginSession
from minibase.platforms.transport import AsyncSecretClient, SyncSecretClient

BASE_URL = "https://spapi.baidu.com"


class BaiduClient(SyncSecretClient):
    BASE_URL = BASE_URL

    platform = "baidu"

    def code2session(self, code: str) -> LoginSession:
        return self._run(calls.code2session(self.base_url, self.appid, self._secret, code))


class AsyncBaiduClient(AsyncSecretClient):
    BASE_URL = BASE_URL

    platform = "baidu"

    async def code2session(self, code: str) -> LoginSession:
        return await self._run(calls.code2session(self.base_url, self.appid, self._secret, code))
