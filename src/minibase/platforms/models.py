"""What the platform clients take and give back. Secrets and phone numbers stay out of reprs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minibase.platforms.errors import PlatformError

PLATFORMS = ("wechat", "alipay", "douyin", "baidu", "qq")


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """One mini program's credentials on one platform.

    WeChat, QQ, Douyin and Baidu use `secret` (Baidu's `appid` is its app key). Alipay uses
    `private_key` (the app private key, PEM), `platform_public_key` (the Alipay public key, PEM)
    and, for encrypted content such as phone numbers, `aes_key` (base64). WeChat's message
    push uses `push_token` and `push_aes_key` (the EncodingAESKey).
    """

    platform: str
    appid: str
    secret: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    platform_public_key: str | None = field(default=None, repr=False)
    aes_key: str | None = field(default=None, repr=False)
    push_token: str | None = field(default=None, repr=False)
    push_aes_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LoginSession:
    """The answer to a login-code exchange.

    `raw` is the platform's answer without session keys or tokens, so it can be stored or
    logged; `session_key` (WeChat, QQ, Douyin, Baidu) is kept apart and out of the repr.

    Douyin also answers `anonymous_openid` when its `anonymous_code` was sent. A Douyin user
    who is not logged in to the Douyin app has only that: `openid` is then empty (and there
    is no session key nor unionid), and `guest` is True.
    """

    platform: str
    appid: str
    openid: str
    unionid: str | None
    session_key: str | None = field(repr=False)
    anonymous_openid: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def guest(self) -> bool:
        """A Douyin guest: known by the anonymous_openid alone."""
        return not self.openid and self.anonymous_openid is not None


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A user's phone number: `phone_number` carries the country code for numbers abroad."""

    phone_number: str = field(repr=False)
    pure_phone_number: str = field(repr=False)
    country_code: str
    appid: str | None = None
    timestamp: int | None = None

    @classmethod
    def from_user_data(cls, data: Mapping[str, Any], *, platform: str) -> PhoneNumber:
        """Read the {phoneNumber, purePhoneNumber, countryCode, watermark} shape.

        WeChat's phone_info, and the decrypted phone data of WeChat, QQ and Douyin, share it.
        """
        phone = data.get("phoneNumber")
        pure = data.get("purePhoneNumber", phone)
        if not isinstance(phone, str) or not phone or not isinstance(pure, str):
            raise PlatformError(platform, "bad_response", "the phone data has no phoneNumber")
        watermark = data.get("watermark")
        watermark = watermark if isinstance(watermark, Mapping) else {}
        appid = watermark.get("appid")
        timestamp = watermark.get("timestamp")
        return cls(
            phone_number=phone,
            pure_phone_number=pure,
            # WeChat's own sample answers with the number 86, other answers with "86".
            country_code=str(data.get("countryCode", "")),
            appid=appid if isinstance(appid, str) else None,
            timestamp=timestamp if isinstance(timestamp, int) else None,
        )


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A platform's app-level access token and its lifetime in seconds from when it was issued."""

    value: str = field(repr=False)
    expires_in: int


# Content security (WeChat security.msgSecCheck / mediaCheckAsync, version 2)
CONTENT_SCENES: Mapping[str, int] = {"profile": 1, "comment": 2, "forum": 3, "social_log": 4}
CONTENT_LABELS: Mapping[int, str] = {
    100: "normal",
    10001: "ad",
    20001: "politics",
    20002: "porn",
    20003: "abuse",
    20006: "illegal",
    20008: "fraud",
    20012: "vulgar",
    20013: "copyright",
    21000: "other",
}
SUGGESTIONS = ("pass", "review", "risky")  # mildest first


@dataclass(frozen=True, slots=True)
class ContentVerdict:
    """What the platform suggests for a text or a media file: `pass`, `review` (a person
    should look) or `risky`, with the label of what was found (100 when nothing) and the
    platform's trace id. `detail` keeps each strategy's answer as given."""

    suggest: str
    label: int
    trace_id: str | None = None
    detail: tuple[Mapping[str, Any], ...] = ()

    @property
    def label_name(self) -> str:
        return CONTENT_LABELS.get(self.label, "other")

    @classmethod
    def from_answer(cls, body: Mapping[str, Any], *, platform: str = "wechat") -> ContentVerdict:
        """Read `result` {suggest, label}, `detail` and `trace_id` (the answer of
        msg_sec_check and the wxa_media_check push event share the shape; the label comes
        as a number or as digits)."""
        result = body.get("result")
        suggest = result.get("suggest") if isinstance(result, Mapping) else None
        if suggest not in SUGGESTIONS:
            raise PlatformError(platform, "bad_response", "the answer has no result.suggest")
        assert isinstance(result, Mapping)
        label = result.get("label", 100)
        if isinstance(label, str) and label.isdigit():
            label = int(label)
        if not isinstance(label, int) or isinstance(label, bool):
            raise PlatformError(platform, "bad_response", "result.label is not a number")
        detail = body.get("detail")
        # a push in XML mode gives one <detail> as an object rather than a list of one
        listed = detail if isinstance(detail, list) else [detail]
        items = tuple(item for item in listed if isinstance(item, Mapping))
        trace_id = body.get("trace_id")
        return cls(
            suggest=str(suggest),
            label=label,
            trace_id=trace_id if isinstance(trace_id, str) and trace_id else None,
            detail=items,
        )
