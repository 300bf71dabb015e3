"""Which rate limits a request counts against: its route's group, its client address, and its
signed-in user. Wired in front of every endpoint's handler when any limit is set."""

from __future__ import annotations

from starlette.requests import Request

from minibase.errors import ApiError
from minibase.http.auth import claims_of, client_address, services_of
from minibase.http.routing import Endpoint

UNLIMITED = "unlimited"  # e.g. the load balancer's health check
_READS = frozenset({"GET", "HEAD"})


def group_of(endpoint: Endpoint) -> str:
    """The group a route declares, else the one its declaration gives: admin routes `admin`,
    the record routes `records_read` or `records_write` by method, the file and function
    routes `files` and `functions`, everything else `default`."""
    if endpoint.rate_group is not None:
        return endpoint.rate_group
    if endpoint.access == "admin":
        return "admin"
    if endpoint.tag == "records":
        return "records_read" if endpoint.method in _READS else "records_write"
    if endpoint.tag in ("files", "functions"):
        return endpoint.tag
    return "default"


async def enforce_rate_limits(request: Request, endpoint: Endpoint) -> None:
    """429 `request.rate_limited` when the request's group is spent for its address or user.
    An admin's request counts in the `admin` group, whatever the route, per admin."""
    group = group_of(endpoint)
    if group == UNLIMITED:
        return
    user = None
    if "authorization" in request.headers:
        try:
            claims = await claims_of(request)
        except ApiError:  # the route answers the bad token itself (401), counted as anonymous
            claims = None
        if claims is not None and claims.caller.is_admin:
            group, user = "admin", f"admin:{claims.caller.id}"
        elif claims is not None and claims.caller.is_user:
            user = claims.caller.id
    await services_of(request).rate_limits.check(group, client_address(request), user)
