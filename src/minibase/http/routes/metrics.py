"""GET /metrics: Prometheus' text format, for a scraper on this machine or one with the token."""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request
from starlette.responses import Response

from minibase.errors import ApiError
from minibase.http.auth import services_of
from minibase.http.routing import Media, Routes
from minibase.observability.exposition import CONTENT_TYPE
from minibase.observability.scrape import scrape

routes = Routes("health")
_RELAYED = ("x-forwarded-for", "forwarded", "x-real-ip")


@routes.add(
    "GET",
    "/metrics",
    "This server's metrics, summed over its workers, in Prometheus' text format (0.0.4):"
    " requests and latency by route, the database pool, jobs, the message outbox, platform"
    " errors, realtime sockets (docs/operations.md). With the metrics_token setting: send it"
    " as a bearer token; without: clients on this machine only",
    responses={200: ("The metrics", Media.text())},
)
async def metrics(request: Request) -> Response:
    services = services_of(request)
    token = services.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise ApiError(
                "metrics.invalid_token",
                401,
                "metrics_token is set: send Authorization: Bearer <metrics_token>",
            )
    elif not from_this_machine(request):
        raise ApiError(
            "metrics.forbidden",
            403,
            "without a metrics_token setting, /metrics answers clients on this machine only",
        )
    state = request.app.state
    body = await scrape(services, state.request_metrics, state.shared_counts)
    return Response(body, headers={"content-type": CONTENT_TYPE})


def from_this_machine(request: Request) -> bool:
    """A loopback peer whose request no proxy relayed: a reverse proxy on the same machine
    (nginx on 127.0.0.1) must not open /metrics to everyone it serves."""
    if any(name in request.headers for name in _RELAYED):
        return False
    peer = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:  # a Unix socket, or no peer at all
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
