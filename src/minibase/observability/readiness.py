"""Readiness, as a load balancer asks it: may this instance take traffic now?

Liveness (`/api/health`) says the process answers; readiness (`/api/ready`) also says no while
the database is unreachable, while the database is behind the code (migrations pending), and
while the instance is shutting down (its server's drain after SIGTERM, observability/draining.py,
then `services.shutting_down`), so that traffic drains away before the process stops.
"""

from __future__ import annotations

import asyncio

from minibase.errors import ApiError
from minibase.observability.draining import draining
from minibase.services import Services
from minibase.store.migrations import MIGRATIONS, last_applied

READY_TIMEOUT = 2.0  # seconds the database may take to answer before it counts as unreachable


async def unready(services: Services) -> ApiError | None:
    """Why this instance should not take traffic now (None: it may)."""
    if services.shutting_down or draining():
        return ApiError("server.shutting_down", 503, "this instance is shutting down")
    try:
        applied = await asyncio.wait_for(last_applied(services.db), READY_TIMEOUT)
    except Exception:  # a timeout, a refused connection, any driver's error: unreachable
        return ApiError("server.unavailable", 503, "the database is unavailable; retry")
    latest = MIGRATIONS[-1].version
    if applied is None or applied.version < latest:
        return ApiError(
            "server.migrations_pending",
            503,
            f"the database is at schema version {applied.version if applied else 0}, the code"
            f" needs {latest}: run `minibase migrate`",
            {"schema_version": applied.version if applied else 0, "latest_known": latest},
        )
    return None
