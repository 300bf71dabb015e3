"""Short-lived signed access tokens: compact JWS with HS256, a key derived from the master key.

The header is fixed and compared as bytes, so no algorithm negotiation can be abused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.caller import Caller, CallerKind
from minibase.clock import Clock
from minibase.errors import ApiError
from minibase.memo import remember

VERIFIED_CACHE_SIZE = 10_000


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def invalid_token(message: str = "the access token is invalid") -> ApiError:
    return ApiError("auth.invalid_token", 401, message)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified access token says: its caller, its expiry (unix seconds), and what a
    revocation may name: its session (the refresh family, `sid`) and the user's token version
    when it was issued (`ver`)."""

    caller: Caller
    expires: int
    session: str | None = None
    version: int = 0


class TokenSigner:
    def __init__(self, key: bytes, key_id: str, clock: Clock) -> None:
        self._key = key
        self._clock = clock
        self._verified: dict[str, TokenClaims] = {}
        self._header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": key_id}))

    def issue(self, caller: Caller, ttl: int, **extra: Any) -> str:
        now = int(self._clock.timestamp())
        claims: dict[str, Any] = {
            "sub": caller.id,
            "typ": caller.kind,
            "iat": now,
            "exp": now + ttl,
        }
        if caller.roles:
            claims["roles"] = list(caller.roles)
        if caller.platform:
            claims["plat"] = caller.platform
        if caller.appid:
            claims["app"] = caller.appid
        claims.update(extra)
        signing_input = self._header + b"." + _b64(orjson.dumps(claims))
        return (signing_input + b"." + self._sign(signing_input)).decode()

    def _sign(self, signing_input: bytes) -> bytes:
        return _b64(hmac.new(self._key, signing_input, hashlib.sha256).digest())

    def verify(self, token: str) -> TokenClaims:
        """What a token claims; ApiError auth.invalid_token / auth.token_expired otherwise.

        A mini program sends the same token with every call until it expires, so tokens that
        verified are remembered (bounded) and only their expiry is checked again. Whether the
        token was revoked is not for the signer to say: see Revocations.check.
        """
        known = self._verified.get(token)
        if known is not None:
            if known.expires <= self._clock.timestamp():
                raise ApiError("auth.token_expired", 401, "the access token has expired")
            return known
        return remember(self._verified, token, self._verify_signature(token), VERIFIED_CACHE_SIZE)

    def _verify_signature(self, token: str) -> TokenClaims:
        raw = token.encode()
        header, _, rest = raw.partition(b".")
        payload, _, signature = rest.partition(b".")
        if header != self._header or not payload or not signature:
            raise invalid_token()
        if not hmac.compare_digest(signature, self._sign(header + b"." + payload)):
            raise invalid_token()
        try:
            claims = orjson.loads(_unb64(payload))
            kind: CallerKind = claims["typ"]
            expires = int(claims["exp"])
            session, version = claims.get("sid"), claims.get("ver", 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise invalid_token() from None
        if kind not in ("user", "admin") or type(version) is not int:
            raise invalid_token()
        if session is not None and not isinstance(session, str):
            raise invalid_token()
        if expires <= self._clock.timestamp():
            raise ApiError("auth.token_expired", 401, "the access token has expired")
        caller = Caller(
            kind=kind,
            id=claims.get("sub"),
            roles=tuple(claims.get("roles", ())),
            platform=claims.get("plat"),
            appid=claims.get("app"),
        )
        return TokenClaims(caller, expires, session, version)
