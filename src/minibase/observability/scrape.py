"""What `GET /metrics` answers: the counters of every worker of this server, and gauges read at
scrape time.

Under `minibase serve` the workers' counters are summed through the server's folder
(shared_counts.py); elsewhere (tests, an app mounted by hand) they are this process's.

The database gauges (jobs, the message outbox) come from two indexed counts and one MIN; when
the database does not answer within SCRAPE_TIMEOUT they are left out and `minibase_database_up`
says 0, so a scrape never hangs on a dead database.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from minibase import __version__
from minibase.observability.exposition import Family, gauge, render
from minibase.observability.platform_errors import platform_error_families
from minibase.observability.requests import RequestMetrics, request_families
from minibase.observability.shared_counts import FOLDER, Counts, SharedCounts
from minibase.server_folder import server_folder
from minibase.services import Services
from minibase.store.database import PoolStats

SCRAPE_TIMEOUT = 2.0  # seconds the database may take to answer a scrape's counts


def this_process(services: Services, requests: RequestMetrics) -> Counts:
    """This process's counters and its own gauges, as they are now."""
    return Counts(
        requests.histograms(),
        services.platforms.errors.counts(),
        {
            "in_flight": requests.in_flight,
            "realtime_connections": services.realtime.connections,
            "realtime_subscriptions": services.realtime.subscriptions,
        },
    )


def share_counts(services: Services, requests: RequestMetrics) -> SharedCounts | None:
    """Under `minibase serve`: this worker's counts, shared with the other workers of its
    server (started; stop it when the app stops). Elsewhere None: nothing to share."""
    folder = server_folder()
    if folder is None:
        return None
    shared = SharedCounts(folder / FOLDER, lambda: this_process(services, requests))
    shared.start()
    return shared


async def scrape(
    services: Services, requests: RequestMetrics, shared: SharedCounts | None = None
) -> str:
    counts = this_process(services, requests) if shared is None else await shared.total()
    engine = services.db.dialect.name
    families = [
        gauge(
            "minibase_info",
            "This instance: its version and database engine",
            1,
            (("version", __version__), ("engine", engine)),
        ),
        gauge(
            "minibase_start_time_seconds",
            "When this process built its services (Unix time)",
            services.started.timestamp(),
        ),
        *request_families(counts.requests, counts.gauges.get("in_flight", 0)),
        *pool_families(services.db.pool_stats()),
        *await stored_families(services),
        *platform_error_families(counts.platform_errors),
        gauge(
            "minibase_realtime_connections",
            "Realtime sockets open now",
            counts.gauges.get("realtime_connections", 0),
        ),
        gauge(
            "minibase_realtime_subscriptions",
            "Queries watched over the realtime sockets open now",
            counts.gauges.get("realtime_subscriptions", 0),
        ),
    ]
    return render(families)


def pool_families(stats: PoolStats) -> list[Family]:
    families = [
        gauge(
            "minibase_db_pool_size",
            "Most connections of the pool (PostgreSQL), or reader threads (SQLite)",
            stats.size,
        ),
        gauge("minibase_db_pool_open", "Database connections open now", stats.open),
    ]
    if stats.in_use is not None:
        families.append(
            gauge(
                "minibase_db_pool_in_use", "Connections lent to a request or job now", stats.in_use
            )
        )
    if stats.waiting:
        waiting = Family(
            "minibase_db_queue_waiting",
            "gauge",
            "Database work waiting: for its thread (SQLite: reads, and writes for the one"
            " writer), for a pooled connection (PostgreSQL)",
        )
        for queue, count in sorted(stats.waiting.items()):
            waiting.add(count, (("queue", queue),))
        families.append(waiting)
    return families


async def stored_families(services: Services) -> list[Family]:
    try:
        jobs, oldest, outbox = await asyncio.wait_for(_counts(services), SCRAPE_TIMEOUT)
    except Exception:  # a timeout, a refused connection, any driver's error: unreachable
        return [gauge("minibase_database_up", "1 when the database answered this scrape", 0)]
    by_state = Family("minibase_jobs", "gauge", "Jobs queued (due or later) and running")
    for state, count in jobs.items():
        by_state.add(count, (("state", state),))
    age = 0.0 if oldest is None else (services.clock.now() - oldest).total_seconds()
    return [
        gauge("minibase_database_up", "1 when the database answered this scrape", 1),
        by_state,
        gauge(
            "minibase_jobs_oldest_due_age_seconds",
            "How long the queued job due longest ago has waited for a worker (0: none waits)",
            max(age, 0.0),
        ),
        gauge(
            "minibase_subscribe_messages_queued",
            "Subscribe messages waiting in the outbox to be sent",
            outbox,
        ),
    ]


async def _counts(services: Services) -> tuple[dict[str, int], datetime | None, int]:
    jobs = await services.jobs.unfinished()
    oldest = await services.jobs.oldest_due()
    outbox = await services.messages.queued()
    return jobs, oldest, outbox
