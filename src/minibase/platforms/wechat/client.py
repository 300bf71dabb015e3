"""WeChat mini program clients: the same calls, run synchronously or on an event loop."""

from __future__ import annotations

from typing import Any

from minibase.platforms.models import AccessToken, ContentVerdict, LoginSession, PhoneNumber
from minibase.platforms.transport import AsyncSecretClient, SyncSecretClient
from minibase.platforms.wechat import calls, links
from minibase.platforms.wechat.links import CodeImage

BASE_URL = "https://api.weixin.qq.com"


class WeChatClient(SyncSecretClient):
    BASE_URL = BASE_URL

    platform = "wechat"

    def code2session(self, code: str) -> LoginSession:
        return self._run(calls.code2session(self.base_url, self.appid, self._secret, code))

    def get_access_token(self, *, stable: bool = True, force_refresh: bool = False) -> AccessToken:
        call = calls.get_access_token(
            self.base_url, self.appid, self._secret, stable=stable, force_refresh=force_refresh
        )
        return self._run(call)

    def get_phone_number(self, code: str, access_token: str) -> PhoneNumber:
        return self._run(calls.get_phone_number(self.base_url, self.appid, code, access_token))

    def send_subscribe_message(self, access_token: str, **message: Any) -> None:
        """touser, template_id, data ({field: value}), page, miniprogram_state, lang."""
        self._run(calls.send_subscribe_message(self.base_url, access_token, **message))

    def get_unlimited_qrcode(self, access_token: str, **code: Any) -> CodeImage:
        """scene, page, check_path, env_version, width, auto_color, line_color, is_hyaline."""
        return self._run(links.get_unlimited_qrcode(self.base_url, access_token, **code))

    def generate_scheme(self, access_token: str, **target: Any) -> str:
        """path, query, env_version, expire_type, expire_time, expire_interval."""
        return self._run(links.generate_scheme(self.base_url, access_token, **target))

    def generate_url_link(self, access_token: str, **target: Any) -> str:
        """path, query, env_version, expire_type, expire_time, expire_interval."""
        return self._run(links.generate_url_link(self.base_url, access_token, **target))

    def msg_sec_check(self, access_token: str, **text: Any) -> ContentVerdict:
        """openid, content, scene (1-4), and optionally title, nickname, signature."""
        return self._run(calls.msg_sec_check(self.base_url, access_token, **text))

    def media_check_async(self, access_token: str, **media: Any) -> str:
        """openid, media_url, media_type (1 audio, 2 image), scene: the check's trace_id."""
        return self._run(calls.media_check_async(self.base_url, access_token, **media))


class AsyncWeChatClient(AsyncSecretClient):
    BASE_URL = BASE_URL

    platform = "wechat"

    async def code2session(self, code: str) -> LoginSession:
        return await self._run(calls.code2session(self.base_url, self.appid, self._secret, code))

    async def get_access_token(
        self, *, stable: bool = True, force_refresh: bool = False
    ) -> AccessToken:
        call = calls.get_access_token(
            self.base_url, self.appid, self._secret, stable=stable, force_refresh=force_refresh
        )
        return await self._run(call)

    async def get_phone_number(self, code: str, access_token: str) -> PhoneNumber:
        call = calls.get_phone_number(self.base_url, self.appid, code, access_token)
        return await self._run(call)

    async def send_subscribe_message(self, access_token: str, **message: Any) -> None:
        """touser, template_id, data ({field: value}), page, miniprogram_state, lang."""
        await self._run(calls.send_subscribe_message(self.base_url, access_token, **message))

    async def get_unlimited_qrcode(self, access_token: str, **code: Any) -> CodeImage:
        """scene, page, check_path, env_version, width, auto_color, line_color, is_hyaline."""
        return await self._run(links.get_unlimited_qrcode(self.base_url, access_token, **code))

    async def generate_scheme(self, access_token: str, **target: Any) -> str:
        """path, query, env_version, expire_type, expire_time, expire_interval."""
        return await self._run(links.generate_scheme(self.base_url, access_token, **target))

    async def generate_url_link(self, access_token: str, **target: Any) -> str:
        """path, query, env_version, expire_type, expire_time, expire_interval."""
        return await self._run(links.generate_url_link(self.base_url, access_token, **target))

    async def msg_sec_check(self, access_token: str, **text: Any) -> ContentVerdict:
        """openid, content, scene (1-4), and optionally title, nickname, signature."""
        return await self._run(calls.msg_sec_check(self.base_url, access_token, **text))

    async def media_check_async(self, access_token: str, **media: Any) -> str:
        """openid, media_url, media_type (1 audio, 2 image), scene: the check's trace_id."""
        return await self._run(calls.media_check_async(self.base_url, access_token, **media))
