"""The control operations: what a test or a developer does to the fake platforms (register
apps, log a fake person in, break a platform on purpose, read the call counts).

`Sandbox` offers them as methods; `/control/*` offers the same operations over HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from minibase.platforms.alipay import crypto as alipay_crypto
from minibase.platforms.baidu import crypto as baidu_crypto
from minibase.platforms.douyin import crypto as douyin_crypto
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.sandbox import alipay, identities, message_book, wechat_links
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.faults import OUTAGE_MODES, Outage
from minibase.sandbox.state import PLATFORMS, App, SandboxState

_QUOTA_PLATFORMS = ("wechat", "qq", "douyin")
_SUBSCRIBE_PLATFORMS = ("wechat", "douyin", "alipay")
_USER_DATA_PLATFORMS = ("wechat", "qq", "douyin", "baidu")
_RAW_DATA_PLATFORMS = ("wechat", "qq", "douyin")
# Outages hit a gateway: the apps' platforms, and WeChat Pay (whose merchants are not apps).
_OUTAGE_PLATFORMS = (*PLATFORMS, "wechatpay")


def _check_platform(platform: str, allowed: tuple[str, ...] = PLATFORMS) -> None:
    if platform not in PLATFORMS:
        raise SandboxError(
            "sandbox.unknown_platform", 400, f"platform must be one of {', '.join(PLATFORMS)}"
        )
    if platform not in allowed:
        raise SandboxError(
            "sandbox.unsupported", 400, f"this operation is for {', '.join(allowed)} only"
        )


def _check_public_key(text: str) -> None:
    try:
        alipay_crypto.load_public_key(text)
    except PlatformError as exc:
        raise SandboxError(
            "sandbox.invalid_request", 400, "app_public_key is not an RSA public key"
        ) from exc


MAX_BATCH = 200_000


class SandboxControl:
    """Control operations over one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _app(self, platform: str, appid: str) -> App:
        app = self._state.app(platform, appid)
        if app is None:
            raise SandboxError(
                "sandbox.unknown_app", 404, f"no {platform} app {appid!r}: register it first"
            )
        return app

    def _current_session_key(self, platform: str, appid: str, person: str) -> str:
        key = self._state.session_key(platform, appid, person)
        if key is None:
            raise SandboxError(
                "sandbox.not_logged_in",
                409,
                f"{person!r} has no session on {platform} app {appid!r}: "
                "exchange a login code first",
            )
        return key

    def register_app(
        self,
        platform: str,
        appid: str,
        *,
        secret: str | None = None,
        account: str | None = None,
        app_public_key: str | None = None,
        aes_key: str | None = None,
    ) -> dict[str, Any]:
        """Register (or replace) an app. A missing secret, or Alipay AES key, is generated."""
        _check_platform(platform)
        if not appid:
            raise SandboxError("sandbox.invalid_request", 400, "appid must not be empty")
        if platform == "alipay":
            if not app_public_key:
                raise SandboxError(
                    "sandbox.invalid_request", 400, "an Alipay app needs its app_public_key"
                )
            _check_public_key(app_public_key)
            aes_key = aes_key or identities.aes_key()
        app = App(
            platform=platform,
            appid=appid,
            secret=secret or identities.app_secret(),
            account=account or None,
            app_public_key=app_public_key,
            aes_key=aes_key,
        )
        answer = app.to_json()
        if platform == "alipay":
            answer["alipay_public_key"] = alipay.platform_keys(self._state)[1]
        with self._state.lock:
            self._state.apps[(platform, appid)] = app
        return answer

    def apps(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [app.to_json() for app in self._state.apps.values()]

    def login_code(
        self, platform: str, appid: str, person: str, *, guest: bool = False
    ) -> dict[str, Any]:
        """A fresh single-use login code for a fake person, and who they will turn out to be.

        Douyin's tt.login also gives an `anonymous_code` (the person's id without logging in);
        `guest` is a person not logged in to the Douyin app: only the anonymous code."""
        _check_platform(platform)
        if guest:
            _check_platform(platform, ("douyin",))
        with self._state.lock:
            app = self._app(platform, appid)
            answer: dict[str, Any] = {"code": None, "openid": None, "unionid": None}
            if not guest:
                code = self._state.issue_code(platform, appid, person)
                answer["code"] = code.value
                answer["openid"] = identities.openid(platform, appid, person)
                if app.account:
                    answer["unionid"] = identities.unionid(platform, app.account, person)
            if platform == "douyin":
                anonymous = self._state.issue_code(platform, appid, person, "anonymous_code")
                answer["anonymous_code"] = anonymous.value
                answer["anonymous_openid"] = identities.anonymous_openid(appid, person)
            if platform == "alipay":
                answer["user_id"] = identities.alipay_user_id(person)
        return answer

    def login_codes(self, platform: str, appid: str, persons: Sequence[str]) -> list[str]:
        """Many login codes at once, in the order of `persons` (load tests mint thousands)."""
        if len(persons) > MAX_BATCH:
            raise SandboxError("sandbox.invalid_request", 400, f"at most {MAX_BATCH} persons")
        return [self.login_code(platform, appid, person)["code"] for person in persons]

    def phone_code(
        self, appid: str, person: str, phone: str, country_code: str = "86"
    ) -> dict[str, str]:
        """A single-use code for WeChat's getuserphonenumber."""
        with self._state.lock:
            self._app("wechat", appid)
            code = self._state.issue_phone_code(appid, person, phone, country_code)
        return {"code": code.value}

    def encrypted_data(
        self, platform: str, appid: str, person: str, data: Mapping[str, Any]
    ) -> dict[str, str]:
        """`encryptedData` and `iv` as the mini program receives them (getUserInfo,
        getPhoneNumber ...), sealed with the person's current session key."""
        _check_platform(platform, _USER_DATA_PLATFORMS)
        with self._state.lock:
            self._app(platform, appid)
            key = self._current_session_key(platform, appid, person)
            timestamp = int(self._state.now())
        if platform == "baidu":
            encrypted, iv = baidu_crypto.encrypt_user_data(key, data, appid)
        elif platform == "douyin":
            encrypted, iv = douyin_crypto.encrypt_user_data(key, data, appid, timestamp=timestamp)
        else:
            encrypted, iv = wechat_crypto.encrypt_user_data(key, data, appid, timestamp=timestamp)
        return {"encrypted_data": encrypted, "iv": iv}

    def raw_data_signature(
        self, platform: str, appid: str, person: str, raw_data: str
    ) -> dict[str, str]:
        """The `signature` of getUserInfo's rawData: sha1(rawData + session_key)."""
        _check_platform(platform, _RAW_DATA_PLATFORMS)
        with self._state.lock:
            self._app(platform, appid)
            key = self._current_session_key(platform, appid, person)
        return {"signature": wechat_crypto.sign_raw_data(raw_data, key)}

    def alipay_phone(self, appid: str, person: str, phone: str) -> dict[str, str]:
        """What my.getPhoneNumber returns: the AES-encrypted number and the platform's sign."""
        with self._state.lock:
            app = self._app("alipay", appid)
        return alipay.encrypted_phone(self._state, app, phone)

    def subscribe(
        self, platform: str, appid: str, person: str, template_id: str, count: int = 1
    ) -> str:
        """The person accepts `count` messages of the template in the mini program's
        requestSubscribeMessage; their openid in the app."""
        _check_platform(platform, _SUBSCRIBE_PLATFORMS)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise SandboxError(
                "sandbox.invalid_request", 400, "count must be a whole number from 1 to 1000"
            )
        with self._state.lock:
            self._app(platform, appid)
            return message_book.grant(self._state, platform, appid, person, template_id, count)

    def subscribe_messages(self) -> list[dict[str, Any]]:
        """The subscribe messages delivered so far on every platform, oldest first."""
        with self._state.lock:
            return [dict(message) for message in self._state.messages.sent]

    def publish_pages(self, appid: str, pages: Sequence[str]) -> dict[str, Any]:
        """A WeChat app's published pages, the first its home page: what codes with
        check_path and links with a path are checked against."""
        if not pages or not all(isinstance(p, str) and p and p[0] != "/" for p in pages):
            raise SandboxError(
                "sandbox.invalid_request", 400, 'pages: a list of paths like "pages/index/index"'
            )
        with self._state.lock:
            self._app("wechat", appid)
        return {"appid": appid, "pages": wechat_links.set_pages(self._state, appid, list(pages))}

    def rate_limit(self, platform: str, appid: str, per_minute: int | None) -> dict[str, Any]:
        """Allow at most `per_minute` calls a minute for the app (None lifts the limit)."""
        _check_platform(platform, _QUOTA_PLATFORMS)
        if per_minute is not None and per_minute < 0:
            raise SandboxError("sandbox.invalid_request", 400, "per_minute must not be negative")
        with self._state.lock:
            self._app(platform, appid)
            self._state.faults.set_quota(platform, appid, per_minute)
        return {"platform": platform, "appid": appid, "per_minute": per_minute}

    def outage(
        self, platform: str, mode: str, count: int = 1, seconds: float | None = None
    ) -> dict[str, Any]:
        """Make the next `count` calls to a platform fail in `mode` (count 0 ends an outage)."""
        if platform not in _OUTAGE_PLATFORMS:
            raise SandboxError(
                "sandbox.unknown_platform",
                400,
                f"platform must be one of {', '.join(_OUTAGE_PLATFORMS)}",
            )
        if mode not in OUTAGE_MODES:
            raise SandboxError(
                "sandbox.invalid_request", 400, f"mode must be one of {', '.join(OUTAGE_MODES)}"
            )
        if count < 0:
            raise SandboxError("sandbox.invalid_request", 400, "count must not be negative")
        hold = self._state.timeout_seconds if seconds is None else seconds
        with self._state.lock:
            if count == 0:
                self._state.faults.outages.pop(platform, None)
            else:
                self._state.faults.outages[platform] = Outage(mode, count, hold)
        return {"platform": platform, "mode": mode, "count": count, "seconds": hold}

    def reset(self) -> dict[str, bool]:
        """Forget everything but the platform keys (Alipay's, WeChat Pay's): they stay trusted."""
        with self._state.lock:
            self._state.clear()
        return {"reset": True}

    def calls(self) -> dict[str, dict[str, int]]:
        """How many calls reached each platform, by path: `{"wechat": {"/cgi-bin/token": 1}}`."""
        with self._state.lock:
            return self._state.faults.call_counts()
