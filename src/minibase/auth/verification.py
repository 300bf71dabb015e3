"""Checking an access token, wherever one arrives: an HTTP request's Authorization header,
or a realtime socket (its upgrade request or an `auth` frame)."""

from __future__ import annotations

from minibase.auth.caller import Caller
from minibase.auth.tokens import TokenClaims
from minibase.services import Services


async def caller_for_token(services: Services, token: str) -> Caller:
    """The caller an access token names, if it is valid and not revoked."""
    return (await claims_for_token(services, token)).caller


async def claims_for_token(services: Services, token: str) -> TokenClaims:
    """What a valid, unrevoked access token claims (its caller, session, expiry)."""
    claims = services.signer.verify(token)
    await services.revocations.check(claims)
    return claims
