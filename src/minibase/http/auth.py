"""Who is calling: from the Authorization header, and from which address."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from minibase.auth.caller import ANONYMOUS, Caller
from minibase.auth.tokens import TokenClaims
from minibase.auth.verification import claims_for_token
from minibase.errors import ApiError
from minibase.http.middleware import raw_header
from minibase.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def caller_of(request: Request) -> Caller:
    """The caller; anonymous without a token; 401 with a bad or expired one, or a revoked one
    (its user disabled or deleted, its roles changed, its session ended)."""
    claims = await claims_of(request)
    return ANONYMOUS if claims is None else claims.caller


async def claims_of(request: Request) -> TokenClaims | None:
    """What the request's access token claims (its caller, session, expiry); None without one."""
    header = raw_header(request.scope, b"authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("auth.invalid_token", 401, "use the header Authorization: Bearer <token>")
    return await claims_for_token(services_of(request), token.strip())


async def require_user(request: Request) -> Caller:
    caller = await caller_of(request)
    if not caller.is_user:
        if caller.is_admin:
            raise ApiError("auth.forbidden", 403, "this route is for users, not admins")
        raise ApiError("auth.required", 401, "this route needs a user access token")
    return caller


async def require_user_or_admin(request: Request) -> Caller:
    """A user (the route then shows them their own) or an admin (anything)."""
    caller = await caller_of(request)
    if not (caller.is_user or caller.is_admin):
        raise ApiError("auth.required", 401, "this route needs a user or an admin token")
    return caller


async def require_admin(request: Request) -> Caller:
    return (await require_admin_token(request)).caller


async def require_admin_token(request: Request) -> TokenClaims:
    """What the caller's admin token claims (its caller, its session)."""
    claims = await claims_of(request)
    if claims is None:
        raise ApiError("auth.required", 401, "this route needs an admin token")
    if not claims.caller.is_admin:
        raise ApiError("auth.admin_required", 403, "this route needs an admin token")
    return claims


def client_address(request: Request) -> str:
    """The client's IP address: the connection's peer, or — when the peer is one of the
    `trusted_proxies` — the nearest address in X-Forwarded-For that is not one of them."""
    peer = request.client.host if request.client else ""
    trusted = services_of(request).settings.trusted_proxies
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def _is_trusted(address: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(proxy, strict=False) for proxy in trusted)
