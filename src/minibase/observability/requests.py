"""Counts and latencies of the HTTP requests this process answered, by route template, method
and status class.

Labels are bounded: the route is the template a request matched
(`/api/collections/{name}/records`, never the raw path), `(unmatched)` for a 404 or 405 of the
router, or a mount's prefix (`/_/*`). Recording is a dict lookup, a bisection and two additions
on the event loop: no lock, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

from minibase.observability.exposition import Family, cumulative

# Prometheus' default buckets (seconds): from a cached read to a slow platform call.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "(unmatched)"
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# Any other method a client makes up counts as OTHER: a label value per made-up word would let
# clients grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

RequestKey = tuple[str, str, str]  # route, method, status class
# A series' counts per bucket (the last one: above every bound) and its sum of seconds.
Histogram = tuple[list[int], float]


class _Series:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0


class RequestMetrics:
    """Owned by the app (one per process); the middleware records, `/metrics` renders."""

    def __init__(self) -> None:
        self._series: dict[RequestKey, _Series] = {}
        # each (route, method, status) seen, to its series: one lookup a request (bounded:
        # routes are templates, methods the known ones, statuses three digits)
        self._answers: dict[tuple[str, str, int], _Series] = {}
        self.in_flight = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self._answers.get((route, method, status))
        if series is None:
            series = self._series_of(route, method, status)
        series.counts[bisect_left(BUCKETS, seconds)] += 1
        series.total += seconds

    def _series_of(self, route: str, method: str, status: int) -> _Series:
        known = method in _METHODS
        key = (
            route,
            method if known else "OTHER",
            _STATUS_CLASSES[min(max(status // 100, 1), 5) - 1],
        )
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        if known and 100 <= status <= 999:
            self._answers[(route, method, status)] = series
        return series

    def histograms(self) -> dict[RequestKey, Histogram]:
        """A copy of this process's numbers as they are now."""
        return {key: (series.counts.copy(), series.total) for key, series in self._series.items()}


def request_families(histograms: Mapping[RequestKey, Histogram], in_flight: float) -> list[Family]:
    requests = Family(
        "minibase_http_requests_total",
        "counter",
        "HTTP requests answered, by route template, method and status class",
    )
    latency = Family(
        "minibase_http_request_duration_seconds",
        "histogram",
        "Seconds from a request's arrival to the end of its answer",
    )
    bounds = [*(repr(bound) for bound in BUCKETS), "+Inf"]
    for (route, method, status), (counts, total) in sorted(histograms.items()):
        labels = (("route", route), ("method", method), ("status", status))
        running = cumulative(counts)
        requests.add(running[-1], labels)
        for bound, count in zip(bounds, running, strict=True):
            latency.add(count, (*labels, ("le", bound)), "_bucket")
        latency.add(total, labels, "_sum")
        latency.add(running[-1], labels, "_count")
    in_flight_now = Family(
        "minibase_http_requests_in_flight", "gauge", "HTTP requests being answered now"
    )
    in_flight_now.add(in_flight)
    return [requests, latency, in_flight_now]
