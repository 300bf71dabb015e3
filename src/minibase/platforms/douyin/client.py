"""Douyin (ByteDance) mini program clients, sync and async: login, access tokens, subscribe
notifications and content checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minibase.platforms.douyin import calls, content
from minibase.platforms.models import AccessToken, ContentVerdict, LoginSession
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

    def antidirt(self, access_token: str, contents: Sequence[str]) -> list[ContentVerdict]:
        """Douyin's verdict on each text (1 to 10 a call): risky when it hits, else pass."""
        return self._run(content.antidirt(self.base_url, access_token, contents))

    def censor_image(
        self, access_token: str, *, image: str | None = None, image_data: str | None = None
    ) -> ContentVerdict:
        """Douyin's verdict on an image at a URL, or sent as base64 `image_data`."""
        call = content.censor_image(
            self.base_url, self.appid, access_token, image=image, image_data=image_data
        )
        return self._run(call)


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

    async def antidirt(self, access_token: str, contents: Sequence[str]) -> list[ContentVerdict]:
        """Douyin's verdict on each text (1 to 10 a call): risky when it hits, else pass."""
        return await self._run(content.antidirt(self.base_url, access_token, contents))

    async def censor_image(
        self, access_token: str, *, image: str | None = None, image_data: str | None = None
    ) -> ContentVerdict:
        """Douyin's verdict on an image at a URL, or sent as base64 `image_data`."""
        call = content.censor_image(
            self.base_url, self.appid, access_token, image=image, image_data=image_data
        )
        return await self._run(call)
