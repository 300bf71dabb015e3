"""The workers of one server share their counts through files in the server's folder: a scrape
of any worker sums them all (counters, histogram buckets, gauges of running workers), keeps the
counts of workers that exited, never goes backwards whichever worker answers, and survives a
broken file. Here two "workers" are two recorders in one process sharing one folder."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from minibase.observability.exposition import gauge, render
from minibase.observability.platform_errors import PlatformErrors, platform_error_families
from minibase.observability.requests import RequestMetrics, request_families
from minibase.observability.shared_counts import Counts, SharedCounts
from minibase.platforms import PlatformError
from tests.observability.conftest import Scraped, parse, value

RECORDS = "/api/collections/{name}/records"
OK = {"route": RECORDS, "method": "GET", "status": "2xx"}


@dataclass
class Worker:
    """What one worker process counts, and its file among its server's."""

    folder: Path
    pid: int | None = None
    requests: RequestMetrics = field(default_factory=RequestMetrics)
    errors: PlatformErrors = field(default_factory=PlatformErrors)
    sockets: int = 0

    def __post_init__(self) -> None:
        self.shared = SharedCounts(self.folder, self.take, pid=self.pid)

    def take(self) -> Counts:
        gauges = {"in_flight": self.requests.in_flight, "realtime_connections": self.sockets}
        return Counts(self.requests.histograms(), self.errors.counts(), gauges)

    async def scrape(self) -> Scraped:
        counts = await self.shared.total()
        families = [
            *request_families(counts.requests, counts.gauges.get("in_flight", 0)),
            *platform_error_families(counts.platform_errors),
        ]
        sockets = counts.gauges.get("realtime_connections", 0)
        families.append(gauge("minibase_realtime_connections", "Realtime sockets", sockets))
        return parse(render(families))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "metrics"


@pytest.fixture
def elsewhere() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing for another worker of the server (its pid names that worker's file)."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def buckets(scraped: Scraped, **labels: str) -> list[float]:
    return [
        s.value
        for s in scraped["minibase_http_request_duration_seconds"]
        if s.name.endswith("_bucket") and labels.items() <= s.labels.items()
    ]


async def test_a_scrape_of_either_worker_sums_both_counters_and_histogram_buckets(
    folder: Path, elsewhere: subprocess.Popen[bytes]
) -> None:
    one, two = Worker(folder), Worker(folder, pid=elsewhere.pid)
    for seconds in (0.003, 0.003, 0.3):
        one.requests.observe(RECORDS, "GET", 200, seconds)
    for seconds in (0.003, 7.0):
        two.requests.observe(RECORDS, "GET", 200, seconds)
    two.requests.observe(RECORDS, "POST", 503, 0.02)
    two.errors.count(PlatformError("wechat", "invalid_code", "bad code", errcode=40029))
    one.requests.in_flight, two.requests.in_flight = 1, 2
    one.sockets, two.sockets = 3, 4
    await two.shared.publish()  # as its background task does once a second

    for scraped in (await one.scrape(), await two.scrape()):
        assert value(scraped, "minibase_http_requests_total", **OK) == 5
        assert buckets(scraped, **OK) == [3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5]  # 5 ms .. 10 s, +Inf
        assert value(scraped, "minibase_http_request_duration_seconds_count", **OK) == 5
        assert value(scraped, "minibase_http_request_duration_seconds_sum", **OK) == pytest.approx(
            7.309
        )
        assert value(scraped, "minibase_http_requests_total", method="POST", status="5xx") == 1
        assert value(scraped, "minibase_platform_errors_total", errcode="40029") == 1
        assert value(scraped, "minibase_http_requests_in_flight") == 3  # gauges of both, summed
        assert value(scraped, "minibase_realtime_connections") == 7


async def test_the_counts_of_a_worker_that_exited_stay_and_its_gauges_go(
    folder: Path, elsewhere: subprocess.Popen[bytes]
) -> None:
    one, stopped, crashed = Worker(folder), Worker(folder), Worker(folder, pid=elsewhere.pid)
    for worker in (one, stopped, crashed):
        worker.requests.observe(RECORDS, "GET", 200, 0.003)
        worker.sockets = 2
    await crashed.shared.publish()
    await stopped.shared.stop()  # a worker that stopped cleanly (granian restarts it)
    elsewhere.kill()  # and one that died
    elsewhere.wait()

    scraped = await one.scrape()

    assert value(scraped, "minibase_http_requests_total", **OK) == 3
    assert buckets(scraped, **OK)[0] == 3
    assert (
        value(scraped, "minibase_realtime_connections") == 2
    )  # only the running worker's sockets are open


async def test_totals_never_go_backwards_whichever_worker_answers_the_next_scrape(
    folder: Path, elsewhere: subprocess.Popen[bytes]
) -> None:
    one, two = Worker(folder), Worker(folder, pid=elsewhere.pid)
    for _ in range(5):
        one.requests.observe(RECORDS, "GET", 200, 0.003)
    assert value(await one.scrape(), "minibase_http_requests_total", **OK) == 5
    # the next scrape reaches the other worker before one's background publish: it still sees
    # what the last scrape reported (a counter that drops is a reset to Prometheus)
    assert value(await two.scrape(), "minibase_http_requests_total", **OK) == 5
    two.requests.observe(RECORDS, "GET", 200, 0.003)
    assert value(await two.scrape(), "minibase_http_requests_total", **OK) == 6
    assert value(await one.scrape(), "minibase_http_requests_total", **OK) == 6


async def test_a_worker_publishes_in_the_background_only_when_its_numbers_changed(
    folder: Path, elsewhere: subprocess.Popen[bytes]
) -> None:
    one, two = Worker(folder), Worker(folder, pid=elsewhere.pid)
    two.shared.start()
    try:
        two.requests.observe(RECORDS, "GET", 200, 0.003)
        deadline = time.monotonic() + 5
        while value(await one.scrape(), "minibase_http_requests_total", **OK) != 1:
            assert time.monotonic() < deadline, "the background publish never landed"
            await asyncio.sleep(0.1)
        written = two.shared.path.stat().st_mtime_ns
        await asyncio.sleep(1.5)  # a publish period passes with nothing new
        assert two.shared.path.stat().st_mtime_ns == written
    finally:
        await two.shared.stop()


async def test_a_broken_file_does_not_break_a_scrape_and_is_logged_once(
    folder: Path, elsewhere: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    one, two = Worker(folder), Worker(folder, pid=elsewhere.pid)
    two.requests.observe(RECORDS, "GET", 200, 0.003)
    await two.shared.publish()
    (folder / "1-garbage.json").write_bytes(b'{"format": 1, "requests": [[')
    (folder / "2-foreign.json").write_text('{"format": 1, "requests": [["/", "GET", "2xx", [1]]]}')
    one.requests.observe(RECORDS, "GET", 200, 0.003)

    with caplog.at_level(logging.WARNING, logger="minibase.metrics"):
        for _ in range(2):
            assert value(await one.scrape(), "minibase_http_requests_total", **OK) == 2
        two.shared.path.write_bytes(b"{")  # a worker's file that was good: its last counts stay
        for _ in range(2):
            assert value(await one.scrape(), "minibase_http_requests_total", **OK) == 2

    skipped = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(skipped) == 3, skipped
    assert all(
        name in " ".join(skipped) for name in ("1-garbage", "2-foreign", two.shared.path.name)
    )
