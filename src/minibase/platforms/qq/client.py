"""QQ mini program clients: login and the access token, sync and async."""

from __future__ import annotations

from minibase.platforms.models import AccessToken, LoginSession
from minibase.platforms.qq import calls
from minibase.platforms.transport import AsyncSecretClient, SyncSecretClient

BASE_URL = "https://api.q.qq.com"


class QQClient(SyncSecretClient):
    BASE_URL = BASE_URL

    platform = "qq"

    def code2session(self, code: str) -> LoginSession:
        return self._run(calls.code2session(self.base_url, self.appid, self._secret, code))

    def get_access_token(self) -> AccessToken:
        return self._run(calls.get_access_token(self.base_url, self.appid, self._secret))


class AsyncQQClient(AsyncSecretClient):
    BASE_URL = BASE_URL

    platform = "qq"

    async def code2session(self, code: str) -> LoginSession:
        return await self._run(calls.code2session(self.base_url, self.appid, self._secret, code))

    async def get_access_token(self) -> AccessToken:
        return await self._run(calls.get_access_token(self.base_url, self.appid, self._secret))
