"""One error type for every platform, with a stable `kind` a caller can map to its own errors.

The platform's own code stays in `errcode` (WeChat's 40029, Alipay's "isv.code-invalid" ...)
so that nothing is lost when a kind is broad.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorKind = Literal[
    "invalid_code",  # the login code is unknown or malformed
    "code_used",  # the login code was exchanged before
    "code_expired",  # the login code is too old
    "invalid_credentials",  # the app secret, private key or access token was refused
    "invalid_appid",  # the platform does not know this app
    "rate_limited",  # the platform asks us to slow down
    "unavailable",  # timeouts, connection errors, 5xx, a body that is not JSON
    "bad_response",  # JSON, but not of the documented shape
    "invalid_signature",  # a signature over platform data does not verify
    "decrypt_failed",  # wrong key, bad padding, or the plaintext is not what it should be
    "watermark_mismatch",  # encrypted data made for another app
    "expired_data",  # encrypted data older than the caller accepts
    "other",  # anything else: errcode tells what
]

KINDS: tuple[str, ...] = get_args(ErrorKind)

# Errcodes that mean "the access token is stale": fetch a new one and retry once.
_STALE_TOKEN_CODES = {
    "wechat": frozenset({40001, 40014, 42001}),
    "qq": frozenset({40001, 40014, 42001}),
    # access_token invalid, expired; content checks: antidirt's code 401, censor/image's error 2
    "douyin": frozenset({28001003, 28001008, 401, 2}),
}


class PlatformError(Exception):
    """A platform refused, failed, or answered something we cannot trust."""

    def __init__(
        self,
        platform: str,
        kind: ErrorKind,
        message: str,
        *,
        errcode: int | str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.platform = platform
        self.kind: ErrorKind = kind
        self.message = message
        self.errcode = errcode
        self.http_status = http_status

    @property
    def access_token_rejected(self) -> bool:
        """True when a token-using call failed because the access token is stale or revoked."""
        return self.errcode in _STALE_TOKEN_CODES.get(self.platform, ())

    def __str__(self) -> str:
        extra = f" (errcode {self.errcode})" if self.errcode is not None else ""
        return f"{self.platform} {self.kind}: {self.message}{extra}"

    def __repr__(self) -> str:
        return (
            f"PlatformError({self.platform!r}, {self.kind!r}, {self.message!r}, "
            f"errcode={self.errcode!r}, http_status={self.http_status!r})"
        )
