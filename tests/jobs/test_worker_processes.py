"""Several worker processes on one database: each job runs exactly once, and a worker killed
with SIGKILL loses no job (another takes it over once the lease runs out)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from minibase.clock import SystemClock
from minibase.ids import IdGenerator
from minibase.jobs import Job, JobQueue, JobState, JobWorker
from minibase.services import Services

SCRIPT = Path(__file__).with_name("worker_process.py")


class WorkerProcess:
    """tests/jobs/worker_process.py running against the test's database."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log
        self.lines: list[str] = []
        self.worker_id = ""

    @classmethod
    async def start(
        cls, location: str, log: Path, *, lease_seconds: float = 10.0, concurrency: int = 4
    ) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            location,
            str(lease_seconds),
            str(concurrency),
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("w"),
        )
        worker = cls(process, log)
        ready = await worker.read_until(lambda line: line.startswith("ready "))
        worker.worker_id = ready.split(" ", 1)[1]
        return worker

    async def read_until(self, wanted: Callable[[str], bool]) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(20):
            while True:
                line = (await self.process.stdout.readline()).decode().strip()
                if not line:
                    raise AssertionError(f"worker exited; its log:\n{self.log.read_text()}")
                self.lines.append(line)
                if wanted(line):
                    return line

    async def stop(self) -> None:
        """SIGTERM, so that it finishes its jobs; keeps what it printed."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(self.process.communicate(), 20)
        self.lines += out.decode().split()


def _location(services: Services) -> str:
    return services.settings.database_url or str(services.settings.sqlite_path)


def _real_time_queue(services: Services) -> JobQueue:
    """The worker processes run on the system clock; so does this queue."""
    clock = SystemClock()
    return JobQueue(services.db, clock, IdGenerator(clock))


async def test_two_worker_processes_run_each_of_300_jobs_exactly_once(
    services: Services, tmp_path: Path
) -> None:
    queue = _real_time_queue(services)
    async with services.db.transaction() as conn:
        await conn.execute("CREATE TABLE done (job_id TEXT PRIMARY KEY)")
    location = _location(services)
    workers = [await WorkerProcess.start(location, tmp_path / f"w{i}.log") for i in range(2)]
    try:
        async with services.db.transaction() as conn:
            jobs = [await queue.enqueue("record", {"i": i}, conn=conn) for i in range(300)]
        deadline = time.monotonic() + 20
        while (counts := await queue.counts())["succeeded"] < 300:
            assert time.monotonic() < deadline, f"not all jobs succeeded in time: {counts}"
            await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            await worker.stop()

    assert [line for w in workers for line in w.lines if line.startswith("duplicate")] == []
    done = await services.db.fetch_all("SELECT job_id FROM done")
    assert sorted(row[0] for row in done) == sorted(job.id for job in jobs)
    rows = await services.db.fetch_all("SELECT state, attempts, worker FROM jobs")
    assert {(row[0], row[1]) for row in rows} == {("succeeded", 1)}
    assert {row[2] for row in rows} == {w.worker_id for w in workers}, "both processes worked"


async def test_job_of_a_killed_worker_is_taken_over_after_its_lease_and_finished_once(
    services: Services, tmp_path: Path
) -> None:
    queue = _real_time_queue(services)
    async with services.db.transaction() as conn:
        await conn.execute("CREATE TABLE done (job_id TEXT PRIMARY KEY)")
        await conn.execute("CREATE TABLE started (job_id TEXT PRIMARY KEY)")
    finished = await queue.enqueue("record")
    slow = await queue.enqueue("slow")
    doomed = await WorkerProcess.start(
        _location(services), tmp_path / "doomed.log", lease_seconds=2.0, concurrency=1
    )
    await doomed.read_until(lambda line: line == f"started {slow.id}")
    os.kill(doomed.process.pid, signal.SIGKILL)
    await doomed.process.wait()

    left = await queue.get(slow.id)
    assert left is not None
    assert left.lease_until is not None
    assert (left.state, left.worker, left.attempts) == (JobState.RUNNING, doomed.worker_id, 1)
    ran: list[str] = []

    async def handler(job: Job) -> None:
        ran.append(job.name)

    rescuer = JobWorker(queue, lambda name: handler, lease_seconds=2.0)
    assert await rescuer.run_until_idle() == 0, "the lease still holds"
    await asyncio.sleep((left.lease_until - SystemClock().now()).total_seconds() + 0.05)
    assert await rescuer.run_until_idle() == 1
    assert ran == ["slow"], "the job that had succeeded did not run again"

    taken_over = await queue.get(slow.id)
    assert taken_over is not None
    assert (taken_over.state, taken_over.attempts) == (JobState.SUCCEEDED, 2)
    assert taken_over.last_error == f"lease expired on worker {doomed.worker_id} during attempt 1"
    assert await services.db.fetch_value("SELECT COUNT(*) FROM started") == 1
    assert await services.db.fetch_all("SELECT job_id FROM done") == [(finished.id,)]
